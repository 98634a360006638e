//! The OVF descriptor model: what a VM export describes.

use serde::{Deserialize, Serialize};

/// Boot firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// Legacy BIOS.
    #[default]
    Bios,
    /// UEFI.
    Efi,
}

impl std::str::FromStr for Firmware {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bios" => Ok(Firmware::Bios),
            "efi" | "uefi" => Ok(Firmware::Efi),
            other => Err(crate::Error::InvalidSpec(format!(
                "unknown firmware {other:?}"
            ))),
        }
    }
}

/// Disk image formats, identified in the descriptor by `Disk/@ovf:format` URIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskFormat {
    /// VMDK streamOptimized (what vSphere and ovftool import).
    VmdkStreamOptimized,
    /// VMDK in another subformat (monolithicSparse, as VirtualBox/older tools label it).
    Vmdk,
    /// QEMU qcow2.
    Qcow2,
    /// Microsoft VHD (qemu's `vpc`).
    Vhd,
    /// Microsoft VHDX.
    Vhdx,
    /// VirtualBox VDI.
    Vdi,
    /// Raw image.
    Raw,
    /// A format URI this crate does not know.
    Other(String),
}

impl DiskFormat {
    /// URI written to `Disk/@ovf:format`.
    ///
    /// The VMDK URIs are VMware's (the ones ovftool/vSphere write and check). The qcow2 URI is the one
    /// oVirt/virt-v2v use; VHD is the one VirtualBox writes. VHDX, VDI and raw have no URI in common
    /// use; ours point at the format's specification and are recognised by this crate's reader.
    pub fn uri(&self) -> &str {
        match self {
            DiskFormat::VmdkStreamOptimized => {
                "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
            }
            DiskFormat::Vmdk => "http://www.vmware.com/interfaces/specifications/vmdk.html#sparse",
            DiskFormat::Qcow2 => "http://www.gnome.org/~markmc/qcow-image-format.html",
            DiskFormat::Vhd => "http://go.microsoft.com/fwlink/?LinkId=137171",
            DiskFormat::Vhdx => "https://learn.microsoft.com/openspecs/windows_protocols/ms-vhdx",
            DiskFormat::Vdi => "http://www.virtualbox.org/manual/ch05.html#vdidetails",
            DiskFormat::Raw => "http://www.qemu.org/docs/raw",
            DiskFormat::Other(u) => u,
        }
    }

    /// Maps a descriptor URI (case-insensitive, tolerant of the vmware.com variants) to a format.
    pub fn from_uri(uri: &str) -> DiskFormat {
        let u = uri.trim().to_ascii_lowercase();
        if u.contains("vmdk") {
            if u.ends_with("#streamoptimized") {
                DiskFormat::VmdkStreamOptimized
            } else {
                DiskFormat::Vmdk
            }
        } else if u.contains("qcow") {
            DiskFormat::Qcow2
        } else if u.contains("137171") || u.ends_with("#vhd") {
            DiskFormat::Vhd
        } else if u.contains("vhdx") {
            DiskFormat::Vhdx
        } else if u.contains("vdi") {
            DiskFormat::Vdi
        } else if u.contains("qemu.org/docs/raw") || u.ends_with("#raw") {
            DiskFormat::Raw
        } else {
            DiskFormat::Other(uri.trim().to_string())
        }
    }

    /// The `qemu-img -O` format name, if qemu can write this format.
    pub fn qemu_name(&self) -> Option<&'static str> {
        match self {
            DiskFormat::VmdkStreamOptimized | DiskFormat::Vmdk => Some("vmdk"),
            DiskFormat::Qcow2 => Some("qcow2"),
            DiskFormat::Vhd => Some("vpc"),
            DiskFormat::Vhdx => Some("vhdx"),
            DiskFormat::Vdi => Some("vdi"),
            DiskFormat::Raw => Some("raw"),
            DiskFormat::Other(_) => None,
        }
    }

    /// File extension for a disk in this format.
    pub fn extension(&self) -> &'static str {
        match self {
            DiskFormat::VmdkStreamOptimized | DiskFormat::Vmdk => "vmdk",
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vdi => "vdi",
            DiskFormat::Raw => "img",
            DiskFormat::Other(_) => "bin",
        }
    }

    /// Short name as used on the command line (`vmdk`, `qcow2`, …).
    pub fn short_name(&self) -> &str {
        match self {
            DiskFormat::VmdkStreamOptimized => "vmdk",
            DiskFormat::Vmdk => "vmdk-sparse",
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vdi => "vdi",
            DiskFormat::Raw => "raw",
            DiskFormat::Other(u) => u,
        }
    }
}

impl std::str::FromStr for DiskFormat {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "vmdk" | "streamoptimized" => DiskFormat::VmdkStreamOptimized,
            "qcow2" => DiskFormat::Qcow2,
            "vhd" | "vpc" => DiskFormat::Vhd,
            "vhdx" => DiskFormat::Vhdx,
            "vdi" => DiskFormat::Vdi,
            "raw" | "img" => DiskFormat::Raw,
            other => {
                return Err(crate::Error::InvalidSpec(format!(
                    "unknown disk format {other:?}"
                )));
            }
        })
    }
}

