//! The provider against fakepve: discovery of a two-node cluster, both ways
//! of signing in, certificate trust and PVE's refusals mapped to the core's
//! codes.

#[path = "support/fakepve.rs"]
mod fakepve;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use hypersdk_core::CoreError;
use hypersdk_core::model::{
    Connection, PowerState, ProviderKind, Secret, Secrets, VmFilter, VmInfo,
};
use hypersdk_core::providers::{Provider, ProviderFactory};
use hypersdk_core::tls::Fingerprint;
use hypersdk_proxmox::api::{ApiClient, Credentials, Timeouts};
use hypersdk_proxmox::{ProxmoxError, ProxmoxFactory, ProxmoxProvider, ProxmoxSettings};
use tokio_util::sync::CancellationToken;

use fakepve::{FakePve, TOKEN_ID, TOKEN_SECRET};

fn connection(pve: &FakePve, user: &str, pin: Option<&str>) -> Connection {
    Connection {
        id: "c-pve".into(),
        kind: ProviderKind::Proxmox,
        name: "Lab PVE".into(),
        endpoint: pve.endpoint.clone(),
        username: user.into(),
        options: BTreeMap::new(),
        has_secret: true,
        secret_options: Vec::new(),
        tls_fingerprint: pin.map(str::to_owned),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn provider(pve: &FakePve, user: &str, secret: &str) -> ProxmoxProvider {
    ProxmoxProvider::new(
        &connection(pve, user, Some(&pve.fingerprint)),
        Secrets::main(secret),
        ProxmoxSettings::default(),
    )
    .expect("provider")
}

async fn all_vms(p: &dyn Provider) -> Vec<VmInfo> {
    let cancel = CancellationToken::new();
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = p
            .list_vms(&VmFilter::default(), cursor.take(), &cancel)
            .await
            .expect("list_vms");
        out.extend(page.vms);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_equals_cluster_resources_on_every_node() {
    let pve = FakePve::lab();
    let p = provider(&pve, TOKEN_ID, TOKEN_SECRET);
    let vms = all_vms(&p).await;

    // The independent view: what fakepve itself serves for the cluster.
    let raw = pve.raw_get("/cluster/resources?type=vm").await;
    let expected: BTreeSet<(String, String)> = raw
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["vmid"].as_u64().expect("vmid").to_string(),
                r["node"].as_str().expect("node").to_owned(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String)> = vms
        .iter()
        .map(|v| (v.id.clone(), v.host.clone().expect("node")))
        .collect();
    assert_eq!(got, expected);
    let nodes: BTreeSet<&str> = vms.iter().filter_map(|v| v.host.as_deref()).collect();
    assert_eq!(nodes, BTreeSet::from(["pve1", "pve2"]));

    let by_id: BTreeMap<&str, &VmInfo> = vms.iter().map(|v| (v.id.as_str(), v)).collect();
    let web = by_id["100"];
    assert_eq!(web.path, "/lab/pve1/prod/web01");
    assert_eq!(web.datacenter.as_deref(), Some("lab"));
    assert_eq!(web.resource_pool.as_deref(), Some("prod"));
    assert_eq!(web.power_state, PowerState::PoweredOn);
    assert_eq!(web.cpus, 4, "2 cores × 2 sockets");
    assert_eq!(web.memory_mib, 4096);
    assert_eq!(web.disks, 2, "the CD-ROM is not a disk");
    assert_eq!(web.nics, 1);
    // The storages of its disks (the CD-ROM's `local` is not one), sorted, each once.
    assert_eq!(web.storage, ["ceph-ssd", "local-lvm"]);
    assert_eq!(web.tags, vec!["prod".to_owned(), "web".to_owned()]);
    assert!(web.guest_os.contains("Linux"), "{}", web.guest_os);
    assert_eq!(web.not_exportable, None);

    let db = by_id["101"];
    assert_eq!(db.path, "/lab/pve2/db01");
    assert_eq!(db.power_state, PowerState::PoweredOff);
    assert_eq!((db.cpus, db.memory_mib, db.disks, db.nics), (4, 8192, 1, 2));
    assert!(db.guest_os.contains("Windows"), "{}", db.guest_os);

    // The same name twice (different nodes here) keeps distinct paths.
    assert_eq!(by_id["102"].path, "/lab/pve2/web01");

    // A container is listed, with the reason it cannot be exported.
    let ct = by_id["200"];
    assert!(
        ct.not_exportable
            .as_deref()
            .is_some_and(|r| r.contains("LXC"))
    );

    // get_vm answers by vmid, and a vmid that does not exist is not_found.
    let cancel = CancellationToken::new();
    assert_eq!(p.get_vm("101", &cancel).await.expect("get_vm").name, "db01");
    for missing in ["999", "../100", "100; reboot"] {
        let err = p.get_vm(missing, &cancel).await.expect_err("missing");
        assert_eq!(err.code(), "not_found", "{missing}: {err}");
    }
}

/// A large cluster's VMs come with the listing alone, their configs read behind it: the first
/// answer's rows say `details_pending`, and listing again shortly gives them whole. A small
/// cluster (the lab's) waits for its configs and is whole at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_cluster_is_listed_first_and_its_details_follow() {
    let mut scenario = fakepve::lab_scenario();
    scenario["generate"] = serde_json::json!({"count": 300, "nodes": 3});
    let pve = FakePve::start(scenario);
    let p = provider(&pve, TOKEN_ID, TOKEN_SECRET);
    let first = all_vms(&p).await;
    assert_eq!(first.len(), 304);
    let pending = first.iter().filter(|v| v.details_pending).count();
    assert_eq!(
        pending, 303,
        "every QEMU VM waits for its config, not the container"
    );
    let generated = first.iter().find(|v| v.id == "1001").expect("VM 1001");
    assert_eq!((generated.disks, generated.guest_os.as_str()), (0, ""));
    // The listing's own columns are there already.
    assert_eq!(generated.cpus, 2);

    let started = std::time::Instant::now();
    let whole = loop {
        let vms = all_vms(&p).await;
        if !vms.iter().any(|v| v.details_pending) {
            break vms;
        }
        assert!(started.elapsed().as_secs() < 30, "the details never came");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let generated = whole.iter().find(|v| v.id == "1001").expect("VM 1001");
    assert_eq!((generated.disks, generated.nics), (1, 1));
    assert!(!generated.guest_os.is_empty());
    let ids = |vms: &[VmInfo]| vms.iter().map(|v| v.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&whole), "the same rows, in the same order");

    // Asked again, the cluster is read again (a refresh is a refresh).
    let again = all_vms(&p).await;
    assert!(again.iter().any(|v| v.details_pending));

    let small = FakePve::lab();
    let p = provider(&small, TOKEN_ID, TOKEN_SECRET);
    assert!(!all_vms(&p).await.iter().any(|v| v.details_pending));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_signs_in_with_a_ticket() {
    let pve = FakePve::lab();
    let p = provider(&pve, "ops@pve", "ops-password");
    let checks = p
        .validate(&CancellationToken::new())
        .await
        .expect("validate");
    assert!(checks[..3].iter().all(|c| c.ok), "{checks:?}");
    // No SSH login saved: the data path says what to set (the SSH tests cover the rest).
    assert!(
        !checks[3].ok && checks[3].detail.contains("no SSH private key"),
        "{checks:?}"
    );
    assert!(
        checks[1].detail.contains("ops@pve (password)"),
        "{checks:?}"
    );
    assert!(checks[2].detail.contains("on 2 node(s)"), "{checks:?}");
    assert_eq!(all_vms(&p).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_auth_failed() {
    let pve = FakePve::lab();
    let cancel = CancellationToken::new();
    for (user, secret) in [
        (TOKEN_ID, "00000000-0000-0000-0000-000000000000"),
        ("ci@pve!other", TOKEN_SECRET),
        ("ops@pve", "wrong"),
    ] {
        let p = provider(&pve, user, secret);
        let err = p
            .list_vms(&VmFilter::default(), None, &cancel)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "auth_failed", "{user}: {err}");
        assert!(err.to_string().contains(user), "{err}");
        let checks = p.validate(&cancel).await.expect("validate");
        assert!(checks[0].ok, "the certificate is fine: {checks:?}");
        assert!(
            !checks[1].ok && checks[1].detail.contains(user),
            "{checks:?}"
        );
        assert_eq!(checks[1].code.as_deref(), Some("auth_failed"), "{checks:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpinned_certificate_is_shown_and_a_changed_one_refused() {
    let pve = FakePve::lab();
    let cancel = CancellationToken::new();
    let factory = ProxmoxFactory::new(ProxmoxSettings::default());

    // First contact: not trusted by the system, fingerprint offered.
    let fresh = factory
        .connect(
            &connection(&pve, TOKEN_ID, None),
            Secrets::main(TOKEN_SECRET),
        )
        .expect("connect");
    let err = fresh
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect_err("untrusted");
    let CoreError::CertificateUntrusted { fingerprint, .. } = &err else {
        panic!("expected certificate_untrusted, got {err:?}");
    };
    let shown = Fingerprint::parse(fingerprint).expect("fingerprint");
    assert_eq!(
        shown,
        Fingerprint::parse(&pve.fingerprint).expect("peer fp")
    );
    let checks = fresh.validate(&cancel).await.expect("validate");
    assert!(!checks[0].ok);
    assert_eq!(checks[0].fingerprint.as_deref(), Some(fingerprint.as_str()));

    // Pinned: works. The factory builds a new provider for the edited connection.
    let mut pinned = connection(&pve, TOKEN_ID, Some(fingerprint));
    pinned.updated_at = Utc::now();
    let ok = factory
        .connect(&pinned, Secrets::main(TOKEN_SECRET))
        .expect("connect");
    assert_eq!(all_vms(ok.as_ref()).await.len(), 4);

    // Another certificate than the pinned one: refused, naming both.
    let other = "ab".repeat(32);
    let changed = factory
        .connect(
            &connection(&pve, TOKEN_ID, Some(&other)),
            Secrets::main(TOKEN_SECRET),
        )
        .expect("connect");
    let err = changed
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect_err("changed");
    assert_eq!(err.code(), "certificate_changed", "{err}");
    let text = err.to_string();
    assert!(text.contains(&shown.to_colon_hex()), "{text}");
    assert!(
        text.contains(&Fingerprint::parse(&other).expect("fp").to_colon_hex()),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_privilege_is_named() {
    let mut scenario = fakepve::lab_scenario();
    scenario["users"]["audit@pve"] = "pw".into();
    // VM.Audit on VM 100 only; PVE (and fakepve) hide the others from
    // /cluster/resources and refuse their config with the privilege named.
    scenario["grants"]
        .as_array_mut()
        .expect("grants")
        .push(serde_json::json!(["audit@pve", "/vms/100", "VM.Audit"]));
    let pve = FakePve::start(scenario);
    let p = provider(&pve, "audit@pve", "pw");
    let vms = all_vms(&p).await;
    assert_eq!(
        vms.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["100"]
    );

    let api = ApiClient::new(
        &pve.endpoint,
        Some(Fingerprint::parse(&pve.fingerprint).expect("fp")),
        Credentials::from_login("audit@pve", Secret::new("pw")),
        Timeouts::default(),
    )
    .expect("client");
    let err = api
        .get::<serde_json::Value>("/nodes/pve2/qemu/101/config")
        .await
        .expect_err("denied");
    let ProxmoxError::PermissionDenied { privilege, .. } = &err else {
        panic!("expected permission_denied, got {err:?}");
    };
    assert_eq!(privilege.as_deref(), Some("VM.Audit on /vms/101"));
    assert!(
        err.to_string()
            .contains("audit@pve lacks the privilege VM.Audit on /vms/101"),
        "{err}"
    );
    assert_eq!(CoreError::from(err).code(), "permission_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_said_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let conn = Connection {
        endpoint: format!("https://127.0.0.1:{port}"),
        ..connection(&FakePve::lab(), TOKEN_ID, None)
    };
    let p = ProxmoxProvider::new(
        &conn,
        Secrets::main(TOKEN_SECRET),
        ProxmoxSettings::default(),
    )
    .expect("provider");
    let err = p
        .list_vms(&VmFilter::default(), None, &CancellationToken::new())
        .await
        .expect_err("unreachable");
    assert_eq!(err.code(), "unreachable", "{err}");
}
