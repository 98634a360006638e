//! OVF descriptor reader: namespace-aware, tolerant of real-world producers (vSphere/ovftool,
//! VirtualBox, oVirt/virt-v2v `xsi:type` sections, OVF 2.0 envelopes, any prefixes), and total:
//! every input yields `Ok` or an `Err`, never a panic; size, depth and node count are bounded.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use serde::{Deserialize, Serialize};

use crate::model::{Controller, DiskFormat, DiskSpec, Firmware, NetworkSpec, OsInfo, VmSpec};
use crate::{Error, Result};

/// Largest descriptor accepted (real ones are a few KiB to a few hundred KiB).
pub const MAX_DESCRIPTOR_BYTES: usize = 16 * 1024 * 1024;
const MAX_DEPTH: usize = 128;
const MAX_NODES: usize = 500_000;

const OVF_NAMESPACES: &[&str] = &[
    "http://schemas.dmtf.org/ovf/envelope/1",
    "http://schemas.dmtf.org/ovf/envelope/2",
    // oVirt / RHV and virt-v2v `-o ovirt|rhv` write the namespace with a trailing slash.
    "http://schemas.dmtf.org/ovf/envelope/1/",
];
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// A `References/File` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// `ovf:id`.
    pub id: String,
    /// `ovf:href`.
    pub href: String,
    /// `ovf:size`, when present.
    pub size: Option<u64>,
}

/// A parsed descriptor: the VM plus every file it references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The (first) virtual system.
    pub vm: VmSpec,
    /// All `References/File` entries, in order.
    pub files: Vec<FileRef>,
}

#[derive(Debug, Default)]
struct Node {
    ns: Option<String>,
    name: String,
    attrs: Vec<(Option<String>, String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn is_ovf(&self, local: &str) -> bool {
        self.name == local
            && self
                .ns
                .as_deref()
                .is_some_and(|n| OVF_NAMESPACES.contains(&n))
    }
    /// An OVF section by element name, or a generic `<Section xsi:type="…:NAME_Type">` (oVirt).
    fn is_section(&self, local: &str) -> bool {
        if self.is_ovf(local) {
            return true;
        }
        (self.is_ovf("Section") || self.is_ovf("Content"))
            && self
                .attr_ns(NS_XSI, "type")
                .is_some_and(|t| t.rsplit(':').next() == Some(&format!("{local}_Type")))
    }
    /// An attribute by local name in the OVF namespace or unqualified.
    fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(ns, n, _)| {
                n == local && ns.as_deref().is_none_or(|ns| OVF_NAMESPACES.contains(&ns))
            })
            .map(|a| a.2.as_str())
    }
    fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n_ns, n, _)| n == local && n_ns.as_deref() == Some(ns))
            .map(|a| a.2.as_str())
    }
    /// An attribute by local name in any namespace.
    fn attr_any(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(_, n, _)| n == local)
            .map(|a| a.2.as_str())
    }
    fn children_where<'a>(
        &'a self,
        f: impl Fn(&Node) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| f(c))
    }
    fn child_text(&self, local: &str) -> Option<&str> {
        self.children
            .iter()
            .find(|c| c.name == local)
            .map(|c| c.text.trim())
    }
    fn find_first<'a>(&'a self, f: &dyn Fn(&Node) -> bool) -> Option<&'a Node> {
        let mut stack: Vec<&Node> = vec![self];
        while let Some(n) = stack.pop() {
            if f(n) {
                return Some(n);
            }
            stack.extend(n.children.iter().rev());
        }
        None
    }
}

fn ns_of(r: ResolveResult<'_>) -> Option<String> {
    match r {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        _ => None,
    }
}

fn malformed(msg: impl std::fmt::Display) -> Error {
    Error::OvfMalformed(msg.to_string())
}

