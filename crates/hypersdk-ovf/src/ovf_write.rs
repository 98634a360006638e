//! OVF 1.1 descriptor writer.
//!
//! The output validates against DMTF DSP8023 1.1.1 (`xmllint --schema dsp8023_1.1.1.xsd`): sections in
//! schema order, `rasd:`/`vssd:` children in the alphabetical order the CIM schemas require, and
//! extensions only where the schema allows `##other` (the `vmw:Config` firmware flag, which vSphere
//! and virt-v2v read).

use std::fmt::Write as _;

use crate::model::{Controller, Firmware, VmSpec};
use crate::{Error, Result};

pub(crate) const NS_OVF: &str = "http://schemas.dmtf.org/ovf/envelope/1";
pub(crate) const NS_RASD: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
pub(crate) const NS_VSSD: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";
pub(crate) const NS_VMW: &str = "http://www.vmware.com/schema/ovf";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Escapes text for element content and attribute values (both quote kinds), and replaces
/// characters XML 1.0 cannot carry at all (most C0 controls) with U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Text as it survives a descriptor round trip: characters XML 1.0 cannot carry become U+FFFD
/// and surrounding whitespace is trimmed (readers trim element text).
pub fn xml_safe_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// One `<Item>`: rasd fields as (name, value) pairs; sorted before writing.
struct Item {
    fields: Vec<(&'static str, String)>,
}

impl Item {
    fn new() -> Self {
        Item { fields: Vec::new() }
    }
    fn f(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }
    fn write(mut self, out: &mut String) {
        self.fields.sort_by(|a, b| a.0.cmp(b.0));
        out.push_str("      <Item>\n");
        for (k, v) in &self.fields {
            let _ = writeln!(out, "        <rasd:{k}>{}</rasd:{k}>", xml_escape(v));
        }
        out.push_str("      </Item>\n");
    }
}

fn controller_item(c: &Controller, instance: u32, index: usize) -> Item {
    let (rtype, subtype, label) = match c {
        Controller::Ide => ("5", None, "IDE Controller"),
        Controller::Scsi { subtype } => ("6", Some(subtype.clone()), "SCSI Controller"),
        Controller::Sata => (
            "20",
            Some("vmware.sata.ahci".to_string()),
            "SATA Controller",
        ),
        Controller::Nvme => (
            "20",
            Some("vmware.nvme.controller".to_string()),
            "NVME Controller",
        ),
    };
    let mut it = Item::new()
        .f("Address", index.to_string())
        .f("Description", format!("{label} {index}"))
        .f("ElementName", format!("{label} {index}"))
        .f("InstanceID", instance.to_string())
        .f("ResourceType", rtype);
    if let Some(s) = subtype {
        it = it.f("ResourceSubType", s);
    }
    it
}

/// Renders the descriptor. Fails only when the spec is invalid ([`VmSpec::validate`]).
pub fn write_descriptor(spec: &VmSpec) -> Result<String> {
    spec.validate()?;
    let mut o = String::with_capacity(8192);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<Envelope xmlns=\"{NS_OVF}\" xmlns:ovf=\"{NS_OVF}\" xmlns:rasd=\"{NS_RASD}\" \
         xmlns:vssd=\"{NS_VSSD}\" xmlns:vmw=\"{NS_VMW}\" xmlns:xsi=\"{NS_XSI}\" ovf:version=\"1.1\">"
    );
    o.push_str("  <References>\n");
    for d in &spec.disks {
        let _ = write!(
            o,
            "    <File ovf:id=\"{}\" ovf:href=\"{}\"",
            xml_escape(&d.file_id),
            xml_escape(&d.href)
        );
        if let Some(size) = d.file_size {
            let _ = write!(o, " ovf:size=\"{size}\"");
        }
        o.push_str("/>\n");
    }
    o.push_str("  </References>\n");

    if !spec.disks.is_empty() {
        o.push_str("  <DiskSection>\n    <Info>Virtual disk information</Info>\n");
        for d in &spec.disks {
            let _ = writeln!(
                o,
                "    <Disk ovf:capacity=\"{}\" ovf:capacityAllocationUnits=\"byte\" ovf:diskId=\"{}\" \
                 ovf:fileRef=\"{}\" ovf:format=\"{}\"/>",
                d.capacity_bytes,
                xml_escape(&d.disk_id),
                xml_escape(&d.file_id),
                xml_escape(d.format.uri())
            );
        }
        o.push_str("  </DiskSection>\n");
    }

    let mut net_names: Vec<&str> = Vec::new();
    for n in &spec.networks {
        if !net_names.contains(&n.name.as_str()) {
            net_names.push(&n.name);
        }
    }
    if !net_names.is_empty() {
        o.push_str("  <NetworkSection>\n    <Info>The list of logical networks</Info>\n");
        for n in &net_names {
            let n = xml_escape(n);
            let _ = writeln!(
                o,
                "    <Network ovf:name=\"{n}\">\n      <Description>The {n} network</Description>\n    </Network>"
            );
        }
        o.push_str("  </NetworkSection>\n");
    }

