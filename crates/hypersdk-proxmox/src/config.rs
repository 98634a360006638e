//! A QEMU guest's configuration, read from the API (`GET …/qemu/{vmid}/config`,
//! a JSON object) or from the `qemu-server.conf` inside a vzdump archive
//! (`key: value` lines, the same keys), and what it means as hardware.
//!
//! Property strings (`local-lvm:vm-100-disk-0,size=32G,cache=none`) follow
//! `qm.conf(5)`; only what an export needs is read.

use std::collections::BTreeMap;

/// A disk's bus, from its key (`scsi0`, `virtio1`, `sata2`, `ide3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bus {
    Ide,
    Sata,
    Scsi,
    Virtio,
}

/// One `scsiN`/`virtioN`/`sataN`/`ideN` drive that is a disk (not a CD-ROM,
/// not `none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drive {
    /// The config key, e.g. `scsi0`.
    pub key: String,
    pub bus: Bus,
    pub index: u32,
    /// The volume, e.g. `local-lvm:vm-100-disk-0`.
    pub volume: String,
    /// `size=` in bytes, when given.
    pub size_bytes: Option<u64>,
    /// `backup=0` leaves the disk out of vzdump archives.
    pub backup: bool,
}

/// One `netN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub key: String,
    /// `virtio`, `e1000`, `vmxnet3`, `rtl8139`, …
    pub model: String,
    pub mac: Option<String>,
    pub bridge: Option<String>,
}

/// What a guest config says about the hardware.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestConfig {
    pub name: Option<String>,
    pub cores: u32,
    pub sockets: u32,
    /// `vcpus` (hot-plugged vCPUs online), when set.
    pub vcpus: Option<u32>,
    pub memory_mib: u64,
    /// `ostype` (`l26`, `win11`, …).
    pub ostype: Option<String>,
    /// `bios: ovmf` is UEFI.
    pub uefi: bool,
    /// `scsihw` (`virtio-scsi-single`, `lsi`, …).
    pub scsihw: Option<String>,
    pub drives: Vec<Drive>,
    pub nics: Vec<Nic>,
    pub tags: Vec<String>,
    /// `#qmdump#map:<drive key>:<vma device name>:<storage>:<format>:` lines
    /// of an archive's config: drive key → VMA device name.
    pub archive_map: BTreeMap<String, String>,
}

impl GuestConfig {
    /// From the API's JSON object.
    pub fn from_json(map: &serde_json::Map<String, serde_json::Value>) -> GuestConfig {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        GuestConfig::from_pairs(map.iter().map(|(k, v)| (k.as_str(), text(v))), Vec::new())
    }

