//! Connections against the real OS keyring (Secret Service). Run inside a
//! D-Bus session with an unlocked gnome-keyring, as `scripts/test.sh` does;
//! `secret-tool` (a separate process, libsecret) is the independent judge of
//! what the keyring really holds.

use std::collections::BTreeMap;
use std::process::Command;

use hypersdk_core::model::{
    ConnectionInput, ConnectionTestResult, ProviderKind, Secret, TestCheck,
};
use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::secrets::KEYRING_SERVICE;
use hypersdk_core::{Core, Paths};

fn secret_tool_lookup(connection_id: &str) -> Option<String> {
    secret_tool_lookup_account(&format!("connection:{connection_id}"))
}

fn input(name: &str, secret: Option<&str>) -> ConnectionInput {
    ConnectionInput {
        kind: ProviderKind::Vsphere,
        name: name.into(),
        endpoint: "vcenter.example.com".into(),
        username: "administrator@vsphere.local".into(),
        secret: secret.map(Secret::new),
        secret_options: Default::default(),
        options: BTreeMap::from([("datacenter".into(), "DC1".into())]),
        tls_fingerprint: None,
    }
}

fn bytes_of_dir_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[tokio::test]
async fn secret_goes_to_the_keyring_and_nowhere_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let password = format!("pw-{}-Zq9!", uuid_like());
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");

    let conn = core
        .add_connection(input("prod vCenter", Some(&password)))
        .await
        .expect("add");
    assert!(conn.has_secret);
    assert_eq!(conn.endpoint, "https://vcenter.example.com");
    assert_eq!(
        secret_tool_lookup(&conn.id).as_deref(),
        Some(password.as_str())
    );

    // Nothing under the data dir — database, WAL, logs — holds the password.
    drop(core);
    let hits = bytes_of_dir_contain(dir.path(), password.as_bytes());
    assert!(hits.is_empty(), "password found in {hits:?}");

    // Reopen: still there, edit without a secret keeps it, with one replaces it.
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("reopen");
    let listed = core.list_connections().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, conn.id);

    let mut edit = input("prod vCenter (renamed)", None);
    edit.endpoint = "vcenter2.example.com:8443".into();
    let edited = core.update_connection(&conn.id, edit).await.expect("edit");
    assert!(edited.has_secret);
    assert_eq!(edited.endpoint, "https://vcenter2.example.com:8443");
    assert_eq!(
        secret_tool_lookup(&conn.id).as_deref(),
        Some(password.as_str())
    );

    // A pinned certificate is kept, normalised, and can be cleared again.
    let mut pinned = input("prod vCenter (renamed)", None);
    pinned.tls_fingerprint = Some(vec!["0F"; 32].join(":"));
    let edited = core.update_connection(&conn.id, pinned).await.expect("pin");
    assert_eq!(
        edited.tls_fingerprint.as_deref(),
        Some("0f".repeat(32).as_str())
    );
    let reread = core.connection(&conn.id).await.expect("reread");
    assert_eq!(reread.tls_fingerprint, edited.tls_fingerprint);

    let edited = core
        .update_connection(&conn.id, input("prod vCenter (renamed)", Some("second-pw")))
        .await
        .expect("edit secret");
    assert!(edited.has_secret);
    assert_eq!(secret_tool_lookup(&conn.id).as_deref(), Some("second-pw"));
    assert_eq!(
        edited.tls_fingerprint, None,
        "an input without a pin clears it"
    );

    core.remove_connection("prod vCenter (renamed)")
        .await
        .expect("remove by name");
    assert_eq!(
        secret_tool_lookup(&conn.id),
        None,
        "keyring entry must be gone"
    );
    assert!(core.list_connections().await.expect("list").is_empty());
}

#[tokio::test]
async fn duplicate_names_are_refused_and_leave_no_secret_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");
    let first = core
        .add_connection(input("lab", Some("pw1")))
        .await
        .expect("add");
    let err = core
        .add_connection(input("LAB", Some("pw2")))
        .await
        .expect_err("case-insensitive duplicate");
    assert_eq!(err.code(), "connection_name_taken");
    assert_eq!(core.list_connections().await.expect("list").len(), 1);
    assert_eq!(secret_tool_lookup(&first.id).as_deref(), Some("pw1"));

    // Renaming another connection onto a taken name is refused too.
    let second = core
        .add_connection(input("lab2", None))
        .await
        .expect("add 2");
    assert!(!second.has_secret);
    let err = core
        .update_connection(&second.id, input("lab", None))
        .await
        .expect_err("rename onto taken");
    assert_eq!(err.code(), "connection_name_taken");

    for c in core.list_connections().await.expect("list") {
        core.remove_connection(&c.id).await.expect("cleanup");
    }
}

