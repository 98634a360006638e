//! The written descriptor validates against DSP8023 (xmllint) and reads back to the same model.
#![allow(clippy::unwrap_used)]

mod common;

use hypersdk_ovf::*;

fn rich_spec() -> VmSpec {
    let mut vm = VmSpec::new("web & db <\"prod\"> ü", 8, 16384);
    vm.firmware = Firmware::Efi;
    vm.os = Some(OsInfo {
        id: 101,
        description: Some("Debian 12 (64-bit)".into()),
    });
    let mk = |i: usize, controller: Controller, format: DiskFormat| DiskSpec {
        disk_id: format!("vmdisk{i}"),
        file_id: format!("file{i}"),
        href: format!("disk {i}.{}", format.extension()),
        file_size: Some(1000 + i as u64),
        capacity_bytes: (i as u64) << 30,
        format,
        controller,
    };
    vm.disks = vec![
        mk(
            1,
            Controller::Scsi {
                subtype: "lsilogic".into(),
            },
            DiskFormat::VmdkStreamOptimized,
        ),
        mk(2, Controller::Ide, DiskFormat::Qcow2),
        mk(3, Controller::Ide, DiskFormat::Vhd),
        mk(4, Controller::Ide, DiskFormat::Vhdx),
        mk(5, Controller::Sata, DiskFormat::Vdi),
        mk(6, Controller::Nvme, DiskFormat::Raw),
    ];
    vm.networks = vec![
        NetworkSpec {
            name: "VM Network".into(),
            adapter: Some("VmxNet3".into()),
        },
        NetworkSpec {
            name: "backup".into(),
            adapter: None,
        },
        NetworkSpec {
            name: "VM Network".into(),
            adapter: Some("E1000".into()),
        },
    ];
    vm
}

#[test]
fn written_descriptor_validates_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for (i, spec) in [rich_spec(), VmSpec::new("minimal", 1, 512)]
        .into_iter()
        .enumerate()
    {
        let xml = write_descriptor(&spec).unwrap();
        let path = dir.path().join(format!("t{i}.ovf"));
        std::fs::write(&path, &xml).unwrap();
        common::xmllint_validate(&path);
        let back = parse_descriptor(xml.as_bytes()).unwrap();
        assert_eq!(back.vm, spec);
        assert_eq!(back.files.len(), spec.disks.len());
    }
}

#[test]
fn invalid_specs_are_rejected() {
    let mut vm = VmSpec::new("", 1, 1);
    assert_eq!(write_descriptor(&vm).unwrap_err().code(), "invalid_spec");
    vm.name = "x".into();
    vm.cpus = 0;
    assert_eq!(write_descriptor(&vm).unwrap_err().code(), "invalid_spec");
    let mut vm = rich_spec();
    vm.disks[1].href = vm.disks[0].href.clone();
    assert_eq!(write_descriptor(&vm).unwrap_err().code(), "invalid_spec");
}
