//! Discovery benchmark driver (see `bench/vsphere-discovery.sh`).
//!
//! `discovery_bench ours` times a full discovery through the provider (sign
//! in, container view, paged retrieval, parse, tree); `discovery_bench raw`
//! times the server's floor: the same `RetrievePropertiesEx` /
//! `ContinueRetrievePropertiesEx` loop for the same properties with the
//! answers read but not parsed. Both print one JSON line.
//!
//! Environment: VSPHERE_URL, VSPHERE_USER, VSPHERE_PASSWORD, VSPHERE_PIN
//! (SHA-256 hex of the server certificate), PAGE_SIZE (default: the discovery default),
//! DEVICE_LIST=1 to count disks/NICs from `config.hardware.device` instead of
//! the VM summary (both modes ask the raw loop for the same properties).

use std::time::Instant;

use hypersdk_core::model::{Connection, ProviderKind, Secret};
use hypersdk_vsphere::inventory::{VIEW_TYPES, discovery_filter_spec};
use hypersdk_vsphere::soap::{SoapClient, Timeouts};
use hypersdk_vsphere::{
    DeviceCounts, DiscoveryOptions, Fingerprint, VsphereProvider, VsphereSettings,
};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "ours".into());
    let url = env("VSPHERE_URL");
    let user = env("VSPHERE_USER");
    let password = env("VSPHERE_PASSWORD");
    let pin = env("VSPHERE_PIN");
    let page_size: u32 = std::env::var("PAGE_SIZE")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DiscoveryOptions::default().page_size);
    let counts = if std::env::var_os("DEVICE_LIST").is_some() {
        DeviceCounts::DeviceList
    } else {
        DeviceCounts::Summary
    };
    let started = Instant::now();
    let (objects, vms, bytes) = match mode.as_str() {
        "ours" => {
            let now = chrono::Utc::now();
            let conn = Connection {
                id: "bench".into(),
                kind: ProviderKind::Vsphere,
                name: "bench".into(),
                endpoint: url,
                username: user,
                options: Default::default(),
                has_secret: true,
                secret_options: Vec::new(),
                tls_fingerprint: Some(pin),
                created_at: now,
                updated_at: now,
            };
            let settings = VsphereSettings {
                discovery: DiscoveryOptions {
                    page_size,
                    device_counts: counts,
                },
                ..VsphereSettings::default()
            };
            let p = VsphereProvider::new(&conn, Some(Secret::new(password)), settings)
                .expect("provider");
            let inv = p.refresh_inventory().await.expect("discovery");
            (0, inv.vms.len(), 0)
        }
        "raw" => {
            let pin = Fingerprint::parse(&pin).expect("pin");
            let client = SoapClient::new(&url, Some(pin), Timeouts::default()).expect("client");
            let sc = client.retrieve_service_content().await.expect("sc");
            let (cookie, _) = client.login(&sc, &user, &password).await.expect("login");
            let view = client
                .create_container_view(&sc, &cookie, &sc.root_folder, VIEW_TYPES, true)
                .await
                .expect("view");
            let spec = discovery_filter_spec(&view, counts);
            let mut args = format!("{spec}<options><maxObjects>{page_size}</maxObjects></options>");
            let mut method = "RetrievePropertiesEx";
            let (mut objects, mut vms, mut bytes) = (0, 0, 0);
            loop {
                let page = client
                    .invoke_raw(&cookie, method, &sc.property_collector, &args)
                    .await
                    .expect("page");
                let text = String::from_utf8_lossy(&page);
                bytes += page.len();
                objects += text.matches("<objects>").count();
                vms += text.matches("<obj type=\"VirtualMachine\">").count();
                let token = text
                    .split_once("<token>")
                    .and_then(|(_, rest)| rest.split_once("</token>"))
                    .map(|(t, _)| t.to_owned());
                match token {
                    Some(t) => {
                        method = "ContinueRetrievePropertiesEx";
                        args = format!("<token>{t}</token>");
                    }
                    None => break,
                }
            }
            let _ = client.destroy_view(&cookie, &view).await;
            let _ = client.logout(&sc, &cookie).await;
            (objects, vms, bytes)
        }
        other => panic!("unknown mode {other} (ours or raw)"),
    };
    println!(
        "{{\"mode\":\"{mode}\",\"counts\":\"{counts:?}\",\"vms\":{vms},\"objects\":{objects},\"bytes\":{bytes},\"seconds\":{:.3}}}",
        started.elapsed().as_secs_f64()
    );
}