#[tokio::test]
async fn invalid_input_is_rejected_before_anything_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");
    let mut bad = input("bad", Some("pw"));
    bad.endpoint = "vc.example.com:99999".into();
    let err = core.add_connection(bad).await.expect_err("port");
    assert_eq!(err.code(), "invalid_endpoint");
    assert!(err.to_string().contains("1 to 65535"), "{err}");
    assert!(core.list_connections().await.expect("list").is_empty());
}

#[tokio::test]
async fn an_endpoint_and_username_may_be_empty_only_where_the_kind_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");
    let mut vsphere = input("vc", None);
    vsphere.endpoint = " ".into();
    let err = core
        .add_connection(vsphere)
        .await
        .expect_err("vSphere needs one");
    assert_eq!(err.code(), "invalid_endpoint");
    let mut nameless = input("vc", None);
    nameless.username = String::new();
    let err = core
        .add_connection(nameless)
        .await
        .expect_err("vSphere needs a user");
    assert_eq!(err.code(), "invalid_username");

    // AWS: its own endpoints, and the profile's credentials without a key.
    let mut aws = input("aws", None);
    aws.kind = ProviderKind::Aws;
    aws.endpoint = String::new();
    aws.username = String::new();
    aws.options = BTreeMap::from([("profile".into(), "work".into())]);
    let saved = core
        .add_connection(aws)
        .await
        .expect("AWS without endpoint or key");
    assert_eq!((saved.endpoint.as_str(), saved.username.as_str()), ("", ""));
    // Its test has no endpoint of its own to probe.
    let result = core.test_connection(&saved.id).await.expect("test");
    assert!(
        result.checks.iter().all(|c| c.name != "Endpoint reachable"),
        "{result:?}"
    );
    core.remove_connection(&saved.id).await.expect("cleanup");
}

#[tokio::test]
async fn test_reports_reachability_and_keyring_without_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");
    // A real listener on loopback stands in for the server's port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut up = input("up", Some("pw"));
    up.endpoint = format!("https://127.0.0.1:{port}");
    let up = core.add_connection(up).await.expect("add up");
    let result = core.test_connection(&up.id).await.expect("test");
    let by_name = |n: &str| result.checks.iter().find(|c| c.name == n).expect(n).clone();
    assert!(by_name("Endpoint reachable").ok, "{result:?}");
    assert!(by_name("Secret in OS keyring").ok, "{result:?}");
    // No vSphere provider in this build: said plainly, and the test is not "ok".
    assert!(!by_name("Sign in").ok);
    assert!(!result.ok);

    drop(listener);
    let result = core.test_connection("up").await.expect("test again");
    let reach = result
        .checks
        .iter()
        .find(|c| c.name == "Endpoint reachable")
        .expect("reach");
    assert!(!reach.ok);
    assert!(
        reach.detail.contains(&format!("127.0.0.1:{port}")),
        "{reach:?}"
    );
    core.remove_connection(&up.id).await.expect("cleanup");
}

