//! Differential tests of the `modprobe` applet against Debian's kmod
//! `modprobe`, both run with `-d ROOT -S RELEASE` on Debian's full module
//! tree (`build/kernel/x`, unpacked by `make dist`): for each name,
//! `--show-depends` and `-n -v` must print the same lines (same modules,
//! same order, same options), the same stderr and the same exit code.
//! Both read this host's modprobe.d and kernel command line.
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::bin::{init_bin, workspace_root};
use tests::require;

/// The kernel of `make dist` (the Makefile's KVER).
const KVER: &str = "6.1.0-56-amd64";

/// Names as scripts and the kernel pass them: modules, `-`/`_`
/// spellings, the kernel's aliases (`fs-`, `net-pf-`, `crypto-`,
/// `char-major-`, `block-major-`), built-ins, softdep'ed modules, a
/// device's modalias, unknown names.
const NAMES: &[&str] = &[
    "vfat",
    "fs-vfat",
    "fat",
    "msdos",
    "ext4",
    "fs-ext4",
    "btrfs",
    "xfs",
    "net-pf-10",
    "net-pf-31",
    "crypto-sha256",
    "crypto-aes",
    "crypto-crc32c",
    "dm-mod",
    "dm_mod",
    "dm-crypt",
    "uhci-hcd",
    "uhci_hcd",
    "ehci-pci",
    "usb-storage",
    "e1000",
    "virtio_net",
    "virtio-blk",
    "snd-hda-intel",
    "nvme",
    "ahci",
    "wireguard",
    "tun",
    "char-major-10-200",
    "block-major-7",
    "loop",
    "overlay",
    "fs-overlay",
    "squashfs",
    "9p",
    "cifs",
    "ksmbd",
    "i915",
    "ipv6",
    "bridge",
    "nft_chain_nat",
    "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
    "nosuch_module",
    "fs-nosuch",
];

struct Out {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn run(prog: &Path, args: &[&str]) -> Out {
    let out = Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", prog.display()));
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// Debian's modprobe, ours (a link named `modprobe` to `dist/init`) and
/// the tree's root; None when the host lacks one of them.
fn setup(test: &str) -> Option<(PathBuf, PathBuf, String)> {
    let debian = ["/usr/sbin/modprobe", "/sbin/modprobe", "/usr/bin/modprobe"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if !require(
        test,
        "Debian's kmod modprobe is not installed",
        debian.is_some(),
    ) {
        return None;
    }
    let root = workspace_root().join("build/kernel/x");
    let tree = root.join("lib/modules").join(KVER).join("modules.dep");
    if !require(
        test,
        "Debian's module tree is not unpacked (make dist)",
        tree.exists(),
    ) {
        return None;
    }
    // One directory per test: nextest runs them at once.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("modprobe_diff")
        .join(test);
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("modprobe");
    let _ = std::fs::remove_file(&ours);
    std::os::unix::fs::symlink(init_bin(), &ours).unwrap();
    Some((debian?, ours, root.display().to_string()))
}

/// Runs `args` (after `-d ROOT -S KVER`) with both; returns the
/// differences, one paragraph per case.
fn compare(debian: &Path, ours: &Path, root: &str, args: &[&str]) -> Option<String> {
    let mut full = vec!["-d", root, "-S", KVER];
    full.extend_from_slice(args);
    let (mut d, mut o) = (run(debian, &full), run(ours, &full));
    // getopt names the program as called.
    d.stderr = d.stderr.replace(&*debian.to_string_lossy(), "modprobe");
    o.stderr = o.stderr.replace(&*ours.to_string_lossy(), "modprobe");
    if d.stdout == o.stdout && d.stderr == o.stderr && d.code == o.code {
        return None;
    }
    Some(format!(
        "modprobe {}:\n  kmod ({:?}): {:?} {:?}\n  ours ({:?}): {:?} {:?}\n",
        args.join(" "),
        d.code,
        d.stdout,
        d.stderr,
        o.code,
        o.stdout,
        o.stderr
    ))
}

#[test]
fn show_depends_and_dry_run_match_kmod() {
    let Some((debian, ours, root)) = setup("show_depends_and_dry_run_match_kmod") else {
        return;
    };
    let mut diffs = String::new();
    let mut printed = 0;
    for name in NAMES {
        for mode in [
            &["--show-depends"][..],
            &["-n", "-v"],
            &["-q", "--show-depends"],
        ] {
            let mut args = mode.to_vec();
            args.push(name);
            if let Some(d) = compare(&debian, &ours, &root, &args) {
                diffs.push_str(&d);
            }
        }
        printed += run(&debian, &["-d", &root, "-S", KVER, "--show-depends", name])
            .stdout
            .lines()
            .count();
    }
    assert!(
        printed > 3 * NAMES.len(),
        "kmod printed only {printed} lines for {} names: the test compares nothing",
        NAMES.len()
    );
    assert!(diffs.is_empty(), "kmod and ours differ:\n{diffs}");
}

/// Parameters after the name, `-a`, options after the names, `--`, and
/// the usage errors.
#[test]
fn parameters_lists_and_usage_errors_match_kmod() {
    let Some((debian, ours, root)) = setup("parameters_lists_and_usage_errors_match_kmod") else {
        return;
    };
    let cases: &[&[&str]] = &[
        &["--show-depends", "vfat", "codepage=437", "shortname=mixed"],
        &["-n", "-v", "ext4", "x=-1"],
        &[
            "--show-depends",
            "-a",
            "vfat",
            "ext4",
            "net-pf-10",
            "nosuch",
        ],
        &["-a", "-n", "-v", "vfat", "nosuch", "-q"],
        &["--show-depends", "--", "fs-vfat"],
        &["-nv", "--dry-run", "snd-hda-intel"],
        &["--show-depends"],
        &["-r", "nosuch"],
        &["-r", "-q", "nosuch"],
        &["-Z", "vfat"],
    ];
    let diffs: String = cases
        .iter()
        .filter_map(|args| compare(&debian, &ours, &root, args))
        .collect();
    assert!(diffs.is_empty(), "kmod and ours differ:\n{diffs}");
}