    let name = xml_escape(&spec.name);
    let _ = writeln!(
        o,
        "  <VirtualSystem ovf:id=\"{name}\">\n    <Info>A virtual machine</Info>\n    <Name>{name}</Name>"
    );
    if let Some(os) = &spec.os {
        let _ = writeln!(
            o,
            "    <OperatingSystemSection ovf:id=\"{}\">\n      <Info>The kind of installed guest operating system</Info>",
            os.id
        );
        if let Some(desc) = &os.description {
            let _ = writeln!(o, "      <Description>{}</Description>", xml_escape(desc));
        }
        o.push_str("    </OperatingSystemSection>\n");
    }
    o.push_str("    <VirtualHardwareSection>\n      <Info>Virtual hardware requirements</Info>\n");
    o.push_str(
        "      <System>\n        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n",
    );
    o.push_str("        <vssd:InstanceID>0</vssd:InstanceID>\n");
    let _ = writeln!(
        o,
        "        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>"
    );
    if let Some(t) = &spec.system_type {
        let _ = writeln!(
            o,
            "        <vssd:VirtualSystemType>{}</vssd:VirtualSystemType>",
            xml_escape(t)
        );
    }
    o.push_str("      </System>\n");

    let mut instance: u32 = 1;
    let mut next_id = || {
        let id = instance;
        instance += 1;
        id
    };
    Item::new()
        .f("AllocationUnits", "hertz * 10^6")
        .f("Description", "Number of Virtual CPUs")
        .f("ElementName", format!("{} virtual CPU(s)", spec.cpus))
        .f("InstanceID", next_id().to_string())
        .f("ResourceType", "3")
        .f("VirtualQuantity", spec.cpus.to_string())
        .write(&mut o);
    Item::new()
        .f("AllocationUnits", "byte * 2^20")
        .f("Description", "Memory Size")
        .f("ElementName", format!("{}MB of memory", spec.memory_mib))
        .f("InstanceID", next_id().to_string())
        .f("ResourceType", "4")
        .f("VirtualQuantity", spec.memory_mib.to_string())
        .write(&mut o);

    // Controllers: group disks by controller kind (first-seen order), fill each instance's slots.
    let mut kinds: Vec<&Controller> = Vec::new();
    for d in &spec.disks {
        if !kinds.contains(&&d.controller) {
            kinds.push(&d.controller);
        }
    }
    let mut disk_items: Vec<Item> = vec![];
    let mut placement: Vec<(usize, u32, usize)> = Vec::new(); // (disk index, parent id, slot)
    for kind in kinds {
        let members: Vec<usize> = (0..spec.disks.len())
            .filter(|&i| &spec.disks[i].controller == kind)
            .collect();
        for (ci, chunk) in members.chunks(kind.slots()).enumerate() {
            let cid = next_id();
            controller_item(kind, cid, ci).write(&mut o);
            for (slot, &di) in chunk.iter().enumerate() {
                placement.push((di, cid, slot));
            }
        }
    }
    placement.sort_by_key(|p| p.0);
    for (di, parent, slot) in placement {
        let d = &spec.disks[di];
        disk_items.push(
            Item::new()
                .f("AddressOnParent", slot.to_string())
                .f("ElementName", format!("Hard Disk {}", di + 1))
                .f("HostResource", format!("ovf:/disk/{}", d.disk_id))
                .f("InstanceID", next_id().to_string())
                .f("Parent", parent.to_string())
                .f("ResourceType", "17"),
        );
    }
    for it in disk_items {
        it.write(&mut o);
    }
    for (i, n) in spec.networks.iter().enumerate() {
        let mut it = Item::new()
            .f("AddressOnParent", (i + 7).to_string())
            .f("AutomaticAllocation", "true")
            .f("Connection", n.name.clone())
            .f("Description", format!("Ethernet adapter on {}", n.name))
            .f("ElementName", format!("Network adapter {}", i + 1))
            .f("InstanceID", next_id().to_string())
            .f("ResourceType", "10");
        if let Some(a) = &n.adapter {
            it = it.f("ResourceSubType", a.clone());
        }
        it.write(&mut o);
    }
    if spec.firmware == Firmware::Efi {
        o.push_str(
            "      <vmw:Config ovf:required=\"false\" vmw:key=\"firmware\" vmw:value=\"efi\"/>\n",
        );
    }
    o.push_str("    </VirtualHardwareSection>\n  </VirtualSystem>\n</Envelope>\n");
    if o.len() > crate::ovf_read::MAX_DESCRIPTOR_BYTES {
        return Err(Error::InvalidSpec(
            "descriptor would exceed the size limit".into(),
        ));
    }
    Ok(o)
}