    /// From `qemu-server.conf` text. Snapshot sections (`[name]`) and
    /// `pending` are not the current config and are skipped.
    pub fn from_conf(text: &str) -> GuestConfig {
        let mut pairs = Vec::new();
        let mut map_lines = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.starts_with('[') {
                break;
            }
            if let Some(rest) = line.strip_prefix("#qmdump#map:") {
                map_lines.push(rest.to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                pairs.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        GuestConfig::from_pairs(
            pairs.iter().map(|(k, v)| (k.as_str(), v.clone())),
            map_lines,
        )
    }

    fn from_pairs<'a>(
        pairs: impl Iterator<Item = (&'a str, String)>,
        map_lines: Vec<String>,
    ) -> GuestConfig {
        let mut c = GuestConfig {
            cores: 1,
            sockets: 1,
            memory_mib: 512,
            ..GuestConfig::default()
        };
        for (key, value) in pairs {
            match key {
                "name" => c.name = Some(value),
                "cores" => c.cores = value.parse().unwrap_or(1).max(1),
                "sockets" => c.sockets = value.parse().unwrap_or(1).max(1),
                "vcpus" => c.vcpus = value.parse().ok().filter(|n| *n > 0),
                // `memory: 4096` or, since PVE 8.1, `memory: current=4096`.
                "memory" => {
                    let v = property(&value, "current").unwrap_or_else(|| first(&value));
                    c.memory_mib = v.parse().unwrap_or(512);
                }
                "ostype" => c.ostype = Some(value),
                "bios" => c.uefi = value.trim() == "ovmf",
                "scsihw" => c.scsihw = Some(value),
                "tags" => c.tags = split_tags(&value),
                _ => {
                    if let Some(d) = drive(key, &value) {
                        c.drives.push(d);
                    } else if let Some(n) = nic(key, &value) {
                        c.nics.push(n);
                    }
                }
            }
        }
        c.drives.sort_by_key(|d| (d.bus, d.index));
        c.nics
            .sort_by_key(|n| n.key.trim_start_matches("net").parse::<u32>().unwrap_or(0));
        for line in map_lines {
            // `scsi0:drive-scsi0:local-lvm:raw:`
            let mut parts = line.split(':');
            if let (Some(key), Some(dev)) = (parts.next(), parts.next()) {
                c.archive_map.insert(key.to_owned(), dev.to_owned());
            }
        }
        c
    }

    /// Virtual CPUs the guest sees.
    pub fn cpus(&self) -> u32 {
        self.vcpus
            .unwrap_or(self.cores.saturating_mul(self.sockets))
            .max(1)
    }
}

/// PVE tags: `a;b`, also `,` or space separated; sorted, unique.
pub fn split_tags(value: &str) -> Vec<String> {
    let mut tags: Vec<String> = value
        .split([';', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

fn first(value: &str) -> String {
    value.split(',').next().unwrap_or("").trim().to_owned()
}

fn property(value: &str, name: &str) -> Option<String> {
    value.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim() == name).then(|| v.trim().to_owned())
    })
}

fn drive(key: &str, value: &str) -> Option<Drive> {
    let (bus, index) = [
        ("scsi", Bus::Scsi),
        ("virtio", Bus::Virtio),
        ("sata", Bus::Sata),
        ("ide", Bus::Ide),
    ]
    .iter()
    .find_map(|(prefix, bus)| {
        let n = key.strip_prefix(prefix)?;
        n.parse::<u32>().ok().map(|i| (*bus, i))
    })?;
    let volume = first(value);
    let media = property(value, "media");
    if volume == "none" || media.as_deref() == Some("cdrom") || volume.ends_with(".iso") {
        return None;
    }
    // The volume may itself be `file=…` in older configs.
    let volume = volume.strip_prefix("file=").unwrap_or(&volume).to_owned();
    Some(Drive {
        key: key.to_owned(),
        bus,
        index,
        volume,
        size_bytes: property(value, "size").and_then(|s| parse_size(&s)),
        backup: property(value, "backup").as_deref() != Some("0"),
    })
}

fn nic(key: &str, value: &str) -> Option<Nic> {
    key.strip_prefix("net")?.parse::<u32>().ok()?;
    let mut model = String::new();
    let mut mac = None;
    for part in value.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if model.is_empty()
            && matches!(
                k,
                "virtio"
                    | "e1000"
                    | "e1000e"
                    | "vmxnet3"
                    | "rtl8139"
                    | "ne2k_pci"
                    | "pcnet"
                    | "i82551"
                    | "i82557b"
                    | "i82559er"
                    | "ne2k_isa"
                    | "e1000-82540em"
                    | "e1000-82544gc"
                    | "e1000-82545em"
            )
        {
            model = k.to_owned();
            mac = Some(v.to_owned());
        } else if k == "model" {
            model = v.to_owned();
        } else if k == "macaddr" {
            mac = Some(v.to_owned());
        }
    }
    Some(Nic {
        key: key.to_owned(),
        model,
        mac,
        bridge: property(value, "bridge"),
    })
}

/// `32G`, `512M`, `1T`, `4096K`, or plain bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let n: f64 = digits.parse().ok()?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    Some((n * mult as f64).round() as u64)
}

