//! Export of one VM over NFC: snapshot → `ExportSnapshot` → `HttpNfcLease`
//! → the disks' URLs handed to the export engine → lease completed or
//! aborted → snapshot removed.
//!
//! The snapshot is named `hypersdk-export-<job id>` so that whatever a
//! crashed run left behind is found again by name and removed
//! ([`cleanup`]); the VM's configuration is never changed. Templates cannot
//! be snapshotted, so they go through `ExportVm` instead.
//!
//! The lease and its NFC URLs belong to the session that opened them, so
//! the whole export holds one session out of the pool ([`CheckedOut`]).
//! Disk URLs are fetched with that session's cookie and the connection's
//! trust settings (its pinned certificate, if any). A disk URL on another
//! host (an ESXi host behind vCenter) is verified the same way; a pinned
//! vCenter certificate does not cover it, which the user sees as a
//! certificate error naming that host.

use std::time::Duration;

use async_trait::async_trait;
use hypersdk_core::providers::{ExportPlan, ExportSession};
use hypersdk_core::{CoreError, Result as CoreResult};
use hypersdk_ovf::{
    Controller, DiskFormat, DiskSource, ExportDisk, Firmware, NetworkSpec, OsInfo, VmSpec,
};
use tokio_util::sync::CancellationToken;

use crate::error::{Result, VsphereError};
use crate::session::{CheckedOut, SessionCtx, SessionPool};
use crate::soap::{MoRef, ObjectContent, filter_spec_for_object};
use crate::xml::{Element, esc};

/// Every snapshot this app creates starts with this; the rest is the job id.
pub const SNAPSHOT_PREFIX: &str = "hypersdk-export-";
/// The longest the lease goes without a progress call: vSphere times a lease
/// out after 5 minutes of silence by default; the issue asks for ≤ 30 s.
const MAX_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// How long a task or lease may take to get ready before we give up.
const READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Clean-up after a failure gets this long even when the job is cancelled.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

const VM_PATHS: &[&str] = &[
    "name",
    "config.template",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.firmware",
    "config.guestId",
    "config.guestFullName",
    "config.version",
    "network",
];

pub fn snapshot_name(tag: &str) -> String {
    format!("{SNAPSHOT_PREFIX}{tag}")
}

/// Prepares the export of `vm_id` (see the module docs).
pub async fn begin(
    pool: &SessionPool,
    vm_id: &str,
    tag: &str,
    cancel: &CancellationToken,
) -> Result<ExportPlan> {
    let checked_out = pool.checkout().await?;
    let ctx = checked_out.ctx.clone();
    let vm = MoRef::new("VirtualMachine", vm_id);
    let props = read_object(&ctx, &vm, VM_PATHS).await?;
    let portgroups = portgroup_names(&ctx, &props).await?;
    let hardware = Hardware::from_props(&props, &portgroups)?;
    let template = props.text("config.template").map(str::trim) == Some("true");
    check(cancel)?;

    let mut steps = Vec::with_capacity(2);
    let (snapshot, lease) = if template {
        let lease = call_moref(&ctx, "ExportVm", &vm, "").await?;
        steps.push("a template: exported as it is, without a snapshot".to_owned());
        (None, lease)
    } else {
        let args = format!(
            "<name>{}</name><description>{}</description><memory>false</memory><quiesce>false</quiesce>",
            esc(&snapshot_name(tag)),
            esc(&format!(
                "Created by HyperSDK Desktop for export job {tag}; removed automatically when the export ends."
            ))
        );
        let task = call_moref(&ctx, "CreateSnapshot_Task", &vm, &args).await?;
        let snapshot = wait_task(&ctx, &task).await?.ok_or_else(|| {
            VsphereError::Protocol("CreateSnapshot_Task returned no snapshot".into())
        })?;
        tracing::info!(vm = %vm_id, snapshot = %snapshot.value, "export snapshot created");
        steps.push(format!(
            "snapshot \"{}\" created ({})",
            snapshot_name(tag),
            snapshot.value
        ));
        match call_moref(&ctx, "ExportSnapshot", &snapshot, "").await {
            Ok(lease) => (Some(snapshot), lease),
            Err(e) => {
                remove_snapshot(&ctx, &snapshot).await;
                return Err(e);
            }
        }
    };

    let session = VsphereExport {
        checked_out,
        lease: lease.clone(),
        snapshot,
        keep_alive: MAX_KEEP_ALIVE,
    };
    let ready = async {
        check(cancel)?;
        let info = wait_lease(&ctx, &lease, cancel).await?;
        plan_disks(&ctx, &hardware, &info)
    }
    .await;
    match ready {
        Ok((disks, lease_timeout)) => {
            let mut session = session;
            if let Some(t) = lease_timeout {
                session.keep_alive = session.keep_alive.min(t / 3).max(Duration::from_secs(1));
            }
            steps.push(format!("export lease {} ready", lease.value));
            Ok(ExportPlan {
                vm: hardware.spec,
                disks,
                unpack: None,
                session: Box::new(session),
                steps,
            })
        }
        Err(e) => {
            let reason = e.to_string();
            if let Err(abort) = session.release(false, &reason).await {
                tracing::warn!(error = %abort, "cannot release a failed export");
            }
            Err(e)
        }
    }
}

