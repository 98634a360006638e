//! `hyperctl` against moto: add an AWS connection (access key into the
//! keyring, two regions, the endpoint pointed at moto), list its instances
//! as a table and as JSON, and test it.

mod common;
#[path = "../../hypersdk-aws/tests/support/moto.rs"]
mod moto;

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use common::{hyperctl, ok};
use serde_json::Value;

async fn run(m: &moto::Moto, region: &str, name: &str) -> String {
    let answer = m
        .ec2(region)
        .await
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from("t3.small"))
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("Name").value(name).build())
                .build(),
        )
        .send()
        .await
        .expect("RunInstances");
    answer.instances()[0].instance_id().expect("id").to_owned()
}

#[test]
fn add_list_and_test_an_aws_connection() {
    let m = moto::Moto::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let east = rt.block_on(run(&m, "us-east-1", "web01"));
    let west = rt.block_on(run(&m, "eu-west-1", "app01"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");

    // Tested before it is saved (what a terminal gets by default; --test asks for it here).
    ok(&hyperctl(
        &data,
        &[
            "connection",
            "add",
            "--kind",
            "aws",
            "--name",
            "moto",
            "--endpoint",
            &m.endpoint,
            "--username",
            "testing",
            "--password-stdin",
            "--option",
            "regions=us-east-1,eu-west-1",
            "--test",
        ],
        Some("testing-secret"),
    ));
    // An endpoint nobody listens on fails its test and is not saved...
    let dead = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port()
    );
    let add_dead = |extra: &[&str]| {
        let mut args = vec![
            "connection",
            "add",
            "--kind",
            "aws",
            "--name",
            "down",
            "--endpoint",
            &dead,
            "--username",
            "testing",
            "--password-stdin",
            "--option",
            "regions=us-east-1",
            "--test",
        ];
        args.extend_from_slice(extra);
        hyperctl(&data, &args, Some("testing-secret"))
    };
    let refused = add_dead(&[]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("FAIL") && err.contains("[connection_test_failed]"),
        "{err}"
    );
    let names = ok(&hyperctl(&data, &["--json", "connection", "list"], None));
    assert!(!names.contains("\"down\""), "{names}");
    // ...unless the user says to keep it as it is.
    ok(&add_dead(&["--save-anyway"]));
    ok(&hyperctl(&data, &["connection", "remove", "down"], None));

    // On a terminal (util-linux `script` gives it one) the test runs unasked, and a failure asks.
    let on_a_terminal = |name: &str, answers: &str| {
        let command = format!(
            "{} connection add --kind aws --name {name} --endpoint {dead} --username testing \
             --option regions=us-east-1",
            env!("CARGO_BIN_EXE_hyperctl")
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("HYPERSDK_DATA_DIR", &data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script (util-linux)");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answers.as_bytes())
            .expect("answers");
        let out = child.wait_with_output().expect("script output");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The secret access key at its prompt, then the answer to "Save it anyway?".
    let declined = on_a_terminal("asked-no", "secret\nn\n");
    assert!(
        declined.contains("Save it anyway? [y/N]") && declined.contains("was not saved"),
        "{declined}"
    );
    let accepted = on_a_terminal("asked-yes", "secret\ny\n");
    assert!(
        accepted.contains("Added connection \"asked-yes\""),
        "{accepted}"
    );
    let names = ok(&hyperctl(&data, &["--json", "connection", "list"], None));
    assert!(
        names.contains("\"asked-yes\"") && !names.contains("\"asked-no\""),
        "{names}"
    );
    let listed: Value = serde_json::from_str(&ok(&hyperctl(
        &data,
        &["--json", "vms", "list", "--connection", "moto"],
        None,
    )))
    .expect("json");
    let mut ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["id"].as_str().expect("id"))
        .collect();
    ids.sort_unstable();
    let mut want = vec![east.as_str(), west.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "{listed}");
    let web = listed
        .as_array()
        .expect("array")
        .iter()
        .find(|v| v["id"] == east.as_str())
        .expect("web01");
    assert_eq!(web["name"], "web01");
    assert_eq!(web["storage"], serde_json::json!(["gp2"]));
    assert_eq!(web["memory_mib"], 2048, "t3.small");

    let table = ok(&hyperctl(
        &data,
        &["vms", "list", "--connection", "moto"],
        None,
    ));
    assert!(
        table.contains("web01") && table.contains("app01"),
        "{table}"
    );
    assert!(table.contains("2 VM"), "{table}");

    let tested = ok(&hyperctl(&data, &["connection", "test", "moto"], None));
    assert!(tested.contains("2 instance(s) in 2 region(s)"), "{tested}");
    // The secret went to the keyring, not the database or the output.
    assert!(!tested.contains("testing-secret"), "{tested}");
}
