use super::disk::MAX_PARTS;
use super::gpt::crc32;
use super::*;
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const LINUX: [u8; 16] = *b"\xAF\x3D\xC6\x0F\x83\x84\x72\x47\x8E\x79\x3D\x69\xD8\x47\x7D\xE4";
/// On disk; as text 12345678-1234-5678-9abc-def012345678.
const G1: [u8; 16] = *b"\x78\x56\x34\x12\x34\x12\x78\x56\x9a\xbc\xde\xf0\x12\x34\x56\x78";
const G1_TEXT: &str = "12345678-1234-5678-9abc-def012345678";

/// [`parse`] on an in-memory image; panics if it reads outside it.
fn image(img: &[u8], sector: u32) -> Option<Table> {
    let read_at = |off: u64, buf: &mut [u8]| {
        buf.copy_from_slice(&img[off as usize..off as usize + buf.len()]);
        Ok(())
    };
    parse(read_at, img.len() as u64, sector).unwrap()
}

fn put(img: &mut [u8], at: usize, bytes: &[u8]) {
    img[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Entry `slot` of the MBR/EBR at byte `at`, and its 55 AA signature.
fn mbr_entry(img: &mut [u8], at: usize, slot: usize, kind: u8, start: u32, size: u32) {
    let e = at + 0x1BE + 16 * slot;
    img[e + 4] = kind;
    put(img, e + 8, &start.to_le_bytes());
    put(img, e + 12, &size.to_le_bytes());
    put(img, at + 510, &[0x55, 0xAA]);
}

/// A GPT disk: protective MBR, primary and backup headers and arrays of
/// 128 entries; `parts` are (slot, unique GUID, name).
fn gpt_image(lbs: usize, blocks: usize, parts: &[(usize, [u8; 16], &str)]) -> Vec<u8> {
    let mut img = vec![0; lbs * blocks];
    mbr_entry(&mut img, 0, 0, 0xEE, 1, blocks as u32 - 1);
    let mut array = vec![0; 128 * 128];
    for &(slot, guid, name) in parts {
        let e = &mut array[slot * 128..][..128];
        e[..16].copy_from_slice(&LINUX);
        e[16..32].copy_from_slice(&guid);
        put(e, 32, &(40 + slot as u64).to_le_bytes());
        put(e, 40, &(40 + slot as u64).to_le_bytes());
        for (i, u) in name.encode_utf16().enumerate() {
            put(e, 56 + 2 * i, &u.to_le_bytes());
        }
    }
    let (last, n) = (blocks as u64 - 1, (array.len() / lbs) as u64);
    for (me, alt, at) in [(1, last, 2), (last, 1, last - n)] {
        put(&mut img, at as usize * lbs, &array);
        let mut h = [0; 92];
        put(&mut h, 0, b"EFI PART\x00\x00\x01\x00\x5c"); // revision 1.0, size 92
        for (off, v) in [
            (24, me),
            (32, alt),
            (40, 2 + n),
            (48, last - n - 1),
            (72, at),
        ] {
            put(&mut h, off, &v.to_le_bytes());
        }
        put(&mut h, 80, &[128, 0, 0, 0, 128, 0, 0, 0]);
        put(&mut h, 88, &crc32(&array).to_le_bytes());
        let crc = crc32(&h);
        put(&mut h, 16, &crc.to_le_bytes());
        put(&mut img, me as usize * lbs, &h);
    }
    img
}

/// Rewrite the primary header of a 512-byte-sector image, fixing its CRC.
fn edit_header(img: &mut [u8], edit: impl Fn(&mut [u8])) {
    let h = &mut img[512..604];
    edit(h);
    h[16..20].fill(0);
    let crc = crc32(h);
    put(h, 16, &crc.to_le_bytes());
}

/// Disk 0x12345678: 1 Linux, 2 extended (EBRs at 100 and 200), 4 Linux.
fn mbr_image(lbs: usize) -> Vec<u8> {
    let mut img = vec![0; lbs * 400];
    put(&mut img, 0x1B8, &0x1234_5678u32.to_le_bytes());
    mbr_entry(&mut img, 0, 0, 0x83, 1, 50);
    mbr_entry(&mut img, 0, 1, 0x0F, 100, 200);
    mbr_entry(&mut img, 0, 3, 0x83, 300, 50);
    mbr_entry(&mut img, 100 * lbs, 0, 0x83, 1, 50);
    mbr_entry(&mut img, 100 * lbs, 1, 0x05, 100, 100);
    mbr_entry(&mut img, 200 * lbs, 0, 0x83, 1, 50);
    // Garbage in entry 3, outside the extended partition: not a partition.
    mbr_entry(&mut img, 200 * lbs, 2, 0x83, 1000, 50);
    img
}

fn numbers_and_uuids(t: &Table) -> Vec<(u32, &str)> {
    t.entries()
        .iter()
        .map(|e| (e.number, e.uuid.as_str()))
        .collect()
}

fn tmp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stage1-partition-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn crc32_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn gpt_numbers_mixed_endian_uuids_and_names() {
    for lbs in [512, 4096] {
        let parts = [
            (0, G1, "EFI system"),
            (2, [0xAB; 16], "données"),
            (3, [1; 16], ""),
        ];
        let img = gpt_image(lbs, 128, &parts);
        let entry = |number, uuid: &str, label: Option<&str>| PartitionEntry {
            number,
            uuid: uuid.into(),
            label: label.map(String::from),
        };
        let want = vec![
            entry(1, G1_TEXT, Some("EFI system")),
            entry(3, "abababab-abab-abab-abab-abababababab", Some("données")),
            entry(4, "01010101-0101-0101-0101-010101010101", None),
        ];
        assert_eq!(image(&img, lbs as u32), Some(Table::Gpt(want)), "lbs {lbs}");
    }
    // The wrong block size finds no header.
    assert_eq!(image(&gpt_image(512, 128, &[(0, G1, "a")]), 4096), None);
}

#[test]
fn gpt_backup_header_when_primary_is_bad() {
    let good = gpt_image(512, 128, &[(0, G1, "root")]);
    let want = image(&good, 512);
    let (mut bad_header, mut bad_array) = (good.clone(), good.clone());
    bad_header[512 + 40] ^= 1;
    bad_array[2 * 512 + 56] ^= 1;
    assert_eq!(image(&bad_header, 512), want);
    assert_eq!(image(&bad_array, 512), want);
}

#[test]
fn protective_mbr_is_not_read_as_mbr_partitions() {
    let mut img = gpt_image(512, 128, &[(0, G1, "root")]);
    img[512] = b'X';
    img[127 * 512] = b'X';
    assert_eq!(image(&img, 512), None);
}

#[test]
fn plain_mbr_wins_over_stale_gpt() {
    let mut img = gpt_image(512, 128, &[(0, G1, "old")]);
    img[0x1BE..0x1FE].fill(0);
    mbr_entry(&mut img, 0, 0, 0x83, 40, 8);
    let t = image(&img, 512).unwrap();
    assert_eq!(
        t,
        Table::Mbr(vec![PartitionEntry {
            number: 1,
            uuid: "00000000-01".into(),
            label: None
        }])
    );
}

#[test]
fn mbr_primaries_and_logicals_numbered_from_5() {
    for lbs in [512, 4096] {
        let t = image(&mbr_image(lbs), lbs as u32).unwrap();
        assert!(matches!(t, Table::Mbr(_)));
        let want = [
            (1, "12345678-01"),
            (4, "12345678-04"),
            (5, "12345678-05"),
            (6, "12345678-06"),
        ];
        assert_eq!(numbers_and_uuids(&t), want, "lbs {lbs}");
    }
}

#[test]
fn ebr_loop_ends() {
    let mut img = mbr_image(512);
    mbr_entry(&mut img, 200 * 512, 1, 0x05, 0, 100); // back to the first EBR
    let t = image(&img, 512).unwrap();
    assert_eq!(t.entries().last().unwrap().number, MAX_PARTS - 1);
    mbr_entry(&mut img, 100 * 512, 0, 0, 0, 0); // a loop of links without data
    mbr_entry(&mut img, 200 * 512, 0, 0, 0, 0);
    assert_eq!(
        numbers_and_uuids(&image(&img, 512).unwrap()),
        [(1, "12345678-01"), (4, "12345678-04")]
    );
}

#[test]
fn garbage_and_truncation_never_panic() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let gpt = gpt_image(512, 128, &[(0, G1, "a")]);
    let mut images = vec![gpt.clone(), mbr_image(512)];
    for n in 0..100 {
        let mut img: Vec<u8> = (0..rand() % 70_000).map(|_| rand() as u8).collect();
        if n % 2 == 0 && img.len() > 1024 {
            put(&mut img, 510, b"\x55\xAAEFI PART");
        }
        if n % 4 == 0 && img.len() > 1024 {
            // An MBR with an extended partition near the start.
            img[0x1C2] = 0x05;
            for e in (0x1BE..0x1FE).step_by(16) {
                img[e] = 0;
                put(&mut img, e + 8, &(rand() as u32 % 128).to_le_bytes());
            }
        }
        images.push(img);
    }
    for _ in 0..300 {
        let mut img = if rand() % 2 == 0 {
            gpt.clone()
        } else {
            mbr_image(512)
        };
        let i = rand() as usize % img.len().min(60_000);
        img[i] ^= 1 << (rand() % 8);
        images.push(img);
    }
    // Headers with valid CRCs and hostile fields.
    for (off, v) in [
        (12, u32::MAX),
        (12, 0),
        (80, u32::MAX),
        (84, 1 << 31),
        (84, 100),
        (72, u32::MAX),
    ] {
        let mut img = gpt.clone();
        edit_header(&mut img, |h| put(h, off, &v.to_le_bytes()));
        img[127 * 512] = 0; // no backup to fall back on
        assert_eq!(image(&img, 512), None, "field {off} = {v:#x}");
    }
    for img in &images {
        for cut in [0, 1, 511, 512, 1024, 4096, img.len() / 2, img.len()] {
            for lbs in [0, 512, 513, 4096] {
                if let Some(t) = image(&img[..cut.min(img.len())], lbs) {
                    assert!(t.entries().iter().all(|e| e.number < MAX_PARTS));
                }
            }
        }
    }
}

#[test]
fn agrees_with_sfdisk() {
    if Command::new("sfdisk").arg("--version").output().is_err() {
        let why = "sfdisk (util-linux) is not installed";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "agrees_with_sfdisk: {why}"
        );
        eprintln!("SKIPPING agrees_with_sfdisk: {why}");
        return;
    }
    let dir = tmp("sfdisk");
    let run = |name: &str, script: &str| {
        let path = dir.join(name);
        File::create(&path).unwrap().set_len(16 << 20).unwrap();
        let mut child = Command::new("sfdisk")
            .args(["--quiet", "--no-reread", "--no-tell-kernel"])
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "sfdisk {name}");
        std::fs::read(&path).unwrap()
    };
    let gpt = run(
        "gpt.img",
        "label: gpt\n\
         size=1MiB, uuid=12345678-1234-5678-9ABC-DEF012345678, name=\"EFI system\"\n\
         size=4MiB, uuid=0a0b0c0d-0e0f-1011-1213-141516171819, name=root\n",
    );
    let got = image(&gpt, 512).unwrap();
    assert!(matches!(got, Table::Gpt(_)));
    let got: Vec<_> = got
        .entries()
        .iter()
        .map(|e| (e.number, e.uuid.as_str(), e.label.as_deref()))
        .collect();
    let want = [
        (1, G1_TEXT, Some("EFI system")),
        (2, "0a0b0c0d-0e0f-1011-1213-141516171819", Some("root")),
    ];
    assert_eq!(got, want);
    let mbr = run(
        "mbr.img",
        "label: dos\nlabel-id: 0x12345678\n\
         size=1MiB, type=83\ntype=5\nsize=1MiB, type=83\nsize=1MiB, type=83\n",
    );
    let got = image(&mbr, 512).unwrap();
    assert!(matches!(got, Table::Mbr(_)));
    let want = [(1, "12345678-01"), (5, "12345678-05"), (6, "12345678-06")];
    assert_eq!(numbers_and_uuids(&got), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn find_on_a_fixture_tree() {
    let root = tmp("find");
    let (sys, dev) = (root.join("sys/class/block"), root.join("dev"));
    let devices = root.join("sys/devices/x/block");
    for d in [
        &sys,
        &dev,
        &devices.join("vda/vda1"),
        &devices.join("loop0/loop0p1"),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    for (name, part) in [("vda", "vda1"), ("loop0", "loop0p1")] {
        std::fs::write(devices.join(name).join("size"), "128\n").unwrap();
        std::fs::write(devices.join(name).join(part).join("partition"), "1\n").unwrap();
        let to = format!("../../devices/x/block/{name}");
        std::os::unix::fs::symlink(&to, sys.join(name)).unwrap();
        std::os::unix::fs::symlink(format!("{to}/{part}"), sys.join(part)).unwrap();
    }
    // No dev/loop0: logged and skipped.
    std::fs::write(dev.join("vda"), gpt_image(512, 128, &[(0, G1, "root")])).unwrap();
    std::fs::write(dev.join("vda1"), "").unwrap();
    let uuid = Key::PartUuid(G1_TEXT.to_uppercase());
    assert_eq!(find(&sys, &dev, &uuid), Some(dev.join("vda1")));
    assert_eq!(
        find(&sys, &dev, &Key::PartLabel("root".into())),
        Some(dev.join("vda1"))
    );
    assert_eq!(find(&sys, &dev, &Key::PartLabel("ROOT".into())), None);
    assert_eq!(find(&sys, &dev, &Key::PartUuid("12345678-01".into())), None);
    std::fs::remove_dir_all(&root).unwrap();
}
