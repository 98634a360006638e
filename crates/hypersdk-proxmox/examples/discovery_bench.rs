//! Proxmox discovery benchmark (issue 13, "Measure"): a fakepve cluster of VMS VMs
//! (`tests/peers/fakepve_harness.py`, `generate`), timed RUNS times each way:
//!   raw   one `GET /cluster/resources?type=vm` with the token, body read, not parsed
//!         (the server's floor for "the VM list")
//!   list  our discovery without per-VM configs: the listing and /cluster/status, parsed
//!   first the provider's first `list_vms` page, what the Inventory shows first (a cluster
//!         this large is answered with the listing; the rows say `details_pending`)
//!   whole from that call until `list_vms` answers with every row's details (OS, disks,
//!         NICs: one config per VM, read behind the listing), polled every 50 ms
//! Prints a Markdown table of medians. Run through `bench/proxmox-discovery.sh`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hypersdk_core::model::{Connection, ProviderKind, Secrets, VmFilter};
use hypersdk_core::providers::Provider;
use hypersdk_core::tls::Fingerprint;
use hypersdk_proxmox::api::{ApiClient, Credentials, Timeouts};
use hypersdk_proxmox::inventory::{self, Configs};
use hypersdk_proxmox::{ProxmoxProvider, ProxmoxSettings};

const TOKEN_ID: &str = "bench@pve!discovery";
const TOKEN_SECRET: &str = "0b9d6c1e-6a43-4c4e-9a7d-3f2b1c0d9e8f";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let vms: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = serde_json::json!({
        "nodes": ["node01", "node02", "node03", "node04"],
        "cluster_name": "bench",
        "generate": {"count": vms, "nodes": 4},
        "tokens": {TOKEN_ID: TOKEN_SECRET},
    });
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(scenario.to_string().as_bytes())?;
    let mut child = Command::new(root.join("../../.tools/venv/bin/python"))
        .arg(root.join("tests/peers/fakepve_harness.py"))
        .arg(file.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let ready: serde_json::Value = serde_json::from_str(line.trim())?;
    let endpoint = ready["url"]
        .as_str()
        .ok_or("url")?
        .trim_end_matches('/')
        .to_owned();
    let pin = Fingerprint::parse(ready["fingerprint"].as_str().ok_or("fingerprint")?)?;

    let api = ApiClient::new(
        &endpoint,
        Some(pin),
        Credentials::from_login(TOKEN_ID, hypersdk_core::model::Secret::new(TOKEN_SECRET)),
        Timeouts::default(),
    )?;
    let now = chrono::Utc::now();
    let connection = Connection {
        id: "bench".into(),
        kind: ProviderKind::Proxmox,
        name: "bench".into(),
        endpoint: endpoint.clone(),
        username: TOKEN_ID.into(),
        options: Default::default(),
        has_secret: true,
        secret_options: Vec::new(),
        tls_fingerprint: Some(pin.to_colon_hex()),
        created_at: now,
        updated_at: now,
    };
    let provider = ProxmoxProvider::new(
        &connection,
        Secrets::main(TOKEN_SECRET),
        ProxmoxSettings::default(),
    )?;
    let raw_client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()?;

    let cancel = tokio_util::sync::CancellationToken::new();
    let (mut raw, mut list, mut first, mut whole) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut guests = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let body = raw_client
            .get(format!("{endpoint}/api2/json/cluster/resources?type=vm"))
            .header(
                "Authorization",
                format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"),
            )
            .send()
            .await?
            .bytes()
            .await?;
        raw.push(t.elapsed());
        assert!(!body.is_empty());

        let t = Instant::now();
        let inv = inventory::discover(&api, None, Configs::None).await?;
        list.push(t.elapsed());
        guests = inv.guests.len();

        let t = Instant::now();
        let page = provider
            .list_vms(&VmFilter::default(), None, &cancel)
            .await?;
        first.push(t.elapsed());
        assert!(!page.vms.is_empty());
        loop {
            let page = provider
                .list_vms(&VmFilter::default(), None, &cancel)
                .await?;
            if !page.vms.iter().any(|v| v.details_pending) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        whole.push(t.elapsed());
    }
    let _ = child.kill();
    let _ = child.wait();
    let (raw, list, first, whole) = (median(raw), median(list), median(first), median(whole));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| {guests} VMs, 4 nodes, median of {runs} | ms | × raw |");
    println!("|---|---:|---:|");
    println!("| raw GET /cluster/resources | {:.0} | 1.00 |", ms(raw));
    println!(
        "| listing + cluster status, parsed | {:.0} | {:.2} |",
        ms(list),
        ms(list) / ms(raw)
    );
    println!(
        "| first list_vms page (rows shown, details pending) | {:.0} | {:.2} |",
        ms(first),
        ms(first) / ms(raw)
    );
    println!(
        "| … until every row has its details (+ every VM's config) | {:.0} | {:.2} |",
        ms(whole),
        ms(whole) / ms(raw)
    );
    Ok(())
}
