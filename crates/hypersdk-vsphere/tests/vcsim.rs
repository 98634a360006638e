//! Integration tests against govmomi's vcsim (see `tests/support`).
//! Each test starts its own simulator on a free port.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use hypersdk_core::model::{Connection, PowerState, ProviderKind, Secret, Secrets, VmFilter};
use hypersdk_core::providers::{Provider, ProviderFactory};
use hypersdk_vsphere::soap::{SoapClient, Timeouts};
use hypersdk_vsphere::{
    DeviceCounts, DiscoveryOptions, FolderNode, PoolConfig, VsphereError, VsphereFactory,
    VsphereProvider, VsphereSettings,
};
use support::Vcsim;
use tokio_util::sync::CancellationToken;

fn connection(sim: &Vcsim, pin: Option<String>) -> Connection {
    let now = chrono::Utc::now();
    Connection {
        id: format!("test-{}", sim.endpoint),
        kind: ProviderKind::Vsphere,
        name: "vcsim".into(),
        endpoint: sim.endpoint.clone(),
        username: sim.username.clone(),
        options: BTreeMap::new(),
        has_secret: true,
        secret_options: Vec::new(),
        tls_fingerprint: pin,
        created_at: now,
        updated_at: now,
    }
}

fn provider(sim: &Vcsim, pin: Option<String>, password: &str, pool: PoolConfig) -> VsphereProvider {
    VsphereProvider::new(
        &connection(sim, pin),
        Some(Secret::new(password)),
        VsphereSettings {
            pool,
            ..VsphereSettings::default()
        },
    )
    .expect("provider")
}

fn pinned(sim: &Vcsim) -> VsphereProvider {
    provider(
        sim,
        Some(sim.fingerprint()),
        &sim.password,
        PoolConfig::default(),
    )
}

