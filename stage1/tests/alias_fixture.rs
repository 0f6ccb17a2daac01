//! Modalias matching against the whole of Debian's 6.1.0-56-amd64
//! `modules.alias` (26,000 patterns, xz-compressed in the fixture) and its
//! `modules.builtin`/`modules.builtin.modinfo`. The expected modules are
//! what kmod's `modprobe -R <modalias>` printed for the same files.
use std::path::{Path, PathBuf};

use stage1::cmdline::BootParams;
use stage1::devices::coldplug::{decide, DeviceAlias, Driver};
use stage1::modules::{decompress, Compression, ModuleConfig, ModuleIndex, Resolved};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian-6.1-full")
}

fn unxz(name: &str) -> String {
    let bytes = std::fs::read(fixture().join(name)).unwrap();
    String::from_utf8(decompress(Compression::Xz, &bytes).unwrap()).unwrap()
}

fn index() -> ModuleIndex {
    let builtin = std::fs::read_to_string(fixture().join("modules.builtin")).unwrap();
    let mut index = ModuleIndex::parse("", &unxz("modules.alias.xz"), "", &builtin);
    index.set_builtin_modinfo(&unxz("modules.builtin.modinfo.xz"));
    assert!(index.warnings().is_empty(), "{:?}", index.warnings());
    index
}

fn modules(index: &ModuleIndex, modalias: &str) -> Vec<String> {
    index
        .aliases(modalias)
        .into_iter()
        .map(|r| match r {
            Resolved::Module(m) => m,
            Resolved::Builtin(m) => format!("{m} (built in)"),
        })
        .collect()
}

#[test]
fn qemu_devices_match_like_modprobe() {
    let index = index();
    let cases: &[(&str, &[&str])] = &[
        // virtio-blk-pci, then the virtio device virtio_pci creates
        (
            "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
            &["virtio_pci"],
        ),
        ("virtio:d00000002v00001AF4", &["virtio_blk"]),
        ("virtio:d00000001v00001AF4", &["virtio_net"]),
        ("virtio:d00000004v00001AF4", &["virtio_rng"]),
        ("virtio:d00000003v00001AF4", &["virtio_console"]),
        // QEMU's NVMe, AHCI (ICH9), e1000 and xHCI controllers
        (
            "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02",
            &["nvme"],
        ),
        (
            "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01",
            &["ahci"],
        ),
        (
            "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
            &["e1000"],
        ),
        (
            "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30",
            &["xhci_pci"],
        ),
        // PIIX IDE: a specific and two class patterns, file order
        (
            "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80",
            &["ata_piix", "ata_generic"],
        ),
        // a USB mass-storage interface (bulk-only): UAS first, as modprobe
        (
            "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00",
            &["uas", "usb_storage"],
        ),
        // the disk behind an AHCI or USB controller
        ("scsi:t-0x00", &["sd_mod"]),
        // ACPI: patterns that start with a glob (`acpi*:PNP0C0C:*`)
        ("acpi:PNP0C0C:", &["button"]),
        ("acpi:LNXPWRBN:", &["button"]),
        // nothing claims QEMU's DMI strings or its host bridge
        (
            "dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svnQEMU:pnStandardPC(i440FX+PIIX,1996):pvrpc-i440fx-7.2:cvnQEMU:ct1:cvrpc-i440fx-7.2:sku:",
            &[],
        ),
        (
            "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00",
            &[],
        ),
    ];
    for (modalias, want) in cases {
        assert_eq!(modules(&index, modalias), *want, "{modalias}");
    }
}

#[test]
fn dashes_and_underscores_match_alike() {
    let index = index();
    // `alias fs-squashfs squashfs`, looked up with either spelling
    assert_eq!(modules(&index, "fs-squashfs"), ["squashfs"]);
    assert_eq!(modules(&index, "fs_squashfs"), ["squashfs"]);
}

#[test]
fn builtin_aliases_need_nothing() {
    let index = index();
    // Debian 6.1's modules.builtin.modinfo has only MODULE_ALIAS strings
    // (no device tables): md5 is built in and has `crypto-md5`.
    assert_eq!(modules(&index, "crypto-md5"), ["md5 (built in)"]);
    let d = decide(
        &index,
        &ModuleConfig::default(),
        &BootParams::parse(""),
        vec![DeviceAlias {
            devpath: "/devices/virtual/misc/x".into(),
            modalias: "crypto-md5".into(),
        }],
    );
    assert_eq!(d[0].drivers, [Driver::Builtin("md5".into())]);
}