fn parse_tree(xml: &str) -> Result<Node> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut count = 0usize;

    let open = |reader: &NsReader<&[u8]>, e: &quick_xml::events::BytesStart<'_>| -> Result<Node> {
        let (ns, local) = reader.resolve_element(e.name());
        let mut node = Node {
            ns: ns_of(ns),
            name: String::from_utf8_lossy(local.as_ref()).into_owned(),
            ..Node::default()
        };
        for a in e.attributes() {
            let a = a.map_err(malformed)?;
            let (ans, alocal) = reader.resolve_attribute(a.key);
            let ans = ns_of(ans);
            if ans.as_deref() == Some("http://www.w3.org/2000/xmlns/")
                || a.key.as_ref().starts_with(b"xmlns")
            {
                continue;
            }
            let value = a.unescape_value().map_err(malformed)?.into_owned();
            node.attrs.push((
                ans,
                String::from_utf8_lossy(alocal.as_ref()).into_owned(),
                value,
            ));
        }
        Ok(node)
    };

    loop {
        let ev = reader.read_event().map_err(|e| {
            malformed(format!(
                "XML error at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match ev {
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_NODES {
                    return Err(malformed(
                        "descriptor nests too deep or has too many elements",
                    ));
                }
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                let node = open(&reader, &e)?;
                stack.push(node);
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_NODES {
                    return Err(malformed("descriptor has too many elements"));
                }
                let node = open(&reader, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err(malformed("content after the root element")),
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(cur) = stack.last_mut() {
                    let s = t.xml_content().map_err(malformed)?;
                    cur.text.push_str(&s);
                } else if !t.iter().all(|b| b.is_ascii_whitespace()) {
                    return Err(malformed("text outside the root element"));
                }
            }
            Event::CData(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let s = if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    c.to_string()
                } else {
                    let name = r.decode().map_err(malformed)?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(v) => v.to_string(),
                        None => return Err(malformed(format!("unknown entity &{name};"))),
                    }
                };
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&s);
                }
            }
            Event::DocType(_) => {
                // Entity declarations are a classic amplification vector; descriptors never need them.
                return Err(malformed("DOCTYPE declarations are not accepted"));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unexpected end of document (unclosed elements)"));
    }
    root.ok_or_else(|| malformed("empty document"))
}

/// Parses a quantity with CIM/OVF allocation units into bytes × `unit_out`
/// (e.g. `("2048", "byte * 2^20")` → 2048 MiB). Accepts `byte * 2^N`, `byte*1024^N`-free forms,
/// `KiloBytes`/`MegaBytes`/`GigaBytes`/`TeraBytes`, `KB`/`MB`/`GB` and a bare `byte`.
fn units_to_shift(units: &str) -> Option<u32> {
    let u: String = units
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if u.is_empty() || u == "byte" || u == "bytes" {
        return Some(0);
    }
    if let Some(rest) = u.strip_prefix("byte*2^") {
        return rest.parse::<u32>().ok().filter(|s| *s < 64);
    }
    match u.as_str() {
        "kilobytes" | "kb" | "kib" => Some(10),
        "megabytes" | "mb" | "mib" => Some(20),
        "gigabytes" | "gb" | "gib" => Some(30),
        "terabytes" | "tb" | "tib" => Some(40),
        _ => None,
    }
}

fn quantity_bytes(value: &str, units: Option<&str>, default_shift: u32, what: &str) -> Result<u64> {
    let v: u64 = value
        .trim()
        .parse()
        .map_err(|_| malformed(format!("{what}: {value:?} is not a number")))?;
    let shift = match units {
        Some(u) => {
            units_to_shift(u).ok_or_else(|| malformed(format!("{what}: unknown units {u:?}")))?
        }
        None => default_shift,
    };
    v.checked_mul(1u64 << shift)
        .ok_or_else(|| malformed(format!("{what}: value overflows")))
}

struct RasdItem<'a> {
    node: &'a Node,
}

impl<'a> RasdItem<'a> {
    fn get(&self, local: &str) -> Option<&'a str> {
        self.node.child_text(local).filter(|s| !s.is_empty())
    }
    fn rtype(&self) -> Option<u32> {
        self.get("ResourceType").and_then(|s| s.parse().ok())
    }
}

