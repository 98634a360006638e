//! Discovery: every guest of the cluster from one `GET /cluster/resources`,
//! then each QEMU guest's config for what the resources omit (OS type,
//! disks, NICs).
//!
//! `/cluster/resources` answers for every node of the cluster at once (the
//! node the API runs on asks the others), which is what makes a cluster of
//! many nodes one request. Configs are read a few at a time and kept, keyed
//! by vmid and node, until the next full refresh.

use std::collections::{BTreeMap, HashMap};

use futures_util::stream::{self, StreamExt};
use hypersdk_core::model::{PowerState, VmInfo};
use serde::Deserialize;

use crate::api::ApiClient;
use crate::config::{GuestConfig, os_name, split_tags};
use crate::error::{ProxmoxError, Result};

/// Configs read at once; PVE's pveproxy serves several workers.
const CONFIG_CONCURRENCY: usize = 8;

/// One entry of `/cluster/resources?type=vm`.
#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    /// `qemu/100` or `lxc/200`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub node: String,
    pub vmid: u32,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub template: Option<u8>,
    #[serde(default)]
    pub maxcpu: Option<f64>,
    #[serde(default)]
    pub maxmem: Option<u64>,
    /// Size of the boot disk (bytes).
    #[serde(default)]
    pub maxdisk: Option<u64>,
    /// Space used on disk (bytes); 0 for QEMU guests.
    #[serde(default)]
    pub disk: Option<u64>,
    #[serde(default)]
    pub pool: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ClusterStatus {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    /// A node's address on the cluster network (`type: node` entries).
    #[serde(default)]
    ip: Option<String>,
}

/// A guest as discovery found it.
#[derive(Debug, Clone)]
pub struct Guest {
    pub resource: Resource,
    /// `None` for containers, and for a VM whose config could not be read
    /// (it was removed between the two calls).
    pub config: Option<GuestConfig>,
}

impl Guest {
    pub fn is_qemu(&self) -> bool {
        self.resource.kind == "qemu"
    }
}

/// Everything one discovery read.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The cluster's name, or "Datacenter" for a node that is in no cluster
    /// (what PVE's own web UI calls the root).
    pub datacenter: String,
    pub guests: Vec<Guest>,
    /// Node name → the address the cluster knows it by (where vzdump for
    /// its guests runs over SSH unless the connection names a host).
    pub node_addresses: BTreeMap<String, String>,
    /// The VMs' configs are still to be read (a listing shown before them).
    pub details_pending: bool,
}

/// Which guests' configs a discovery reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Configs {
    /// Every QEMU guest's (a full inventory).
    All,
    /// Only this one's: looking one VM up still needs the whole listing
    /// (its path depends on its neighbours' names), not their configs.
    Only(u32),
    /// None: the listing alone (the discovery benchmark's middle figure).
    None,
}

/// Reads the cluster. `node` limits it to one node (the connection's option).
pub async fn discover(api: &ApiClient, node: Option<&str>, configs: Configs) -> Result<Inventory> {
    let mut inv = list(api, node).await?;
    let wanted: Vec<(String, u32)> = inv
        .guests
        .iter()
        .map(|g| &g.resource)
        .filter(|r| {
            r.kind == "qemu"
                && match configs {
                    Configs::All => true,
                    Configs::Only(vmid) => vmid == r.vmid,
                    Configs::None => false,
                }
        })
        .map(|r| (r.node.clone(), r.vmid))
        .collect();
    add_configs(api, &mut inv, wanted).await;
    inv.details_pending = configs != Configs::All;
    Ok(inv)
}

/// Reads the configs a listing lacks (`Configs::None` → `Configs::All`).
pub async fn fill_configs(api: &ApiClient, inv: &mut Inventory) {
    let wanted: Vec<(String, u32)> = inv
        .guests
        .iter()
        .filter(|g| g.is_qemu() && g.config.is_none())
        .map(|g| (g.resource.node.clone(), g.resource.vmid))
        .collect();
    add_configs(api, inv, wanted).await;
    inv.details_pending = false;
}

/// The listing: `/cluster/resources` and `/cluster/status`, no configs.
async fn list(api: &ApiClient, node: Option<&str>) -> Result<Inventory> {
    let (resources, status) = tokio::join!(
        api.get::<Vec<Resource>>("/cluster/resources?type=vm"),
        api.get::<Vec<ClusterStatus>>("/cluster/status"),
    );
    let mut resources = resources?;
    // A standalone node answers /cluster/status with only its node entry.
    let status = status.unwrap_or_default();
    let node_addresses = status
        .iter()
        .filter(|e| e.kind == "node")
        .filter_map(|e| Some((e.name.clone()?, e.ip.clone()?)))
        .collect();
    let datacenter = status
        .into_iter()
        .find(|e| e.kind == "cluster")
        .and_then(|c| c.name)
        .unwrap_or_else(|| "Datacenter".to_owned());
    resources
        .retain(|r| matches!(r.kind.as_str(), "qemu" | "lxc") && node.is_none_or(|n| r.node == n));
    let mut guests: Vec<Guest> = resources
        .into_iter()
        .map(|resource| Guest {
            resource,
            config: None,
        })
        .collect();
    guests.sort_by_key(|g| g.resource.vmid);
    Ok(Inventory {
        datacenter,
        guests,
        node_addresses,
        details_pending: true,
    })
}