/// Removes every snapshot of `vm_id` named for the export `tag`. Returns
/// how many were removed; a VM that no longer exists has none.
pub async fn cleanup(pool: &SessionPool, vm_id: &str, tag: &str) -> Result<u32> {
    let name = snapshot_name(tag);
    let vm = MoRef::new("VirtualMachine", vm_id);
    pool.with_session(|ctx| {
        let (vm, name) = (vm.clone(), name.clone());
        async move {
            let props = match read_object(&ctx, &vm, &["snapshot"]).await {
                Ok(p) => p,
                Err(VsphereError::NotFound { .. }) => return Ok(0),
                Err(VsphereError::Fault { fault, .. }) if fault == "ManagedObjectNotFound" => {
                    return Ok(0);
                }
                Err(e) => return Err(e),
            };
            let mut found = Vec::new();
            if let Some(info) = props.prop("snapshot") {
                collect_snapshots(info, &name, &mut found);
            }
            let mut removed = 0;
            for snap in found {
                let args = "<removeChildren>false</removeChildren><consolidate>true</consolidate>";
                let task = call_moref(&ctx, "RemoveSnapshot_Task", &snap, args).await?;
                wait_task(&ctx, &task).await?;
                tracing::info!(vm = %vm.value, snapshot = %snap.value, "removed a snapshot left by an interrupted export");
                removed += 1;
            }
            Ok(removed)
        }
    })
    .await
}

/// Walks `VirtualMachineSnapshotInfo.rootSnapshotList` (a tree).
fn collect_snapshots(el: &Element, name: &str, out: &mut Vec<MoRef>) {
    for tree in el
        .children
        .iter()
        .filter(|c| c.is_vim("rootSnapshotList") || c.is_vim("childSnapshotList"))
    {
        if tree.child_text("name") == Some(name)
            && let Some(snap) = tree
                .child("snapshot")
                .and_then(|s| MoRef::from_element(s).ok())
        {
            out.push(snap);
        }
        collect_snapshots(tree, name, out);
    }
}

fn check(cancel: &CancellationToken) -> Result<()> {
    if cancel.is_cancelled() {
        Err(VsphereError::Cancelled)
    } else {
        Ok(())
    }
}

async fn read_object(ctx: &SessionCtx, obj: &MoRef, paths: &[&str]) -> Result<ObjectContent> {
    let page = ctx
        .retrieve_properties_ex(&filter_spec_for_object(obj, paths), 100)
        .await?;
    page.objects
        .into_iter()
        .find(|o| o.obj == *obj)
        .ok_or_else(|| VsphereError::NotFound {
            what: "VM",
            id: obj.value.clone(),
        })
}

async fn call_moref(ctx: &SessionCtx, method: &str, this: &MoRef, args: &str) -> Result<MoRef> {
    let resp = ctx.call(method, this, args).await?;
    let val = resp
        .child("returnval")
        .ok_or_else(|| VsphereError::Protocol(format!("{method} has no returnval")))?;
    MoRef::from_element(val)
}