/// A person's name for PVE's `ostype` codes (`qm.conf(5)`).
pub fn os_name(ostype: &str) -> String {
    match ostype {
        "l26" => "Linux 2.6 – 6.x kernel",
        "l24" => "Linux 2.4 kernel",
        "win11" => "Windows 11/2022/2025",
        "win10" => "Windows 10/2016/2019",
        "win8" => "Windows 8/2012/2012r2",
        "win7" => "Windows 7/2008r2",
        "w2k8" => "Windows Vista/2008",
        "wvista" => "Windows Vista",
        "w2k3" => "Windows 2003",
        "w2k" => "Windows 2000",
        "wxp" => "Windows XP",
        "solaris" => "Solaris kernel",
        "other" => "Other",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// The CIM OS id the OVF descriptor uses (DSP0243 `ovf:id`): 101 Linux
/// 64-bit, 103 Windows 64-bit, 1 "Other".
pub fn cim_os_id(ostype: Option<&str>) -> u16 {
    match ostype {
        Some("l26") => 101,
        Some("l24") => 36,
        Some(w) if w.starts_with('w') => 103,
        Some("solaris") => 29,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "\
#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:
#qmdump#map:virtio1:drive-virtio1:local:qcow2:
bios: ovmf
boot: order=scsi0;ide2
cores: 2
ide2: local:iso/debian-12.iso,media=cdrom,size=600M
memory: 4096
name: web01
net0: virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1
net1: model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr1
ostype: l26
scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G
scsihw: virtio-scsi-single
sockets: 2
tags: web;prod
virtio1: local:100/vm-100-disk-1.qcow2,size=512M,backup=1

[before-upgrade]
cores: 1
scsi1: local-lvm:vm-100-disk-9,size=1G
";

    #[test]
    fn an_archive_config_reads_as_hardware() {
        let c = GuestConfig::from_conf(CONF);
        assert_eq!(c.name.as_deref(), Some("web01"));
        assert_eq!((c.cores, c.sockets, c.cpus()), (2, 2, 4));
        assert_eq!(c.memory_mib, 4096);
        assert!(c.uefi);
        assert_eq!(c.tags, ["prod", "web"]);
        let keys: Vec<&str> = c.drives.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            ["scsi0", "virtio1"],
            "the CD-ROM and the snapshot's disk are not disks"
        );
        assert_eq!(c.drives[0].size_bytes, Some(32 << 30));
        assert_eq!(c.drives[1].size_bytes, Some(512 << 20));
        assert_eq!(c.nics.len(), 2);
        assert_eq!(c.nics[0].model, "virtio");
        assert_eq!(c.nics[0].bridge.as_deref(), Some("vmbr0"));
        assert_eq!(c.nics[1].model, "e1000");
        assert_eq!(c.nics[1].mac.as_deref(), Some("BC:24:11:00:00:01"));
        assert_eq!(
            c.archive_map.get("scsi0").map(String::as_str),
            Some("drive-scsi0")
        );
        assert_eq!(
            c.archive_map.get("virtio1").map(String::as_str),
            Some("drive-virtio1")
        );
    }

    #[test]
    fn api_json_reads_the_same() {
        let json: serde_json::Value = serde_json::json!({
            "cores": 2, "sockets": 1, "memory": "current=2048", "ostype": "win11",
            "sata0": "local-lvm:vm-7-disk-0,size=64G,backup=0", "net0": "e1000=AA:BB:CC:DD:EE:FF,bridge=vmbr0",
            "ide0": "none,media=cdrom", "vcpus": 1, "tags": "b,a a"
        });
        let c = GuestConfig::from_json(json.as_object().expect("object"));
        assert_eq!(c.cpus(), 1);
        assert_eq!(c.memory_mib, 2048);
        assert_eq!(c.drives.len(), 1);
        assert!(!c.drives[0].backup);
        assert_eq!(c.tags, ["a", "b"]);
        assert_eq!(cim_os_id(c.ostype.as_deref()), 103);
    }

    #[test]
    fn sizes_and_names() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(os_name("l26"), "Linux 2.6 – 6.x kernel");
        assert_eq!(os_name("future9"), "future9");
    }
}