#[tokio::test]
async fn a_form_is_tested_before_it_is_saved_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut form = input("unsaved", Some("pw-never-stored"));
    form.endpoint = format!("https://127.0.0.1:{port}");
    let result = core
        .test_connection_input(None, form.clone())
        .await
        .expect("test");
    let by_name = |n: &str| result.checks.iter().find(|c| c.name == n).expect(n).clone();
    assert!(by_name("Endpoint reachable").ok, "{result:?}");
    // No provider in this build: not run, and marked so rather than as a failure of its own.
    let sign_in = by_name("Sign in");
    assert!(!sign_in.ok && sign_in.skipped, "{sign_in:?}");
    assert!(!result.ok);
    assert!(core.list_connections().await.expect("list").is_empty());
    assert_eq!(secret_tool_lookup_account("unsaved"), None);

    drop(listener);
    let result = core
        .test_connection_input(None, form.clone())
        .await
        .expect("test");
    assert!(!by_name_in(&result, "Endpoint reachable").ok);

    // What saving would refuse is refused here too: an invalid field, a name in use.
    let mut bad = form.clone();
    bad.endpoint = "https://".into();
    let e = core
        .test_connection_input(None, bad)
        .await
        .expect_err("invalid");
    assert_eq!(e.code(), "invalid_endpoint", "{e}");
    let saved = core
        .add_connection(input("taken", None))
        .await
        .expect("add");
    let e = core
        .test_connection_input(None, input("taken", None))
        .await
        .expect_err("taken");
    assert_eq!(e.code(), "connection_name_taken", "{e}");
    // Editing a connection keeps its own name.
    core.test_connection_input(Some(&saved.id), input("taken", None))
        .await
        .expect("its own name");
    core.remove_connection(&saved.id).await.expect("cleanup");
}

fn by_name_in(result: &ConnectionTestResult, name: &str) -> TestCheck {
    result
        .checks
        .iter()
        .find(|c| c.name == name)
        .expect(name)
        .clone()
}

/// Unique enough per run without another dependency.
fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

fn secret_tool_lookup_account(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", KEYRING_SERVICE, "username", account])
        .output()
        .expect("secret-tool runs (apt libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn secret_options_go_to_the_keyring_one_entry_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nk-{}\n-----END OPENSSH PRIVATE KEY-----\n",
        uuid_like()
    );
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("open");
    let mut pve = ConnectionInput {
        kind: ProviderKind::Proxmox,
        endpoint: "https://pve.example.com:8006".into(),
        username: "ci@pve!export".into(),
        options: BTreeMap::from([("ssh_user".into(), "root".into())]),
        ..input("lab pve", Some("token-secret"))
    };
    pve.secret_options = BTreeMap::from([("ssh_key".into(), Secret::new(key.clone()))]);
    let conn = core.add_connection(pve.clone()).await.expect("add");
    assert_eq!(conn.secret_options, vec!["ssh_key".to_owned()]);
    let account = format!("connection:{}:ssh_key", conn.id);
    assert_eq!(
        secret_tool_lookup_account(&account).as_deref(),
        Some(key.as_str())
    );

    // Listed again after a reopen, and never in the data directory.
    drop(core);
    let hits = bytes_of_dir_contain(dir.path(), key.as_bytes());
    assert!(hits.is_empty(), "key found in {hits:?}");
    let core = Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("reopen");
    let again = core.connection(&conn.id).await.expect("find");
    assert_eq!(again.secret_options, vec!["ssh_key".to_owned()]);

    // An edit that leaves it out keeps it; an empty value removes it.
    let keep = ConnectionInput {
        secret: None,
        secret_options: BTreeMap::new(),
        ..pve.clone()
    };
    let kept = core.update_connection(&conn.id, keep).await.expect("edit");
    assert_eq!(kept.secret_options, vec!["ssh_key".to_owned()]);
    assert!(secret_tool_lookup_account(&account).is_some());
    let clear = ConnectionInput {
        secret: None,
        secret_options: BTreeMap::from([("ssh_key".into(), Secret::new(""))]),
        ..pve.clone()
    };
    let cleared = core
        .update_connection(&conn.id, clear)
        .await
        .expect("clear");
    assert!(cleared.secret_options.is_empty());
    assert_eq!(secret_tool_lookup_account(&account), None);

    // Unknown keys are refused naming the field, before anything is stored.
    let bad = ConnectionInput {
        name: "other".into(),
        secret_options: BTreeMap::from([("api_key".into(), Secret::new("x"))]),
        ..pve.clone()
    };
    let err = core.add_connection(bad).await.expect_err("unknown key");
    assert_eq!(err.field(), Some("secret_options"));

    // Removing the connection removes every entry.
    pve.name = "lab pve 2".into();
    let second = core.add_connection(pve).await.expect("add again");
    let account2 = format!("connection:{}:ssh_key", second.id);
    assert!(secret_tool_lookup_account(&account2).is_some());
    core.remove_connection(&second.id).await.expect("remove");
    assert_eq!(secret_tool_lookup_account(&account2), None);
    assert_eq!(secret_tool_lookup(&second.id), None);
    core.remove_connection(&conn.id).await.expect("remove");
}