/// Polls a task until it ends; its result when that is an object reference.
async fn wait_task(ctx: &SessionCtx, task: &MoRef) -> Result<Option<MoRef>> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let props = read_object(ctx, task, &["info.state", "info.error", "info.result"]).await?;
        match props.text("info.state").map(str::trim) {
            Some("success") => {
                return Ok(props
                    .prop("info.result")
                    .and_then(|r| MoRef::from_element(r).ok()));
            }
            Some("error") => return Err(fault_of(props.prop("info.error"), "task")),
            _ => {}
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(VsphereError::Protocol(format!(
                "task {} did not finish within {} minutes",
                task.value,
                READY_TIMEOUT.as_secs() / 60
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Polls a lease until it is ready; its `HttpNfcLeaseInfo`.
async fn wait_lease(
    ctx: &SessionCtx,
    lease: &MoRef,
    cancel: &CancellationToken,
) -> Result<Element> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        check(cancel)?;
        let mut props = read_object(ctx, lease, &["state", "error", "info"]).await?;
        match props.text("state").map(str::trim) {
            Some("ready") => {
                let at = props
                    .props
                    .iter()
                    .position(|(p, _)| p == "info")
                    .ok_or_else(|| VsphereError::Protocol("the ready lease has no info".into()))?;
                return Ok(props.props.swap_remove(at).1);
            }
            Some("error") => return Err(fault_of(props.prop("error"), "export lease")),
            Some("done") => {
                return Err(VsphereError::Protocol(
                    "the export lease ended before it was used".into(),
                ));
            }
            _ => {}
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(VsphereError::Protocol(
                "the export lease did not become ready in time".into(),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// A `LocalizedMethodFault` as an error.
fn fault_of(el: Option<&Element>, what: &str) -> VsphereError {
    let fault = el
        .and_then(|e| e.child("fault"))
        .and_then(|f| f.xsi_type.clone())
        .unwrap_or_else(|| "unknown fault".into());
    let message = el
        .and_then(|e| e.child_text("localizedMessage"))
        .unwrap_or_default()
        .to_owned();
    if fault == "NoPermission" {
        return VsphereError::NoPermission(format!("the {what} needs a privilege this user lacks"));
    }
    VsphereError::Fault {
        method: what.to_owned(),
        fault,
        message,
    }
}

async fn remove_snapshot(ctx: &SessionCtx, snapshot: &MoRef) -> bool {
    let args = "<removeChildren>false</removeChildren><consolidate>true</consolidate>";
    let work = async {
        let task = call_moref(ctx, "RemoveSnapshot_Task", snapshot, args).await?;
        wait_task(ctx, &task).await
    };
    match tokio::time::timeout(CLEANUP_TIMEOUT, work).await {
        Ok(Ok(_)) => {
            tracing::info!(snapshot = %snapshot.value, "export snapshot removed");
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(snapshot = %snapshot.value, error = %e, "cannot remove the export snapshot");
            false
        }
        Err(_) => {
            tracing::warn!(snapshot = %snapshot.value, "removing the export snapshot timed out");
            false
        }
    }
}

/// Distributed port groups the VM uses, by key: a NIC on one refers to it by
/// key, and the descriptor should carry the name people know.
async fn portgroup_names(
    ctx: &SessionCtx,
    vm: &ObjectContent,
) -> Result<std::collections::HashMap<String, String>> {
    let mut names = std::collections::HashMap::new();
    let Some(networks) = vm.prop("network") else {
        return Ok(names);
    };
    for net in &networks.children {
        let Ok(moref) = MoRef::from_element(net) else {
            continue;
        };
        if moref.kind != "DistributedVirtualPortgroup" {
            continue;
        }
        let pg = read_object(ctx, &moref, &["name", "key"]).await?;
        if let (Some(key), Some(name)) = (pg.text("key"), pg.text("name")) {
            names.insert(key.trim().to_owned(), name.trim().to_owned());
        }
    }
    Ok(names)
}

/// The VM's hardware, and its disks in device order with their controllers.
struct Hardware {
    spec: VmSpec,
    disks: Vec<DiskDevice>,
}

struct DiskDevice {
    capacity: u64,
    controller: Controller,
}

impl Hardware {
    fn from_props(
        o: &ObjectContent,
        portgroups: &std::collections::HashMap<String, String>,
    ) -> Result<Hardware> {
        let name = o.text("name").map(str::trim).unwrap_or_default().to_owned();
        let number = |p: &str| o.text(p).and_then(|t| t.trim().parse::<u64>().ok());
        let cpus = number("config.hardware.numCPU").unwrap_or(1);
        let mut spec = VmSpec::new(
            name,
            u32::try_from(cpus).unwrap_or(1),
            number("config.hardware.memoryMB").unwrap_or(0),
        );
        spec.firmware = match o.text("config.firmware").map(str::trim) {
            Some("efi") => Firmware::Efi,
            _ => Firmware::Bios,
        };
        let guest_id = o.text("config.guestId").map(str::trim).unwrap_or_default();
        let full = o
            .text("config.guestFullName")
            .map(str::trim)
            .unwrap_or_default();
        spec.os = Some(OsInfo {
            id: cim_os_id(guest_id),
            description: Some(if full.is_empty() { guest_id } else { full }.to_owned())
                .filter(|d| !d.is_empty()),
        });
        if let Some(v) = o
            .text("config.version")
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            spec.system_type = Some(v.to_owned());
        }
        let mut controllers = std::collections::HashMap::new();
        let mut disks = Vec::new();
        if let Some(devices) = o.prop("config.hardware.device") {
            for d in &devices.children {
                let key = d.child_text("key").unwrap_or_default();
                if let Some(c) = d.xsi_type.as_deref().and_then(controller_for) {
                    controllers.insert(key.to_owned(), c);
                }
            }
            for d in &devices.children {
                match d.xsi_type.as_deref() {
                    Some("VirtualDisk") => {
                        let capacity = d
                            .child_text("capacityInBytes")
                            .and_then(|t| t.parse::<u64>().ok())
                            .filter(|c| *c > 0)
                            .or_else(|| {
                                d.child_text("capacityInKB")
                                    .and_then(|t| t.parse::<u64>().ok())
                                    .map(|kb| kb * 1024)
                            })
                            .unwrap_or(0);
                        let controller = d
                            .child_text("controllerKey")
                            .and_then(|k| controllers.get(k).cloned())
                            .unwrap_or_default();
                        disks.push(DiskDevice {
                            capacity,
                            controller,
                        });
                    }
                    Some(t) if d.child("macAddress").is_some() || t.starts_with("VirtualE") => {
                        spec.networks.push(NetworkSpec {
                            name: network_name(d, portgroups),
                            adapter: nic_adapter(t).map(str::to_owned),
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(Hardware { spec, disks })
    }
}

fn controller_for(xsi_type: &str) -> Option<Controller> {
    let scsi = |s: &str| {
        Some(Controller::Scsi {
            subtype: s.to_owned(),
        })
    };
    match xsi_type {
        "VirtualLsiLogicController" => scsi("lsilogic"),
        "VirtualLsiLogicSASController" => scsi("lsilogicsas"),
        "ParaVirtualSCSIController" => scsi("VirtualSCSI"),
        "VirtualBusLogicController" => scsi("buslogic"),
        "VirtualIDEController" => Some(Controller::Ide),
        "VirtualAHCIController" | "VirtualSATAController" => Some(Controller::Sata),
        "VirtualNVMEController" => Some(Controller::Nvme),
        _ => None,
    }
}

fn nic_adapter(xsi_type: &str) -> Option<&'static str> {
    Some(match xsi_type {
        "VirtualVmxnet3" | "VirtualVmxnet3Vrdma" => "VmxNet3",
        "VirtualVmxnet2" => "VmxNet2",
        "VirtualVmxnet" => "VmxNet",
        "VirtualE1000" => "E1000",
        "VirtualE1000e" => "E1000e",
        "VirtualPCNet32" => "PCNet32",
        _ => return None,
    })
}

/// A standard port group's name, a distributed port group's name from its
/// key, else the summary vSphere shows for the NIC.
fn network_name(nic: &Element, portgroups: &std::collections::HashMap<String, String>) -> String {
    let backing = nic.child("backing");
    backing
        .and_then(|b| b.child_text("deviceName"))
        .filter(|n| !n.is_empty())
        .or_else(|| {
            backing
                .and_then(|b| b.child("port"))
                .and_then(|p| p.child_text("portgroupKey"))
                .and_then(|k| portgroups.get(k))
                .map(String::as_str)
        })
        .or_else(|| {
            nic.child("deviceInfo")
                .and_then(|i| i.child_text("summary"))
                .filter(|n| !n.is_empty())
        })
        .unwrap_or("VM Network")
        .to_owned()
}

/// The CIM operating-system id an OVF descriptor carries for a vSphere guest id.
fn cim_os_id(guest_id: &str) -> u16 {
    let g = guest_id.to_ascii_lowercase();
    let is_64 = g.contains("64");
    let windows = g.starts_with("win");
    let linux = [
        "linux",
        "rhel",
        "centos",
        "ubuntu",
        "debian",
        "sles",
        "oracle",
        "fedora",
        "photon",
        "coreos",
        "alma",
        "rocky",
        "amazonlinux",
    ]
    .iter()
    .any(|l| g.contains(l));
    match (windows, linux, is_64) {
        (true, _, true) => 103,
        (true, _, false) => 105,
        (_, true, true) => 101,
        (_, true, false) => 36,
        (_, _, true) => 102,
        _ => 1,
    }
}

/// Pairs the lease's disk URLs with the VM's disks (both in device order).
fn plan_disks(
    ctx: &SessionCtx,
    hw: &Hardware,
    info: &Element,
) -> Result<(Vec<ExportDisk>, Option<Duration>)> {
    let lease_timeout = info
        .child_text("leaseTimeout")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map(Duration::from_secs);
    let base = ctx.client.sdk_url().clone();
    let mut headers = reqwest::header::HeaderMap::new();
    let cookie = reqwest::header::HeaderValue::from_str(ctx.cookie_header())
        .map_err(|_| VsphereError::Protocol("the session cookie is not a valid header".into()))?;
    headers.insert(reqwest::header::COOKIE, cookie);
    let mut disks = Vec::new();
    for (i, dev) in info
        .children_named("deviceUrl")
        .filter(|d| d.child_text("disk") == Some("true"))
        .enumerate()
    {
        let raw = dev
            .child_text("url")
            .ok_or_else(|| VsphereError::Protocol("a lease device has no URL".into()))?;
        let url = resolve_nfc_url(&base, raw)?;
        let hw_disk = hw.disks.get(i);
        let length = dev
            .child_text("fileSize")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|n| *n > 0);
        disks.push(ExportDisk {
            name: format!("{}-disk{}", hw.spec.name, i + 1),
            source: DiskSource::Http {
                url,
                client: ctx.client.download_client().clone(),
                headers: headers.clone(),
                length,
                // vcsim's NFC handler panics on HEAD (it serves only GET/PUT), and vCenter
                // answers HEAD inconsistently; an unknown length is staged instead.
                probe: false,
            },
            format: Some(DiskFormat::VmdkStreamOptimized),
            capacity_bytes: hw_disk.map(|d| d.capacity).filter(|c| *c > 0),
            controller: hw_disk.map(|d| d.controller.clone()).unwrap_or_default(),
            convert_to: None,
        });
    }
    if disks.is_empty() {
        return Err(VsphereError::Protocol(
            "the export lease offers no disk to download".into(),
        ));
    }
    Ok((disks, lease_timeout))
}

/// NFC URLs may carry `*` for the host ("substitute the host you connected
/// to"); they must stay on http(s).
fn resolve_nfc_url(base: &url::Url, raw: &str) -> Result<String> {
    let mut url = url::Url::parse(&raw.replacen("://*", "://placeholder.invalid", 1))
        .map_err(|e| VsphereError::Protocol(format!("the lease gave an invalid URL: {e}")))?;
    if url.host_str() == Some("placeholder.invalid") {
        url.set_host(base.host_str())
            .map_err(|e| VsphereError::Protocol(format!("cannot resolve the NFC host: {e}")))?;
        if url.port().is_none() {
            let _ = url.set_port(base.port());
        }
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(VsphereError::Protocol(format!(
            "the lease gave a {} URL; only http(s) is supported",
            url.scheme()
        )));
    }
    Ok(url.to_string())
}

/// The server side of one export: a lease on one checked-out session, and
/// the snapshot it reads from.
struct VsphereExport {
    checked_out: CheckedOut,
    lease: MoRef,
    snapshot: Option<MoRef>,
    keep_alive: Duration,
}

impl VsphereExport {
    /// Completes or aborts the lease, then removes the snapshot — always
    /// both, and reports the first failure.
    async fn release(self, complete: bool, reason: &str) -> Result<()> {
        let ctx = &self.checked_out.ctx;
        let method = if complete {
            "HttpNfcLeaseComplete"
        } else {
            "HttpNfcLeaseAbort"
        };
        let lease_result =
            match tokio::time::timeout(CLEANUP_TIMEOUT, ctx.call(method, &self.lease, "")).await {
                Ok(r) => r.map(|_| ()),
                Err(_) => Err(VsphereError::Protocol(format!("{method} timed out"))),
            };
        if !complete {
            tracing::info!(lease = %self.lease.value, reason, "export lease aborted");
        }
        let snapshot_ok = match &self.snapshot {
            Some(s) => remove_snapshot(ctx, s).await,
            None => true,
        };
        lease_result?;
        if !snapshot_ok {
            return Err(VsphereError::Protocol(
                "the export snapshot could not be removed; HyperSDK retries at its next start"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl ExportSession for VsphereExport {
    fn keep_alive_interval(&self) -> Duration {
        self.keep_alive
    }

    async fn keep_alive(&self, percent: u8) -> CoreResult<()> {
        let args = format!("<percent>{}</percent>", percent.min(100));
        self.checked_out
            .ctx
            .call("HttpNfcLeaseProgress", &self.lease, &args)
            .await
            .map(|_| ())
            .map_err(CoreError::from)
    }

    fn released_step(&self) -> String {
        match &self.snapshot {
            Some(s) => format!(
                "export lease {} completed; snapshot {} removed",
                self.lease.value, s.value
            ),
            None => format!("export lease {} completed", self.lease.value),
        }
    }

    async fn complete(self: Box<Self>) -> CoreResult<()> {
        self.release(true, "completed")
            .await
            .map_err(CoreError::from)
    }

    async fn abort(self: Box<Self>, reason: &str) -> CoreResult<()> {
        self.release(false, reason).await.map_err(CoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_urls_get_the_connected_host_for_a_star() {
        let base = url::Url::parse("https://vc.example.com:8443/sdk").expect("url");
        assert_eq!(
            resolve_nfc_url(&base, "https://*/nfc/52a1/disk-0.vmdk").expect("star"),
            "https://vc.example.com:8443/nfc/52a1/disk-0.vmdk"
        );
        assert_eq!(
            resolve_nfc_url(&base, "https://esx1.example.com/nfc/x/disk-0.vmdk").expect("host"),
            "https://esx1.example.com/nfc/x/disk-0.vmdk"
        );
        assert!(resolve_nfc_url(&base, "file:///etc/passwd").is_err());
    }

    #[test]
    fn guest_ids_map_to_cim_os_ids() {
        for (guest, id) in [
            ("rhel9_64Guest", 101),
            ("ubuntu64Guest", 101),
            ("otherLinuxGuest", 36),
            ("windows2019srv_64Guest", 103),
            ("winXPProGuest", 105),
            ("otherGuest64", 102),
            ("otherGuest", 1),
            ("", 1),
        ] {
            assert_eq!(cim_os_id(guest), id, "{guest}");
        }
    }

    #[test]
    fn snapshot_trees_are_searched_at_every_depth() {
        let xml = br#"<val xmlns="urn:vim25" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <currentSnapshot type="VirtualMachineSnapshot">snapshot-3</currentSnapshot>
            <rootSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-1</snapshot><name>daily</name>
              <childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-2</snapshot><name>hypersdk-export-j1</name>
                <childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-3</snapshot><name>hypersdk-export-j2</name></childSnapshotList>
              </childSnapshotList>
            </rootSnapshotList></val>"#;
        let el = crate::xml::parse(xml).expect("xml");
        let mut found = Vec::new();
        collect_snapshots(&el, "hypersdk-export-j2", &mut found);
        assert_eq!(
            found,
            vec![MoRef::new("VirtualMachineSnapshot", "snapshot-3")]
        );
        found.clear();
        collect_snapshots(&el, "daily-not", &mut found);
        assert!(found.is_empty());
    }
}
