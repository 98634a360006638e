//! Discovery against moto: what the provider lists equals what moto holds,
//! across two regions, with sizes, types and names.

mod support;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use hypersdk_aws::{AwsProvider, AwsSettings, settings::Credentials};
use hypersdk_core::model::{PowerState, Secret, VmFilter, VmInfo};
use hypersdk_core::providers::Provider;
use support::moto::Moto;
use tokio_util::sync::CancellationToken;

fn provider(moto: &Moto, regions: &[&str]) -> AwsProvider {
    AwsProvider::new(AwsSettings {
        credentials: Credentials::Static {
            access_key_id: "testing".into(),
            secret_access_key: Secret::new("testing"),
            session_token: None,
        },
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        endpoint: Some(moto.endpoint.clone()),
    })
}

/// Starts `count` instances named `name` of `kind` in `region`; their ids.
async fn run(moto: &Moto, region: &str, name: &str, kind: &str) -> String {
    let answer = moto
        .ec2(region)
        .await
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::from(kind))
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("Name").value(name).build())
                .tags(Tag::builder().key("team").value("ops").build())
                .build(),
        )
        .send()
        .await
        .expect("RunInstances");
    answer.instances()[0]
        .instance_id()
        .expect("instance id")
        .to_owned()
}

async fn all_vms(p: &AwsProvider) -> Vec<VmInfo> {
    p.list_vms(&VmFilter::default(), None, &CancellationToken::new())
        .await
        .expect("list_vms")
        .vms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_equals_motos_instances_in_every_region() {
    let moto = Moto::start();
    let web = run(&moto, "us-east-1", "web01", "t3.large").await;
    let db = run(&moto, "us-east-1", "db01", "m5.xlarge").await;
    let app = run(&moto, "eu-west-1", "app01", "t3.micro").await;
    let gone = run(&moto, "eu-west-1", "gone", "t3.micro").await;
    moto.ec2("eu-west-1")
        .await
        .terminate_instances()
        .instance_ids(&gone)
        .send()
        .await
        .expect("TerminateInstances");

    let p = provider(&moto, &["us-east-1", "eu-west-1"]);
    let vms = all_vms(&p).await;
    let by_id: BTreeMap<&str, &VmInfo> = vms.iter().map(|v| (v.id.as_str(), v)).collect();
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        {
            let mut ids = vec![web.as_str(), db.as_str(), app.as_str()];
            ids.sort();
            ids
        },
        "every instance of both regions, the terminated one left out"
    );

    // The independent view: moto's own answer for the instance.
    let raw = moto
        .ec2("us-east-1")
        .await
        .describe_instances()
        .instance_ids(&web)
        .send()
        .await
        .expect("DescribeInstances");
    let raw = &raw.reservations()[0].instances()[0];
    let vm = by_id[web.as_str()];
    assert_eq!(vm.name, "web01");
    assert_eq!(
        vm.path,
        format!(
            "/us-east-1/{}/{}/web01",
            raw.vpc_id().expect("vpc"),
            raw.placement()
                .and_then(|p| p.availability_zone())
                .expect("zone")
        )
    );
    assert_eq!(vm.datacenter.as_deref(), Some("us-east-1"));
    assert_eq!(vm.power_state, PowerState::PoweredOn);
    // t3.large: 2 vCPUs, 8 GiB (moto's instance type data, as AWS's).
    assert_eq!((vm.cpus, vm.memory_mib), (2, 8192));
    assert_eq!(vm.disks, 1, "moto's root volume");
    assert_eq!(vm.disk_capacity_bytes, Some(8 << 30));
    assert_eq!(vm.storage, ["gp2"]);
    assert_eq!(vm.nics as usize, raw.network_interfaces().len());
    assert_eq!(vm.tags, ["team=ops"]);
    assert!(
        vm.not_exportable.is_some(),
        "export is not there yet, and says so"
    );
    let m5 = by_id[db.as_str()];
    assert_eq!((m5.cpus, m5.memory_mib), (4, 16384));

    // get_vm reads one instance and agrees with the listing.
    let cancel = CancellationToken::new();
    assert_eq!(
        &p.get_vm(&app, &cancel).await.expect("get_vm"),
        by_id[app.as_str()]
    );
    let fresh = provider(&moto, &["us-east-1", "eu-west-1"]);
    assert_eq!(
        &fresh
            .get_vm(&app, &cancel)
            .await
            .expect("get_vm, no listing first"),
        by_id[app.as_str()]
    );
    for missing in ["i-0123456789abcdef0", "../etc/passwd", ""] {
        let e = fresh.get_vm(missing, &cancel).await.expect_err(missing);
        assert_eq!(e.code(), "not_found", "{missing}: {e}");
    }

    // Every enabled region when the connection names none (moto lists them all).
    let everywhere = provider(&moto, &[]);
    let mut ids: Vec<String> = all_vms(&everywhere)
        .await
        .into_iter()
        .map(|v| v.id)
        .collect();
    ids.sort();
    let mut want: Vec<String> = by_id.keys().map(|k| (*k).to_owned()).collect();
    want.sort();
    assert_eq!(ids, want);

    let checks = p.validate(&cancel).await.expect("validate");
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Sign in", "Inventory readable"], "{checks:?}");
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    // GetCallerIdentity names the identity; moto's account is 123456789012.
    assert!(
        checks[0].detail.contains("account 123456789012"),
        "{checks:?}"
    );
    assert!(
        checks[1].detail.contains("3 instance(s) in 2 region(s)"),
        "{checks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_nobody_listens_on_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let p = AwsProvider::new(AwsSettings {
        credentials: Credentials::Static {
            access_key_id: "testing".into(),
            secret_access_key: Secret::new("testing"),
            session_token: None,
        },
        regions: vec!["us-east-1".into()],
        endpoint: Some(format!("http://127.0.0.1:{port}")),
    });
    let e = p
        .list_vms(&VmFilter::default(), None, &CancellationToken::new())
        .await
        .expect_err("nobody listens");
    assert_eq!(e.code(), "unreachable", "{e}");
    // In words: the SDK's Debug text (`DispatchFailure { source: … }`) is not for users.
    assert!(
        e.to_string().contains("Connection refused") && !e.to_string().contains('{'),
        "{e}"
    );
    let checks = p.validate(&CancellationToken::new()).await.expect("checks");
    assert!(!checks[0].ok && !checks[0].skipped, "{checks:?}");
    assert_eq!(checks[0].code.as_deref(), Some("unreachable"), "{checks:?}");
    assert!(checks[1].skipped, "{checks:?}");
}