fn all_folder_paths(node: &FolderNode, out: &mut BTreeSet<String>) {
    out.insert(node.path.clone());
    for f in &node.folders {
        all_folder_paths(f, out);
    }
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_returns_exactly_the_simulators_inventory() {
    // Two datacenters, one of them inside a datacenter folder (-folder 1),
    // each with a cluster of 2 hosts, a standalone host, a child resource
    // pool per compute resource and 3 VMs per pool.
    let sim = Vcsim::start(&[
        "-dc", "2", "-folder", "1", "-cluster", "1", "-host", "2", "-vm", "3", "-pool", "1",
    ]);
    let p = pinned(&sim);
    let inv = p.refresh_inventory().await.expect("discovery");

    // Against an independent client: govc's view of the same server.
    let govc_vms = lines(&sim.govc(&["find", "/", "-type", "m"]));
    let ours: BTreeSet<String> = inv.vms.iter().map(|v| v.path.clone()).collect();
    assert_eq!(ours, govc_vms, "VM paths");
    // 2 DCs × (cluster + standalone host) × 1 child pool × 3 VMs.
    assert_eq!(inv.vms.len(), 12);

    let dcs: BTreeSet<String> = inv.datacenters.iter().map(|d| d.path.clone()).collect();
    assert_eq!(dcs, lines(&sim.govc(&["find", "/", "-type", "d"])));
    assert!(
        dcs.contains("/F0/DC1"),
        "a datacenter inside a folder: {dcs:?}"
    );

    let mut vm_folders = BTreeSet::new();
    for dc in &inv.datacenters {
        all_folder_paths(&dc.vm_folder, &mut vm_folders);
    }
    let govc_vm_folders: BTreeSet<String> = lines(&sim.govc(&["find", "/", "-type", "f"]))
        .into_iter()
        .filter(|f| f.ends_with("/vm") || f.contains("/vm/"))
        .collect();
    assert_eq!(vm_folders, govc_vm_folders, "VM folders");

    let compute: BTreeSet<String> = inv
        .datacenters
        .iter()
        .flat_map(|d| d.compute.iter().map(|c| c.path.clone()))
        .collect();
    let clusters = lines(&sim.govc(&["find", "/", "-type", "c"]));
    assert!(clusters.is_subset(&compute), "{clusters:?} ⊂ {compute:?}");
    assert_eq!(
        compute.len(),
        4,
        "2 clusters + 2 standalone hosts: {compute:?}"
    );
    let hosts: BTreeSet<String> = inv
        .datacenters
        .iter()
        .flat_map(|d| {
            d.compute.iter().flat_map(|c| {
                c.hosts
                    .iter()
                    .map(move |h| format!("{}/{}", c.path, h.name))
            })
        })
        .collect();
    assert_eq!(
        hosts,
        lines(&sim.govc(&["find", "/", "-type", "h"])),
        "hosts"
    );
    let pools: BTreeSet<String> = inv
        .datacenters
        .iter()
        .flat_map(|d| d.resource_pools.iter().map(|p| p.path.clone()))
        .collect();
    assert_eq!(
        pools,
        lines(&sim.govc(&["find", "/", "-type", "p"])),
        "pools"
    );
    for dc in &inv.datacenters {
        assert_eq!(dc.vm_count, 6, "{}", dc.path);
        assert_eq!(dc.vm_folder.vm_count, 6, "{}", dc.path);
        let by_compute: u32 = dc.compute.iter().map(|c| c.vm_count).sum();
        assert_eq!(by_compute, 6, "every VM under a cluster or host");
        let by_host: u32 = dc
            .compute
            .iter()
            .flat_map(|c| c.hosts.iter().map(|h| h.vm_count))
            .sum();
        assert_eq!(by_host, 6, "every VM on a host");
    }

    // Row contents against govc's vm.info.
    let mut args = vec!["vm.info", "-json"];
    args.extend(govc_vms.iter().map(String::as_str));
    let info: serde_json::Value = serde_json::from_str(&sim.govc(&args)).expect("json");
    let govc_rows = info["virtualMachines"].as_array().expect("array");
    assert_eq!(govc_rows.len(), inv.vms.len());
    for g in govc_rows {
        let id = g["self"]["value"].as_str().expect("moref");
        let ours = inv.vms.iter().find(|v| v.id == id).expect("same ids");
        assert_eq!(ours.name, g["name"].as_str().expect("name"));
        let power = match g["runtime"]["powerState"].as_str().expect("power") {
            "poweredOn" => PowerState::PoweredOn,
            "poweredOff" => PowerState::PoweredOff,
            "suspended" => PowerState::Suspended,
            other => panic!("unexpected power state {other}"),
        };
        assert_eq!(ours.power_state, power, "{id}");
        let hw = &g["config"]["hardware"];
        assert_eq!(u64::from(ours.cpus), hw["numCPU"].as_u64().expect("cpus"));
        assert_eq!(ours.memory_mib, hw["memoryMB"].as_u64().expect("mem"));
        assert_eq!(
            ours.guest_os,
            g["config"]["guestFullName"].as_str().expect("guest")
        );
        let devices = hw["device"].as_array().expect("devices");
        let disks = devices
            .iter()
            .filter(|d| d.get("capacityInKB").is_some())
            .count();
        let nics = devices
            .iter()
            .filter(|d| d.get("macAddress").is_some())
            .count();
        assert_eq!(ours.disks as usize, disks, "{id} disks");
        assert_eq!(ours.nics as usize, nics, "{id} nics");
        assert!(
            ours.disks >= 1 && ours.nics >= 1,
            "vcsim VMs have a disk and a NIC"
        );
    }

    // Counting disks and NICs from the full device list gives the same rows
    // as the summary counters (the default).
    let with_devices = VsphereProvider::new(
        &connection(&sim, Some(sim.fingerprint())),
        Some(Secret::new(&sim.password)),
        VsphereSettings {
            discovery: DiscoveryOptions {
                device_counts: DeviceCounts::DeviceList,
                ..DiscoveryOptions::default()
            },
            ..VsphereSettings::default()
        },
    )
    .expect("provider");
    let inv2 = with_devices.refresh_inventory().await.expect("discovery");
    assert_eq!(inv2.vms, inv.vms);

    // Small pages: RetrievePropertiesEx + several ContinueRetrievePropertiesEx
    // (the next page fetched while the previous one is parsed) give the
    // same inventory as one big page.
    for page_size in [1, 7] {
        let paged = VsphereProvider::new(
            &connection(&sim, Some(sim.fingerprint())),
            Some(Secret::new(&sim.password)),
            VsphereSettings {
                discovery: DiscoveryOptions {
                    page_size,
                    ..DiscoveryOptions::default()
                },
                ..VsphereSettings::default()
            },
        )
        .expect("provider");
        let inv3 = paged.refresh_inventory().await.expect("paged discovery");
        assert_eq!(inv3, inv, "page size {page_size}");
    }

    // The Provider view: paging + filter + get_vm agree with the tree.
    let cancel = CancellationToken::new();
    let page = p
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect("list");
    assert_eq!(page.vms.len(), 12);
    assert!(page.next.is_none());
    let filtered = p
        .list_vms(
            &VmFilter {
                text: Some("f0/dc1".into()),
                power_state: None,
            },
            None,
            &cancel,
        )
        .await
        .expect("filtered");
    assert_eq!(filtered.vms.len(), 6);
    assert!(
        filtered
            .vms
            .iter()
            .all(|v| v.path.starts_with("/F0/DC1/vm/F0/"))
    );
    let one = &filtered.vms[0];
    let got = p.get_vm(&one.id, &cancel).await.expect("get_vm");
    // get_vm reads the datastores' names on its own (they are not ancestors).
    assert!(!got.storage.is_empty(), "{got:?}");
    assert_eq!(&got, one);
    let missing = p
        .get_vm("vm-does-not-exist", &cancel)
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datacenter_option_limits_discovery() {
    let sim = Vcsim::start(&["-dc", "2", "-cluster", "1", "-host", "1", "-vm", "1"]);
    let mut conn = connection(&sim, Some(sim.fingerprint()));
    conn.options.insert("datacenter".into(), "DC1".into());
    let p = VsphereProvider::new(
        &conn,
        Some(Secret::new(&sim.password)),
        VsphereSettings::default(),
    )
    .expect("provider");
    let inv = p.refresh_inventory().await.expect("discovery");
    assert_eq!(inv.datacenters.len(), 1);
    assert!(
        inv.vms.iter().all(|v| v.path.starts_with("/DC1/")),
        "{:?}",
        inv.vms
    );
    assert_eq!(inv.vms.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_auth_error() {
    let sim = Vcsim::start(&[]);
    let p = provider(
        &sim,
        Some(sim.fingerprint()),
        "not-the-password",
        PoolConfig::default(),
    );
    let cancel = CancellationToken::new();
    let err = p
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "auth_failed", "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
    let checks = p.validate(&cancel).await.expect("checks");
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["TLS certificate", "Sign in", "Inventory readable"]);
    assert!(checks[0].ok, "{checks:?}");
    assert!(
        !checks[1].ok && checks[1].detail.contains("not correct"),
        "{checks:?}"
    );
    // The code is what makes the window offer "Edit connection".
    assert_eq!(checks[1].code.as_deref(), Some("auth_failed"), "{checks:?}");
    assert!(!checks[2].ok && checks[2].skipped, "{checks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpinned_self_signed_certificate_is_refused_with_its_fingerprint() {
    let sim = Vcsim::start(&[]);
    let expected = sim.fingerprint();
    let p = provider(&sim, None, &sim.password, PoolConfig::default());
    let err = p.refresh_inventory().await.expect_err("untrusted");
    match &err {
        VsphereError::CertificateUntrusted { fingerprint, .. } => {
            assert_eq!(fingerprint.to_hex(), expected);
        }
        other => panic!("expected an untrusted certificate, got {other:?}"),
    }
    let cancel = CancellationToken::new();
    let core = p
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect_err("untrusted");
    assert_eq!(core.code(), "certificate_untrusted");
    let colon = hypersdk_vsphere::Fingerprint::parse(&expected)
        .expect("fp")
        .to_colon_hex();
    assert!(core.to_string().contains(&colon), "{core}");
    let checks = p.validate(&cancel).await.expect("checks");
    assert!(
        !checks[0].ok && checks[0].detail.contains(&colon),
        "{checks:?}"
    );
    assert!(checks[1].detail.starts_with("not checked"), "{checks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_certificate_is_trusted_and_another_pin_is_refused() {
    let sim = Vcsim::start(&[]);
    let cancel = CancellationToken::new();
    let ok = pinned(&sim);
    let checks = ok.validate(&cancel).await.expect("checks");
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    assert!(checks[0].detail.contains("pinned"), "{checks:?}");

    let wrong_pin = "ab".repeat(32);
    let p = provider(
        &sim,
        Some(wrong_pin.clone()),
        &sim.password,
        PoolConfig::default(),
    );
    match p.refresh_inventory().await.expect_err("changed") {
        VsphereError::CertificateChanged {
            expected, actual, ..
        } => {
            assert_eq!(expected.to_hex(), wrong_pin);
            assert_eq!(actual.to_hex(), sim.fingerprint());
        }
        other => panic!("expected a changed certificate, got {other:?}"),
    }
    let core = p
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect_err("refused");
    assert_eq!(core.code(), "certificate_changed");
    assert!(core.to_string().contains("changed"), "{core}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_certificate_changed_is_refused_until_re_pinned() {
    // The certificate the user pinned: vcsim's built-in one.
    let first = Vcsim::start(&[]);
    let old_pin = first.fingerprint();
    drop(first);
    // The "same server" comes back with a new self-signed certificate.
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (apt install openssl) makes the replacement certificate");
    assert!(status.success(), "openssl req failed");
    let cert_arg = cert.to_str().expect("utf-8 path").to_owned();
    let key_arg = key.to_str().expect("utf-8 path").to_owned();
    let sim = Vcsim::start(&["-tlscert", &cert_arg, "-tlskey", &key_arg]);
    let new_pin = sim.fingerprint();
    assert_ne!(old_pin, new_pin);

    let p = provider(&sim, Some(old_pin), &sim.password, PoolConfig::default());
    match p.refresh_inventory().await.expect_err("changed") {
        VsphereError::CertificateChanged { actual, .. } => assert_eq!(actual.to_hex(), new_pin),
        other => panic!("expected a changed certificate, got {other:?}"),
    }
    // Still not trusted without a pin (self-signed), and trusted once re-pinned.
    let unpinned = provider(&sim, None, &sim.password, PoolConfig::default());
    assert_eq!(
        unpinned
            .refresh_inventory()
            .await
            .expect_err("untrusted")
            .code(),
        "certificate_untrusted"
    );
    let repinned = provider(&sim, Some(new_pin), &sim.password, PoolConfig::default());
    assert!(
        !repinned
            .refresh_inventory()
            .await
            .expect("re-pinned")
            .vms
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_reused_and_counted() {
    let sim = Vcsim::start(&[]);
    let factory = VsphereFactory::default();
    let conn = connection(&sim, Some(sim.fingerprint()));
    let cancel = CancellationToken::new();
    for _ in 0..3 {
        // A new provider handle per command, as the core asks for one each
        // time: the factory hands back the same pool.
        let p = factory
            .connect(&conn, Secrets::main(sim.password.as_str()))
            .expect("connect");
        p.list_vms(&VmFilter::default(), None, &cancel)
            .await
            .expect("list");
    }
    let stats = factory.pool_stats();
    assert_eq!(stats.len(), 1);
    let s = &stats[0].1;
    assert_eq!((s.created, s.reused, s.relogins), (1, 2, 0), "{s:?}");
    assert_eq!((s.idle, s.in_use), (1, 0), "{s:?}");

    // A changed password is a new pool (the old one is dropped).
    let p = factory
        .connect_vsphere(&conn, Some(Secret::new("other")))
        .expect("connect");
    assert_eq!(p.pool_stats().created, 0);
    factory.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_at_most_max_sessions() {
    let sim = Vcsim::start(&["-vm", "1"]);
    let p = Arc::new(provider(
        &sim,
        Some(sim.fingerprint()),
        &sim.password,
        PoolConfig {
            max_sessions: 2,
            ..PoolConfig::default()
        },
    ));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let p = Arc::clone(&p);
        tasks.push(tokio::spawn(async move {
            p.refresh_inventory().await.map(|i| i.vms.len())
        }));
    }
    for t in tasks {
        assert!(t.await.expect("join").expect("discovery") > 0);
    }
    let s = p.pool_stats();
    assert!(s.created <= 2, "{s:?}");
    assert_eq!(s.created + s.reused, 6, "{s:?}");
}

/// Signs in with a second, independent client and ends `keys` from there,
/// as an administrator would.
async fn terminate_from_another_client(sim: &Vcsim, pin: &str, keys: &[String]) {
    let client = SoapClient::new(
        &sim.endpoint,
        Some(hypersdk_vsphere::Fingerprint::parse(pin).expect("pin")),
        Timeouts::default(),
    )
    .expect("client");
    let sc = client.retrieve_service_content().await.expect("sc");
    let (cookie, _) = client
        .login(&sc, &sim.username, &sim.password)
        .await
        .expect("admin login");
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    client
        .terminate_sessions(&sc, &cookie, &keys)
        .await
        .expect("terminate");
    client.logout(&sc, &cookie).await.expect("logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_session_is_replaced_transparently() {
    let sim = Vcsim::start(&[]);
    let pin = sim.fingerprint();
    // No health check before reuse: the call itself meets NotAuthenticated.
    let p = provider(
        &sim,
        Some(pin.clone()),
        &sim.password,
        PoolConfig {
            health_check_after: Duration::from_secs(3600),
            ..PoolConfig::default()
        },
    );
    let before = p.refresh_inventory().await.expect("first").vms.len();
    let keys = p.pool().idle_session_keys();
    assert_eq!(keys.len(), 1);
    terminate_from_another_client(&sim, &pin, &keys).await;

    let after = p
        .refresh_inventory()
        .await
        .expect("after re-login")
        .vms
        .len();
    assert_eq!(before, after);
    let s = p.pool_stats();
    assert_eq!((s.created, s.reused, s.relogins), (2, 1, 1), "{s:?}");
    assert_ne!(p.pool().idle_session_keys(), keys, "a new session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_drops_a_dead_idle_session_before_reuse() {
    let sim = Vcsim::start(&[]);
    let pin = sim.fingerprint();
    let p = provider(
        &sim,
        Some(pin.clone()),
        &sim.password,
        PoolConfig {
            health_check_after: Duration::ZERO,
            ..PoolConfig::default()
        },
    );
    p.refresh_inventory().await.expect("first");
    p.refresh_inventory()
        .await
        .expect("second: healthy, reused");
    let keys = p.pool().idle_session_keys();
    terminate_from_another_client(&sim, &pin, &keys).await;
    p.refresh_inventory().await.expect("third");
    let s = p.pool_stats();
    assert_eq!(s.health_checks, 2, "{s:?}");
    assert_eq!(s.health_check_failures, 1, "{s:?}");
    assert_eq!((s.created, s.reused, s.relogins), (2, 1, 0), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_and_are_logged_out() {
    let sim = Vcsim::start(&[]);
    let p = provider(
        &sim,
        Some(sim.fingerprint()),
        &sim.password,
        PoolConfig {
            idle_timeout: Duration::from_millis(200),
            ..PoolConfig::default()
        },
    );
    p.refresh_inventory().await.expect("first");
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.refresh_inventory().await.expect("second");
    let s = p.pool_stats();
    assert_eq!((s.created, s.reused, s.expired), (2, 0, 1), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_is_reported_as_cancelled() {
    let sim = Vcsim::start(&[]);
    let p = pinned(&sim);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = p
        .list_vms(&VmFilter::default(), None, &cancel)
        .await
        .expect_err("cancelled");
    assert_eq!(err.code(), "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_left_by_a_crashed_export_are_found_by_name_and_removed() {
    let sim = Vcsim::start(&[]);
    let p = pinned(&sim);
    let vm = "DC0_H0_VM0";
    // What a crash between CreateSnapshot and clean-up leaves behind, plus a
    // snapshot of the user's that must survive.
    sim.govc(&["snapshot.create", "-vm", vm, "before-upgrade"]);
    sim.govc(&["snapshot.create", "-vm", vm, "hypersdk-export-job-1"]);
    let id = sim
        .govc(&["find", "-i", "/", "-type", "m", "-name", vm])
        .trim()
        .trim_start_matches("VirtualMachine:")
        .to_owned();
    let cancel = CancellationToken::new();
    assert_eq!(
        p.cleanup_export(&id, "job-2", &cancel)
            .await
            .expect("other tag"),
        0
    );
    assert_eq!(
        p.cleanup_export(&id, "job-1", &cancel)
            .await
            .expect("cleanup"),
        1
    );
    let left = sim.govc(&["snapshot.tree", "-vm", vm]);
    assert!(left.contains("before-upgrade"), "{left}");
    assert!(!left.contains("hypersdk-export"), "{left}");
    assert_eq!(
        p.cleanup_export("vm-does-not-exist", "job-1", &cancel)
            .await
            .expect("gone VM"),
        0
    );
}
