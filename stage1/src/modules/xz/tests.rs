//! The decoder against XZ Utils' `xz` (differential), and against damage.

use super::check::{Crc, CRC32};
use super::decode;
use crate::modules::decompress::tests::pipe_through;
use std::path::PathBuf;

const LIMIT: usize = 512 << 20;

/// Deterministic incompressible bytes (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        })
        .collect()
}

fn text() -> Vec<u8> {
    include_bytes!("../../../../README.md").to_vec()
}

/// The pinned kernel's module tree (`make dist` unpacks it into build/).
fn module_tree() -> Option<PathBuf> {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/kernel/x/lib/modules");
    let tree = std::fs::read_dir(&modules)
        .ok()
        .and_then(|mut dirs| dirs.next())
        .and_then(Result::ok)
        .map(|dir| dir.path().join("kernel"));
    let why = format!(
        "no kernel modules in {} (make dist fetches them)",
        modules.display()
    );
    crate::require("module_tree", &why, tree.is_some()).then(|| tree.unwrap())
}

/// Real modules, whole, concatenated up to about `len` bytes.
fn modules(len: usize) -> Option<Vec<u8>> {
    let mut dirs = vec![module_tree()?.join("fs")];
    let mut out = Vec::new();
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ko") && out.len() < len {
                out.extend(std::fs::read(&path).unwrap());
            }
        }
    }
    Some(out)
}

fn xz(args: &[&str], data: &[u8]) -> Option<Vec<u8>> {
    let mut all = vec!["-c", "-T1"];
    all.extend(args);
    pipe_through("xz", &all, data)
}

/// A mistake in the decoder shows as a wrong byte or a refusal; say where.
fn assert_decodes(packed: &[u8], data: &[u8], what: &str) {
    let out = decode(packed, LIMIT).unwrap_or_else(|e| panic!("{what}: {e}"));
    if out != data {
        let at = out.iter().zip(data).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes decoded, {} expected, first difference at {at:?}",
            out.len(),
            data.len()
        );
    }
}

#[test]
fn matches_xz_utils() {
    let Some(module) = modules(1) else { return };
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one byte", b"x".to_vec()),
        ("text", text()),
        // Incompressible: LZMA2 stores it in uncompressed chunks.
        ("noise", noise(300_000, 1)),
        ("module", module.clone()),
        ("runs", b"abcabcabd".repeat(40_000)),
        ("zeros", vec![0; 3 << 20]),
    ];
    // Matches back across stored chunks, literals after them.
    let mut mixed = module.clone();
    mixed.extend(noise(100_000, 2));
    mixed.extend(&module[..module.len() / 2]);
    inputs.push(("module, noise, module", mixed));
    let options: &[&[&str]] = &[
        &["-0"],
        &["-6"],
        &["-9e"],
        &["--check=none"],
        &["--check=crc32", "--lzma2=dict=1MiB"],
        &["--check=crc64"],
        &["--check=sha256"],
        &["--block-size=64KiB"],
        &["--format=xz", "--lzma2=lc=0,lp=2,pb=0"],
        &["--format=xz", "--lzma2=lc=4,lp=0"],
        &["--format=xz", "--lzma2=lc=1,lp=3,pb=4"],
        &["--format=xz", "--lzma2=preset=1,mf=hc3,nice=273,mode=fast"],
    ];
    for (name, data) in &inputs {
        for args in options {
            let Some(packed) = xz(args, data) else { return };
            assert_decodes(&packed, data, &format!("{name} xz {args:?}"));
        }
    }
}

#[test]
fn matches_xz_utils_on_five_mib_of_modules() {
    let Some(mut data) = modules(4 << 20) else {
        return;
    };
    data.truncate(4 << 20);
    data.extend(noise(512 << 10, 3));
    data.extend(text());
    data.resize(5 << 20, b'z');
    for args in [
        &["-6"][..],
        &["--check=crc32", "--lzma2=dict=1MiB", "--block-size=1MiB"],
    ] {
        let Some(packed) = xz(args, &data) else {
            return;
        };
        assert_decodes(&packed, &data, &format!("5 MiB xz {args:?}"));
    }
}

#[test]
fn ignores_what_follows_the_stream() {
    let Some(mut packed) = xz(&["--check=crc32"], b"hello") else {
        return;
    };
    // Stream padding, then a second stream: only the first one counts.
    packed.extend([0; 8]);
    packed.extend(xz(&[], b"world").unwrap());
    assert_eq!(decode(&packed, LIMIT).unwrap(), b"hello");
}