/// Reads the `wanted` (node, vmid) configs, CONFIG_CONCURRENCY at once, into
/// their guests. Owned pairs, not an iterator borrowing the inventory: the
/// future must be `Send` for every lifetime (async-trait), which closures over
/// borrowed items inside a stream are not.
async fn add_configs(api: &ApiClient, inv: &mut Inventory, wanted: Vec<(String, u32)>) {
    let configs: HashMap<u32, GuestConfig> = stream::iter(wanted)
        .map(|(node, vmid)| async move { (vmid, read_config(api, &node, vmid).await) })
        .buffer_unordered(CONFIG_CONCURRENCY)
        .filter_map(|(vmid, r)| async move {
            match r {
                Ok(c) => Some((vmid, c)),
                // Removed since the listing: leave it without details.
                Err(ProxmoxError::NotFound { .. }) => None,
                Err(e) => {
                    tracing::debug!(vmid, error = %e, "guest config not read");
                    None
                }
            }
        })
        .collect()
        .await;
    for g in &mut inv.guests {
        if let Some(c) = configs.get(&g.resource.vmid) {
            g.config = Some(c.clone());
        }
    }
}

/// `GET /nodes/{node}/qemu/{vmid}/config`.
pub async fn read_config(api: &ApiClient, node: &str, vmid: u32) -> Result<GuestConfig> {
    let path = format!("/nodes/{}/qemu/{vmid}/config", path_segment(node)?);
    let map: serde_json::Map<String, serde_json::Value> =
        api.get(&path).await.map_err(|e| match e {
            ProxmoxError::NotFound { .. } => ProxmoxError::NotFound {
                what: "VM",
                id: vmid.to_string(),
            },
            other => other,
        })?;
    Ok(GuestConfig::from_json(&map))
}

/// A node name as a URL path segment. PVE node names are host names
/// (letters, digits, `-`, `.`); anything else is refused rather than sent.
pub fn path_segment(node: &str) -> Result<&str> {
    if !node.is_empty()
        && node
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        Ok(node)
    } else {
        Err(ProxmoxError::Protocol(format!(
            "\"{node}\" is not a Proxmox node name"
        )))
    }
}

impl Inventory {
    /// The guests as the core's VM rows, sorted by path then id. Paths are
    /// `/DATACENTER/NODE[/POOL]/NAME`, so the Inventory's tree shows
    /// datacenter → nodes → pools; two guests with one name under one node
    /// and pool (PVE allows it) are told apart by their vmid.
    pub fn vm_infos(&self) -> Vec<VmInfo> {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let base: Vec<String> = self.guests.iter().map(|g| self.base_path(g)).collect();
        for p in &base {
            *seen.entry(p.clone()).or_default() += 1;
        }
        let mut out: Vec<VmInfo> = self
            .guests
            .iter()
            .zip(base)
            .map(|(g, path)| {
                let path = if seen.get(&path).copied().unwrap_or(0) > 1 {
                    format!("{path} ({})", g.resource.vmid)
                } else {
                    path
                };
                let mut vm = vm_info(&self.datacenter, g, path);
                vm.details_pending = self.details_pending && g.is_qemu() && g.config.is_none();
                vm
            })
            .collect();
        out.sort_by(|a, b| (&a.path, &a.id).cmp(&(&b.path, &b.id)));
        out
    }

    fn base_path(&self, g: &Guest) -> String {
        let r = &g.resource;
        let mut path = format!("/{}/{}", clean(&self.datacenter), clean(&r.node));
        if let Some(pool) = r.pool.as_deref().filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(&clean(pool));
        }
        path.push('/');
        path.push_str(&clean(&display_name(r)));
        path
    }
}

/// Path segments must not contain `/` (it separates the tree's levels).
fn clean(s: &str) -> String {
    s.replace('/', "∕")
}

fn display_name(r: &Resource) -> String {
    r.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("{} {}", if r.kind == "lxc" { "CT" } else { "VM" }, r.vmid))
}