/// The kind of controller a disk hangs off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Controller {
    /// IDE (ResourceType 5); two devices per controller.
    Ide,
    /// SCSI (ResourceType 6) with a sub type such as `lsilogic`, `lsilogicsas`, `VirtualSCSI`.
    Scsi {
        /// `rasd:ResourceSubType`.
        subtype: String,
    },
    /// SATA/AHCI (ResourceType 20, `vmware.sata.ahci`).
    #[default]
    Sata,
    /// NVMe (ResourceType 20, `vmware.nvme.controller`).
    Nvme,
}

/// As people name them: `IDE`, `SCSI (lsilogic)`, `SATA`, `NVMe`.
impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Controller::Ide => f.write_str("IDE"),
            Controller::Scsi { subtype } if subtype.is_empty() => f.write_str("SCSI"),
            Controller::Scsi { subtype } => write!(f, "SCSI ({subtype})"),
            Controller::Sata => f.write_str("SATA"),
            Controller::Nvme => f.write_str("NVMe"),
        }
    }
}

impl Controller {
    /// Devices per controller instance.
    pub(crate) fn slots(&self) -> usize {
        match self {
            Controller::Ide => 2,
            Controller::Scsi { .. } => 15,
            Controller::Sata => 30,
            Controller::Nvme => 15,
        }
    }
}

/// A virtual disk in the descriptor (DiskSection/Disk + References/File + its Item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSpec {
    /// `Disk/@ovf:diskId`.
    pub disk_id: String,
    /// `File/@ovf:id`.
    pub file_id: String,
    /// `File/@ovf:href`: the file name inside the package.
    pub href: String,
    /// `File/@ovf:size`: the file's size in bytes, when known.
    pub file_size: Option<u64>,
    /// Virtual capacity in bytes (`Disk/@ovf:capacity` normalised with its allocation units).
    pub capacity_bytes: u64,
    /// Image format of the file.
    pub format: DiskFormat,
    /// The controller it is attached to.
    pub controller: Controller,
}

/// A network the VM connects to (NetworkSection/Network + an Ethernet Item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Network name (`Network/@ovf:name`, the Item's `rasd:Connection`).
    pub name: String,
    /// NIC model (`rasd:ResourceSubType`, e.g. `E1000`, `VmxNet3`, `virtio`), when known.
    pub adapter: Option<String>,
}

/// Guest OS (OperatingSystemSection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// CIM operating system id (`ovf:id`, e.g. 36 = Linux, 101 = Linux 64-bit, 103 = Windows 64-bit).
    pub id: u16,
    /// Free text, e.g. "Ubuntu 24.04".
    pub description: Option<String>,
}

/// A whole VM as an OVF descriptor describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// VM name (`VirtualSystem/Name`, falling back to `@ovf:id`).
    pub name: String,
    /// Virtual CPUs.
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Boot firmware.
    pub firmware: Firmware,
    /// Guest OS, when known.
    pub os: Option<OsInfo>,
    /// `vssd:VirtualSystemType` (e.g. `vmx-14`), when given.
    pub system_type: Option<String>,
    /// Disks in controller order.
    pub disks: Vec<DiskSpec>,
    /// NICs.
    pub networks: Vec<NetworkSpec>,
}

impl VmSpec {
    /// A VM with the given basics, no disks or networks, BIOS firmware and hardware family `vmx-14`.
    pub fn new(name: impl Into<String>, cpus: u32, memory_mib: u64) -> Self {
        VmSpec {
            name: name.into(),
            cpus,
            memory_mib,
            firmware: Firmware::Bios,
            os: None,
            system_type: Some("vmx-14".to_string()),
            disks: Vec::new(),
            networks: Vec::new(),
        }
    }

    /// Checks the spec can be written as a descriptor.
    pub fn validate(&self) -> crate::Result<()> {
        use crate::Error::InvalidSpec;
        if self.name.trim().is_empty() {
            return Err(InvalidSpec("VM name is empty".into()));
        }
        if self.cpus == 0 {
            return Err(InvalidSpec("cpus must be at least 1".into()));
        }
        if self.memory_mib == 0 {
            return Err(InvalidSpec("memory must be at least 1 MiB".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for d in &self.disks {
            if d.href.is_empty() || d.disk_id.is_empty() || d.file_id.is_empty() {
                return Err(InvalidSpec("disk with empty href/id".into()));
            }
            if !seen.insert(d.href.clone()) {
                return Err(InvalidSpec(format!("duplicate disk file {:?}", d.href)));
            }
        }
        for n in &self.networks {
            if n.name.is_empty() {
                return Err(InvalidSpec("network with empty name".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_print_as_people_name_them() {
        let scsi = Controller::Scsi {
            subtype: "lsilogic".into(),
        };
        let names: Vec<String> = [Controller::Ide, scsi, Controller::Sata, Controller::Nvme]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["IDE", "SCSI (lsilogic)", "SATA", "NVMe"]);
    }
}