/// Every byte flipped and every truncation: an error, never a panic. With
/// a check, every byte is guarded (headers, index and footer by their
/// CRC32s, the data by the check); without, a flip in the LZMA data may
/// still decode, to other bytes.
#[test]
fn damage_is_an_error() {
    let data = text()[..2000].to_vec();
    for args in [
        &["--check=crc32"][..],
        &["--check=crc64", "--block-size=1000"],
        &["--check=sha256"],
        &["--check=none"],
    ] {
        let Some(packed) = xz(args, &data) else {
            return;
        };
        let checked = args[0] != "--check=none";
        for at in 0..packed.len() {
            for flip in [0x01, 0xff] {
                let mut bad = packed.clone();
                bad[at] ^= flip;
                let result = decode(&bad, LIMIT);
                assert!(
                    !checked || result.is_err(),
                    "xz {args:?}: byte {at} ^ {flip:#x} was accepted"
                );
            }
        }
        for len in 0..packed.len() {
            assert!(
                decode(&packed[..len], LIMIT).is_err(),
                "xz {args:?}: {len} bytes"
            );
        }
    }
}

/// A header field changed and its CRC32 made right again.
fn patch(packed: &mut [u8], at: usize, byte: u8, crc_over: std::ops::Range<usize>) {
    packed[at] = byte;
    let crc = Crc::new(CRC32).sum(&packed[crc_over.clone()]) as u32;
    packed[crc_over.end..crc_over.end + 4].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_huge_dictionary_is_not_allocated() {
    let data = b"tiny module".repeat(10);
    let Some(mut packed) = xz(&["--check=crc32"], &data) else {
        return;
    };
    // Block header at 12: size byte 2 (12 bytes), flags, filter 0x21, one
    // property byte (the dictionary size), padding, CRC32 over 12..20.
    assert_eq!(&packed[12..16], [2, 0, 0x21, 1]);
    patch(&mut packed, 16, 40, 12..20); // 4 GiB - 1
    assert_eq!(decode(&packed, LIMIT).unwrap(), data);
    patch(&mut packed, 16, 41, 12..20);
    let err = decode(&packed, LIMIT).unwrap_err();
    assert_eq!(err, "bad xz data: bad LZMA2 dictionary size");
}

#[test]
fn output_is_capped() {
    let data = vec![7; 100_000];
    let Some(packed) = xz(&[], &data) else { return };
    assert_eq!(decode(&packed, 100_000).unwrap(), data);
    let err = decode(&packed, 99_999).unwrap_err();
    assert_eq!(err, "xz data inflates past 99999 bytes");
}

#[test]
fn other_filters_are_named() {
    for (args, name) in [
        (&["--x86", "--lzma2"][..], "0x04 (BCJ)"),
        (&["--delta=dist=4", "--lzma2"], "0x03 (delta)"),
    ] {
        let Some(packed) = xz(args, &text()) else {
            return;
        };
        let err = decode(&packed, LIMIT).unwrap_err();
        let want =
            format!("xz filter {name} is not supported (modules are compressed with LZMA2 only)");
        assert_eq!(err, want);
    }
}

#[test]
fn other_checks_are_named() {
    let Some(mut packed) = xz(&["--check=crc32"], b"data") else {
        return;
    };
    // Stream flags at 6..8 (check id in the second), CRC32 at 8..12.
    patch(&mut packed, 7, 2, 6..8);
    let err = decode(&packed, LIMIT).unwrap_err();
    assert!(err.starts_with("xz check 0x02 is not supported"), "{err}");
}

#[test]
fn crc_tables() {
    // The check values of "123456789" in the .xz specification.
    assert_eq!(Crc::new(CRC32).sum(b"123456789"), 0xcbf4_3926);
    let crc64 = Crc::new(super::check::CRC64);
    assert_eq!(crc64.sum(b"123456789"), 0x995d_c9bb_df19_39fa);
}

/// This thread's CPU time in seconds: the machine may be busy.
fn cpu_time() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Decoding speed on real modules packed as the kernel packs them:
/// `cargo test --release -p stage1 xz::tests::decode_speed -- --ignored --nocapture`
/// (the release profile is dist/init's: opt-level "z").
#[test]
#[ignore = "a measurement, not a test"]
fn decode_speed() {
    let Some(data) = modules(8 << 20) else { return };
    let packed = xz(&["--check=crc32", "--lzma2=dict=1MiB"], &data).unwrap();
    let rounds = 5;
    let start = cpu_time();
    for _ in 0..rounds {
        assert_eq!(decode(&packed, LIMIT).unwrap().len(), data.len());
    }
    let seconds = cpu_time() - start;
    let mib = (data.len() * rounds) as f64 / f64::from(1 << 20);
    println!(
        "xz decode: {:.1} MiB/s ({mib:.0} MiB in {seconds:.2} s)",
        mib / seconds
    );
}