fn vm_info(datacenter: &str, g: &Guest, path: String) -> VmInfo {
    let r = &g.resource;
    let config = g.config.as_ref();
    let mut tags = r.tags.as_deref().map(split_tags).unwrap_or_default();
    if tags.is_empty()
        && let Some(c) = config
    {
        tags = c.tags.clone();
    }
    VmInfo {
        id: r.vmid.to_string(),
        name: display_name(r),
        path,
        power_state: match r.status.as_deref() {
            Some("running") => PowerState::PoweredOn,
            Some("stopped") => PowerState::PoweredOff,
            Some("paused" | "suspended") => PowerState::Suspended,
            _ => PowerState::Unknown,
        },
        guest_os: config
            .and_then(|c| c.ostype.as_deref())
            .map(os_name)
            .unwrap_or_default(),
        cpus: r
            .maxcpu
            .map(|c| c.round() as u32)
            .or_else(|| config.map(GuestConfig::cpus))
            .unwrap_or(0),
        memory_mib: r
            .maxmem
            .map(|m| m / (1 << 20))
            .or_else(|| config.map(|c| c.memory_mib))
            .unwrap_or(0),
        disks: config.map(|c| c.drives.len() as u32).unwrap_or(0),
        // The config's `size=` of each disk; the listing's `maxdisk` is only the boot disk's.
        disk_capacity_bytes: config
            .and_then(|c| c.drives.iter().map(|d| d.size_bytes).sum::<Option<u64>>())
            .or(r.maxdisk.filter(|d| *d > 0)),
        // PVE reports no used space for QEMU guests in /cluster/resources (`disk` is 0).
        disk_used_bytes: r.disk.filter(|d| *d > 0),
        // The storage part of each volume id (`local-lvm:vm-100-disk-0`); a
        // path volume (`/dev/sdb`, passed through) names no storage.
        storage: config
            .map(|c| {
                c.drives
                    .iter()
                    .filter_map(|d| {
                        d.volume
                            .split_once(':')
                            .map(|(storage, _)| storage.to_owned())
                    })
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default(),
        nics: config.map(|c| c.nics.len() as u32).unwrap_or(0),
        template: r.template == Some(1),
        tools_status: None,
        datacenter: Some(datacenter.to_owned()),
        cluster: None,
        host: Some(r.node.clone()),
        resource_pool: r.pool.clone().filter(|p| !p.is_empty()),
        tags,
        not_exportable: (r.kind == "lxc").then(|| {
            "LXC containers cannot be exported by this version yet; only QEMU virtual machines can"
                .to_owned()
        }),
        details_pending: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(vmid: u32, kind: &str, node: &str, name: &str, pool: Option<&str>) -> Resource {
        Resource {
            id: format!("{kind}/{vmid}"),
            kind: kind.into(),
            node: node.into(),
            vmid,
            name: Some(name.into()),
            status: Some("running".into()),
            template: Some(0),
            maxcpu: Some(4.0),
            maxmem: Some(4 << 30),
            maxdisk: Some(32 << 30),
            disk: Some(0),
            pool: pool.map(str::to_owned),
            tags: Some("b;a".into()),
            lock: None,
        }
    }

    #[test]
    fn paths_make_a_datacenter_node_pool_tree_and_stay_unique() {
        let inv = Inventory {
            datacenter: "lab".into(),
            node_addresses: BTreeMap::new(),
            details_pending: false,
            guests: vec![
                Guest {
                    resource: resource(100, "qemu", "pve1", "web", Some("prod")),
                    config: None,
                },
                Guest {
                    resource: resource(101, "qemu", "pve1", "web", Some("prod")),
                    config: None,
                },
                Guest {
                    resource: resource(102, "qemu", "pve2", "a/b", None),
                    config: None,
                },
                Guest {
                    resource: resource(200, "lxc", "pve2", "", None),
                    config: None,
                },
            ],
        };
        let vms = inv.vm_infos();
        let paths: Vec<&str> = vms.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/lab/pve1/prod/web (100)",
                "/lab/pve1/prod/web (101)",
                "/lab/pve2/CT 200",
                "/lab/pve2/a∕b"
            ]
        );
        let ct = vms
            .iter()
            .find(|v| v.id == "200")
            .expect("container listed");
        assert!(ct.not_exportable.is_some());
        let web = &vms[0];
        assert_eq!(web.host.as_deref(), Some("pve1"));
        assert_eq!(web.resource_pool.as_deref(), Some("prod"));
        assert_eq!(web.tags, ["a", "b"]);
        assert_eq!((web.cpus, web.memory_mib), (4, 4096));
        assert!(web.not_exportable.is_none());
    }

    #[test]
    fn node_names_are_checked_before_they_reach_a_url() {
        assert!(path_segment("pve-1.lab").is_ok());
        assert!(path_segment("../access").is_err());
        assert!(path_segment("").is_err());
    }
}