/// Parses descriptor bytes. The input may carry a UTF-8 BOM; other encodings are rejected.
pub fn parse_descriptor(bytes: &[u8]) -> Result<Descriptor> {
    if bytes.len() > MAX_DESCRIPTOR_BYTES {
        return Err(malformed("descriptor larger than 16 MiB"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let xml = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    let root = parse_tree(xml)?;
    if !root.is_ovf("Envelope") {
        return Err(malformed(format!(
            "root element is {:?} in namespace {:?}, not an OVF Envelope",
            root.name, root.ns
        )));
    }

    let mut files = Vec::new();
    for refs in root.children_where(|c| c.is_ovf("References")) {
        for f in refs.children_where(|c| c.is_ovf("File")) {
            let id = f
                .attr("id")
                .ok_or_else(|| malformed("File without ovf:id"))?;
            let href = f
                .attr("href")
                .ok_or_else(|| malformed("File without ovf:href"))?;
            let size = match f.attr("size") {
                Some(s) => Some(
                    s.trim()
                        .parse::<u64>()
                        .map_err(|_| malformed(format!("File {id:?}: bad ovf:size {s:?}")))?,
                ),
                None => None,
            };
            files.push(FileRef {
                id: id.to_string(),
                href: href.to_string(),
                size,
            });
        }
    }

    let vs = root
        .find_first(&|n| n.is_section("VirtualSystem"))
        .ok_or_else(|| malformed("no VirtualSystem"))?;
    let hw = vs
        .children_where(|c| c.is_section("VirtualHardwareSection"))
        .next()
        .ok_or_else(|| malformed("VirtualSystem has no VirtualHardwareSection"))?;
    let items: Vec<RasdItem<'_>> = hw
        .children
        .iter()
        .filter(|c| matches!(c.name.as_str(), "Item" | "StorageItem" | "EthernetPortItem"))
        .map(|node| RasdItem { node })
        .collect();
    // Prefer items that belong to no particular deployment configuration.
    let pick = |rt: u32| -> Option<&RasdItem<'_>> {
        items
            .iter()
            .filter(|i| i.rtype() == Some(rt))
            .min_by_key(|i| i.node.attr("configuration").is_some())
    };

    let cpus: u32 = match pick(3).and_then(|i| i.get("VirtualQuantity")) {
        Some(q) => q
            .parse()
            .map_err(|_| malformed(format!("CPU count {q:?} is not a number")))?,
        None => return Err(malformed("no CPU item (ResourceType 3)")),
    };
    let memory_mib = match pick(4) {
        Some(i) => {
            let q = i
                .get("VirtualQuantity")
                .ok_or_else(|| malformed("memory item without VirtualQuantity"))?;
            // Memory defaults to MB when no units are given (OVF 1.0 producers).
            quantity_bytes(q, i.get("AllocationUnits"), 20, "memory")? >> 20
        }
        None => return Err(malformed("no memory item (ResourceType 4)")),
    };

    let name = vs
        .children_where(|c| c.is_ovf("Name"))
        .next()
        .map(|n| n.text.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| vs.attr("id").map(str::to_string))
        .unwrap_or_default();

    let mut firmware = Firmware::Bios;
    if let Some(cfg) = hw.children.iter().find(|c| {
        c.name == "Config"
            && c.attr_any("key")
                .is_some_and(|k| k.eq_ignore_ascii_case("firmware"))
    }) && cfg
        .attr_any("value")
        .is_some_and(|v| v.eq_ignore_ascii_case("efi"))
    {
        firmware = Firmware::Efi;
    }
    // VirtualBox keeps it in its own vbox:Machine section: <Firmware type="EFI"/>.
    if firmware == Firmware::Bios
        && vs
            .find_first(&|n| {
                n.name == "Firmware"
                    && n.attr_any("type")
                        .is_some_and(|t| t.to_ascii_uppercase().starts_with("EFI"))
            })
            .is_some()
    {
        firmware = Firmware::Efi;
    }

    let os = match vs
        .children_where(|c| c.is_section("OperatingSystemSection"))
        .next()
    {
        Some(s) => {
            let id = s
                .attr("id")
                .and_then(|v| v.trim().parse::<u16>().ok())
                .unwrap_or(0);
            let description = s
                .children
                .iter()
                .find(|c| c.name == "Description")
                .map(|c| c.text.trim().to_string())
                .filter(|s| !s.is_empty());
            Some(OsInfo { id, description })
        }
        None => None,
    };

    let system_type = hw
        .children
        .iter()
        .find(|c| c.name == "System")
        .and_then(|s| s.child_text("VirtualSystemType"))
        .filter(|s| !s.is_empty())
        .map(str::to_string);

    // Disks: DiskSection order; the controller comes from the hard-disk Item's Parent.
    let mut disks = Vec::new();
    for ds in root.children_where(|c| c.is_section("DiskSection")) {
        for d in ds.children_where(|c| c.is_ovf("Disk")) {
            let disk_id = d
                .attr("diskId")
                .ok_or_else(|| malformed("Disk without ovf:diskId"))?;
            // oVirt writes no ovf:capacity but ovf:size in GiB.
            let capacity_bytes = match (d.attr("capacity"), d.attr("size")) {
                (Some(cap), _) => quantity_bytes(
                    cap,
                    d.attr("capacityAllocationUnits"),
                    0,
                    &format!("Disk {disk_id:?} capacity"),
                )?,
                (None, Some(gib)) => {
                    quantity_bytes(gib, None, 30, &format!("Disk {disk_id:?} size"))?
                }
                (None, None) => {
                    return Err(malformed(format!("Disk {disk_id:?} without ovf:capacity")));
                }
            };
            let file_id = d.attr("fileRef").unwrap_or_default().to_string();
            let file = files.iter().find(|f| f.id == file_id);
            if !file_id.is_empty() && file.is_none() {
                return Err(malformed(format!(
                    "Disk {disk_id:?} refers to unknown file {file_id:?}"
                )));
            }
            let format = DiskFormat::from_uri(d.attr("format").unwrap_or_default());
            let item = items.iter().find(|i| {
                i.rtype() == Some(17)
                    && i.get("HostResource").is_some_and(|h| {
                        h.strip_prefix("ovf:").unwrap_or(h).trim_start_matches('/')
                            == format!("disk/{disk_id}")
                    })
            });
            let parent = item.and_then(|i| i.get("Parent"));
            let ctrl = parent.and_then(|p| items.iter().find(|i| i.get("InstanceID") == Some(p)));
            let controller = match ctrl.map(|c| (c.rtype(), c.get("ResourceSubType"))) {
                Some((Some(5), _)) => Controller::Ide,
                Some((Some(6), sub)) => Controller::Scsi {
                    subtype: sub.unwrap_or("lsilogic").to_string(),
                },
                Some((_, Some(sub))) if sub.to_ascii_lowercase().contains("nvme") => {
                    Controller::Nvme
                }
                _ => Controller::Sata,
            };
            disks.push(DiskSpec {
                disk_id: disk_id.to_string(),
                file_id,
                href: file.map(|f| f.href.clone()).unwrap_or_default(),
                file_size: file.and_then(|f| f.size),
                capacity_bytes,
                format,
                controller,
            });
        }
    }

    let mut networks: Vec<NetworkSpec> = items
        .iter()
        .filter(|i| i.rtype() == Some(10))
        .map(|i| NetworkSpec {
            name: i.get("Connection").unwrap_or_default().to_string(),
            adapter: i.get("ResourceSubType").map(str::to_string),
        })
        .filter(|n| !n.name.is_empty())
        .collect();
    if networks.is_empty() {
        for ns in root.children_where(|c| c.is_section("NetworkSection")) {
            for n in ns.children_where(|c| c.is_ovf("Network")) {
                if let Some(name) = n.attr("name") {
                    networks.push(NetworkSpec {
                        name: name.to_string(),
                        adapter: None,
                    });
                }
            }
        }
    }

    Ok(Descriptor {
        vm: VmSpec {
            name,
            cpus,
            memory_mib,
            firmware,
            os,
            system_type,
            disks,
            networks,
        },
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VSPHERE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!--Generated by VMware ovftool 4.4.0 (build-15722219), UTC time: 2021-01-01T00:00:00.000Z-->
<Envelope vmw:buildId="build-15722219" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="photon-disk1.vmdk" ovf:id="file1" ovf:size="312934912"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="0"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The VM Network network</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="photon">
    <Info>A virtual machine</Info>
    <Name>photon &amp; co</Name>
    <OperatingSystemSection ovf:id="36" vmw:osType="other3xLinux64Guest">
      <Info>The kind of installed guest operating system</Info>
      <Description>Other 3.x or later Linux (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>photon</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>2048MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>2048</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI Controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard Disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
        <vmw:Config ovf:required="false" vmw:key="backing.writeThrough" vmw:value="false"/>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VmxNet3 ethernet adapter on &quot;VM Network&quot;</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>"#;

    // VirtualBox 7 style: OVF 1.0, unprefixed defaults, MegaBytes, vbox:Machine firmware.
    const VBOX: &str = r#"<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
    <File ovf:id="file1" ovf:href="deb-disk001.vmdk"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="21474836480" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" vbox:uuid="c7a"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
    <Network ovf:name="NAT"><Description>Logical network used by this appliance.</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="deb">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="96"><Info>The kind of installed guest operating system</Info><Description>Debian_64</Description><vbox:OSType ovf:required="false">Debian_64</vbox:OSType></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemIdentifier>deb</vssd:VirtualSystemIdentifier><vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType></System>
      <Item><rasd:Caption>1 virtual CPU</rasd:Caption><rasd:Description>Number of virtual CPUs</rasd:Description><rasd:ElementName>1 virtual CPU</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:Caption>1024 MB of memory</rasd:Caption><rasd:ElementName>1024 MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Caption>sataController0</rasd:Caption><rasd:ElementName>sataController0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
      <Item><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Caption>Ethernet adapter on 'NAT'</rasd:Caption><rasd:Connection>NAT</rasd:Connection><rasd:ElementName>Ethernet adapter on 'NAT'</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:Caption>disk1</rasd:Caption><rasd:ElementName>disk1</rasd:ElementName><rasd:HostResource>/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>7</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" version="1.19-linux" uuid="{x}" name="deb"><ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info><Hardware><Firmware type="EFI"/></Hardware></vbox:Machine>
  </VirtualSystem>
</Envelope>"#;

    // oVirt / virt-v2v -o ovirt style: generic <Section xsi:type=…>, odd prefixes.
    const OVIRT: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<o:Envelope xmlns:o="http://schemas.dmtf.org/ovf/envelope/1/" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1/" xmlns:r="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ovf:version="0.9">
  <o:References><o:File ovf:href="a/b" ovf:id="b" ovf:size="1234"/></o:References>
  <o:Section xsi:type="ovf:DiskSection_Type"><o:Info>disks</o:Info>
    <o:Disk ovf:diskId="b" ovf:fileRef="b" ovf:capacity="5" ovf:capacityAllocationUnits="byte * 2^30" ovf:format="http://www.gnome.org/~markmc/qcow-image-format.html"/>
  </o:Section>
  <o:Content xsi:type="ovf:VirtualSystem_Type" ovf:id="x"><o:Name>guest1</o:Name>
    <o:Section xsi:type="ovf:VirtualHardwareSection_Type"><o:Info>hw</o:Info>
      <o:Item><r:ResourceType>3</r:ResourceType><r:VirtualQuantity>4</r:VirtualQuantity></o:Item>
      <o:Item><r:ResourceType>4</r:ResourceType><r:AllocationUnits>GigaBytes</r:AllocationUnits><r:VirtualQuantity>2</r:VirtualQuantity></o:Item>
      <o:Item><r:ResourceType>17</r:ResourceType><r:HostResource>b</r:HostResource></o:Item>
    </o:Section>
  </o:Content>
</o:Envelope>"#;

    #[test]
    fn reads_vsphere() {
        let d = parse_descriptor(VSPHERE.as_bytes()).expect("parse");
        let vm = &d.vm;
        assert_eq!(vm.name, "photon & co");
        assert_eq!(
            (vm.cpus, vm.memory_mib, vm.firmware),
            (2, 2048, Firmware::Efi)
        );
        assert_eq!(vm.system_type.as_deref(), Some("vmx-13"));
        assert_eq!(vm.os.as_ref().map(|o| o.id), Some(36));
        assert_eq!(vm.disks.len(), 1);
        let disk = &vm.disks[0];
        assert_eq!(disk.capacity_bytes, 16 << 30);
        assert_eq!(disk.href, "photon-disk1.vmdk");
        assert_eq!(disk.file_size, Some(312934912));
        assert_eq!(disk.format, DiskFormat::VmdkStreamOptimized);
        assert_eq!(
            disk.controller,
            Controller::Scsi {
                subtype: "VirtualSCSI".into()
            }
        );
        assert_eq!(
            vm.networks,
            vec![NetworkSpec {
                name: "VM Network".into(),
                adapter: Some("VmxNet3".into())
            }]
        );
    }

    #[test]
    fn reads_virtualbox() {
        let d = parse_descriptor(VBOX.as_bytes()).expect("parse");
        assert_eq!(d.vm.name, "deb");
        assert_eq!(
            (d.vm.cpus, d.vm.memory_mib, d.vm.firmware),
            (1, 1024, Firmware::Efi)
        );
        assert_eq!(d.vm.disks[0].capacity_bytes, 20 << 30);
        assert_eq!(d.vm.disks[0].file_size, None);
        assert_eq!(d.vm.disks[0].controller, Controller::Sata);
        assert_eq!(d.vm.networks[0].adapter.as_deref(), Some("E1000"));
    }

    #[test]
    fn ovirt_style_sections_and_namespace() {
        // oVirt's namespace (trailing '/'), generic xsi:type sections, Content element.
        let d = parse_descriptor(OVIRT.as_bytes()).expect("parse");
        assert_eq!(d.vm.name, "guest1");
        // …and the same with the standard namespace.
        let fixed = OVIRT.replace("envelope/1/", "envelope/1");
        let d = parse_descriptor(fixed.as_bytes()).expect("parse");
        assert_eq!(
            (d.vm.name.as_str(), d.vm.cpus, d.vm.memory_mib),
            ("guest1", 4, 2048)
        );
        assert_eq!(d.vm.disks[0].format, DiskFormat::Qcow2);
        assert_eq!(d.vm.disks[0].capacity_bytes, 5 << 30);
        // oVirt disks carry ovf:size (GiB) instead of ovf:capacity.
        let sized = OVIRT.replace(
            r#"ovf:capacity="5" ovf:capacityAllocationUnits="byte * 2^30""#,
            r#"ovf:size="7""#,
        );
        let d = parse_descriptor(sized.as_bytes()).expect("parse");
        assert_eq!(d.vm.disks[0].capacity_bytes, 7 << 30);
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\xff\xfe<".to_vec(),
            b"<Envelope/>".to_vec(),
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>".to_vec(),
            b"<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1'>".to_vec(),
            b"<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1'></Envelope>".to_vec(),
            b"<a></b>".to_vec(),
            b"<a/><b/>".to_vec(),
            "<a>&bogus;</a>".as_bytes().to_vec(),
            "<a>&#xFFFFFFFF;</a>".as_bytes().to_vec(),
            "<a x='1' x='2'/>".as_bytes().to_vec(),
            "<p:a/>".as_bytes().to_vec(),
            "<".repeat(10).into_bytes(),
            "<a>".repeat(10_000).into_bytes(),
            VSPHERE.replace(">2048<", ">lots<").into_bytes(),
            VSPHERE.replace("byte * 2^30", "byte * 2^99").into_bytes(),
            VSPHERE
                .replace("\"16\"", "\"99999999999999999999\"")
                .into_bytes(),
            VSPHERE
                .replace("ovf:fileRef=\"file1\"", "ovf:fileRef=\"nope\"")
                .into_bytes(),
            VSPHERE
                .replace("<rasd:ResourceType>3</rasd:ResourceType>", "")
                .into_bytes(),
            VSPHERE
                .replace("ovf:size=\"312934912\"", "ovf:size=\"-1\"")
                .into_bytes(),
        ];
        for (i, c) in cases.iter().enumerate() {
            let r = parse_descriptor(c);
            assert!(r.is_err(), "case {i} unexpectedly parsed: {r:?}");
        }
        // Every prefix of a valid descriptor and single-byte corruptions: no panic.
        let bytes = VSPHERE.as_bytes();
        for cut in 0..bytes.len() {
            let _ = parse_descriptor(&bytes[..cut]);
        }
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut m = bytes.to_vec();
            let pos = (seed as usize) % m.len();
            m[pos] = (seed >> 32) as u8;
            let _ = parse_descriptor(&m);
        }
    }
}
