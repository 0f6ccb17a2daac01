//! How `init` picks its role when a person runs it by hand: not being the
//! kernel's PID 1, it never boots. With no command (as `init` or as `/init`,
//! the names stage-1 has) it prints one line saying why and exits non-zero,
//! touching nothing. These run the built binary (`tests::bin::init_bin`).
//!
//! Not tested here, by design: PID 1 of a PID namespace (`unshare -p -f`)
//! whose `/` is not the kernel's rootfs runs stage-2 (a container's init,
//! or `$toplevel/init` after switch_root), which mounts and starts
//! services on the host's root; that is no host test.
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tests::bin::init_bin;

/// A fresh empty directory for the binary to run in.
fn empty_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("role-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run the binary with no arguments and `argv[0]` = `arg0`, in an empty
/// directory; check the one line, the exit status, and that neither the
/// directory nor this process's mounts changed.
fn refuses_stage1(arg0: &str, tag: &str) {
    let dir = empty_dir(tag);
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let child = Command::new(init_bin())
        .arg0(arg0)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(
        !out.status.success() && out.status.code().is_some(),
        "argv[0]={arg0}: exited {}, want a non-zero exit status",
        out.status
    );
    let want = format!(
        "init: stage-1 runs only as PID 1 of the initramfs (this is PID {pid}); nothing was done"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with(&want),
        "argv[0]={arg0}: want one stderr line starting {want:?}, got {stderr:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "argv[0]={arg0}: printed on stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        left.is_empty(),
        "argv[0]={arg0}: created {left:?} in its directory"
    );
    assert_eq!(
        mounts_before, mounts_after,
        "argv[0]={arg0}: the mounts changed"
    );
}

/// `init` with no arguments, not PID 1: the one line, a non-zero exit, no
/// files, no mounts.
#[test]
fn init_by_hand_refuses_stage1() {
    refuses_stage1("init", "init");
}

/// The same as `/init`, the initramfs name stage-1 runs under.
#[test]
fn slash_init_by_hand_refuses_stage1() {
    refuses_stage1("/init", "slash-init");
}

/// A command still runs as before: the refusal is only for "no command".
#[test]
fn init_version_still_runs() {
    let out = Command::new(init_bin()).arg("--version").output().unwrap();
    assert!(out.status.success(), "init --version: {}", out.status);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("init "),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}
