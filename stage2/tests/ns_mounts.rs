//! `base_mounts_in` and `stage2_setup` for real, inside private mount and UTS namespaces.
//!
//! The outer tests (run by `cargo test`) re-execute this test binary under
//! `unshare --mount --uts --propagation private`, running one `#[ignore]`d inner test there. The
//! inner tests refuse to run unless they are in a different mount namespace than the outer
//! test, so nothing is ever mounted on the host. Not root: skipped, loudly (a failure under CI).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::mount::MountFlags;
use stage2::mountinfo::MountTable;
use stage2::mounts;

const INNER: &str = "STAGE2_NS_INNER";
const PARENT_NS: &str = "STAGE2_NS_PARENT";
const BASE: &str = "STAGE2_NS_BASE";

fn mount_ns() -> PathBuf {
    fs::read_link("/proc/self/ns/mnt").expect("read /proc/self/ns/mnt")
}

/// For a test that needs what the host may lack (here: root): `ok` when it has it. Otherwise
/// prints `SKIPPING <test>: <why>` and returns `false`, or panics with that reason under CI
/// (`CI=true`) and `make test` (`VM_TESTS_REQUIRED=1`). The `tests` crate's `require`, which
/// this crate cannot depend on (it depends on this one).
fn require(test: &str, why: &str, ok: bool) -> bool {
    let ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
        || matches!(std::env::var("VM_TESTS_REQUIRED").as_deref(), Ok("1"));
    assert!(
        ok || !ci,
        "{test} cannot run: {why} (CI=true or VM_TESTS_REQUIRED=1: not skipped)"
    );
    if !ok {
        eprintln!("SKIPPING {test}: {why}");
    }
    ok
}

/// Run the inner test `name` in a new mount namespace, with `base` as its scratch directory.
fn run_inner(name: &str, base: &Path) {
    let root = rustix::process::geteuid().is_root();
    if !require(
        name,
        "needs root to create a mount namespace and mount",
        root,
    ) {
        return;
    }
    fs::create_dir_all(base).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--uts", "--propagation", "private"])
        .arg(&exe)
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .env(PARENT_NS, mount_ns())
        .env(BASE, base)
        .output()
        .expect("run unshare(1) from util-linux");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The namespace is gone with the child, and its mounts with it: only plain directories
    // (and symlinks, never followed) are left to remove.
    let cleanup = fs::remove_dir_all(base);
    println!("--- inner test {name} ---\n{text}");
    assert!(out.status.success(), "inner test {name} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "inner test {name} did not run:\n{text}"
    );
    cleanup.unwrap();
}

/// In the inner process: the scratch directory, after checking this is a private namespace.
fn inner_base() -> Option<PathBuf> {
    if std::env::var_os(INNER).is_none() {
        eprintln!("not started by the outer test: nothing done (this test mounts things)");
        return None;
    }
    let parent = std::env::var_os(PARENT_NS).expect("parent namespace");
    assert_ne!(
        mount_ns().as_os_str(),
        parent,
        "refusing to mount: not in a new mount namespace"
    );
    init_logging();
    Some(PathBuf::from(std::env::var_os(BASE).expect("base dir")))
}

/// Prints every log record, so the inner test's output shows what stage-2 logged.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        eprintln!("{:<5} {}", record.level(), record.args());
    }
    fn flush(&self) {}
}

fn init_logging() {
    if log::set_logger(&StderrLogger).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}

fn mount_tmpfs(at: &Path) {
    fs::create_dir_all(at).unwrap();
    rustix::mount::mount("tmpfs", at, "tmpfs", MountFlags::empty(), None)
        .unwrap_or_else(|e| panic!("mount tmpfs on {}: {e}", at.display()));
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn assert_base_mounts(table: &MountTable, root: &Path) {
    for (rel, fs_type) in [
        ("proc", "proc"),
        ("sys", "sysfs"),
        ("dev", "devtmpfs"),
        ("dev/pts", "devpts"),
        ("dev/shm", "tmpfs"),
        ("run", "tmpfs"),
    ] {
        let m = table
            .at(&root.join(rel))
            .unwrap_or_else(|| panic!("nothing mounted on {rel}"));
        assert_eq!(m.fs_type, fs_type, "{rel}");
    }
    let pts = &table.at(&root.join("dev/pts")).unwrap().super_options;
    assert!(
        pts.contains("mode=620") && pts.contains("ptmxmode=666"),
        "{pts}"
    );
    assert_eq!(mode(&root.join("dev/shm")), 0o1777);
    assert_eq!(mode(&root.join("tmp")), 0o1777);
    assert_eq!(mode(&root.join("var/tmp")), 0o1777);
    assert_eq!(mode(&root.join("var/empty")), 0o555);
    assert!(root.join("var/log").is_dir());
    assert!(root.join("run/lock").is_dir());
    assert_eq!(
        fs::read_link(root.join("var/run")).unwrap(),
        Path::new("/run")
    );
    assert_eq!(
        fs::read_link(root.join("var/lock")).unwrap(),
        Path::new("/run/lock")
    );
    // devtmpfs is one instance per kernel: the links may predate us, but must exist.
    for l in ["dev/fd", "dev/stdin", "dev/stdout", "dev/stderr"] {
        assert!(fs::symlink_metadata(root.join(l)).is_ok(), "{l} missing");
    }
}

#[test]
fn base_mounts_on_a_tmpfs_root() {
    run_inner(
        "inner_tmpfs_root",
        &std::env::temp_dir().join(format!("stage2-ns-tmpfs-{}", std::process::id())),
    );
}

#[test]
#[ignore = "runs only inside the namespace made by base_mounts_on_a_tmpfs_root"]
fn inner_tmpfs_root() {
    let Some(base) = inner_base() else { return };
    let root = base.join("root");
    mount_tmpfs(&root);
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\ntty:x:5:\n").unwrap();
    // What stage-1 moved in stays: a /run already mounted is kept, not mounted over.
    mount_tmpfs(&root.join("run"));
    fs::write(root.join("run/marker"), "from stage-1").unwrap();

    mounts::base_mounts_in(&root).unwrap();
    let table = MountTable::read().unwrap();
    assert_base_mounts(&table, &root);
    let pts = &table.at(&root.join("dev/pts")).unwrap().super_options;
    assert!(pts.contains("gid=5"), "tty gid from etc/group: {pts}");
    assert!(
        !table.is_mount_point(&root.join("tmp")),
        "tmpfs root: /tmp stays a directory"
    );
    assert_eq!(
        fs::read_to_string(root.join("run/marker")).unwrap(),
        "from stage-1"
    );
    let run_mounts = table
        .0
        .iter()
        .filter(|m| m.mount_point == root.join("run"))
        .count();
    assert_eq!(run_mounts, 1, "/run mounted over");

    // Idempotent: a second run mounts nothing new.
    let before = table.count_under(&root);
    mounts::base_mounts_in(&root).unwrap();
    assert_eq!(MountTable::read().unwrap().count_under(&root), before);
    assert_eq!(
        mounts::set_devpts_gid(&root).unwrap(),
        None,
        "gid already set"
    );
    println!("tmpfs root: {before} mounts, second run mounted nothing");
}

#[test]
fn base_mounts_on_a_disk_root() {
    // Under the target dir, which is normally on disk (not tmpfs), so /tmp gets a tmpfs.
    run_inner(
        "inner_disk_root",
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ns-disk-{}", std::process::id())),
    );
}

#[test]
#[ignore = "runs only inside the namespace made by base_mounts_on_a_disk_root"]
fn inner_disk_root() {
    let Some(base) = inner_base() else { return };
    let root = base.join("root");
    fs::create_dir_all(&root).unwrap();
    let root = fs::canonicalize(&root).unwrap();
    let volatile = mounts::root_is_volatile(&MountTable::read().unwrap(), &root);

    mounts::base_mounts_in(&root).unwrap();
    let table = MountTable::read().unwrap();
    assert_base_mounts(&table, &root);
    assert!(
        !table
            .at(&root.join("dev/pts"))
            .unwrap()
            .super_options
            .contains("gid="),
        "no etc/group yet: no gid"
    );
    assert_eq!(
        table.is_mount_point(&root.join("tmp")),
        !volatile,
        "/tmp is tmpfs exactly when the root is not"
    );
    if volatile {
        eprintln!(
            "NOTE: {} is on tmpfs here; the /tmp-tmpfs case was not exercised",
            root.display()
        );
    }

    // /etc arrives later: the devpts gid is fixed by a remount, once.
    fs::write(root.join("etc/group"), "tty:x:7:\n").unwrap();
    assert_eq!(mounts::set_devpts_gid(&root).unwrap(), Some(7));
    let table = MountTable::read().unwrap();
    let pts = &table.at(&root.join("dev/pts")).unwrap().super_options;
    assert!(pts.contains("gid=7") && pts.contains("mode=620"), "{pts}");
    assert_eq!(mounts::set_devpts_gid(&root).unwrap(), None);

    let before = table.count_under(&root);
    mounts::base_mounts_in(&root).unwrap();
    assert_eq!(MountTable::read().unwrap().count_under(&root), before);
    println!("disk root: {before} mounts, second run mounted nothing");
}

#[test]
fn stage2_setup_on_the_real_root_in_a_namespace() {
    run_inner(
        "inner_stage2_setup",
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ns-setup-{}", std::process::id())),
    );
}

fn write_exec(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "runs only inside the namespace made by stage2_setup_on_the_real_root_in_a_namespace"]
fn inner_stage2_setup() {
    if inner_base().is_none() {
        return;
    }
    // Everything stage2_setup writes on / goes to fresh tmpfs mounts of this namespace, and
    // devpts is a new instance, so the remount for the tty gid does not touch the host's.
    for dir in ["/etc", "/run", "/var", "/tmp"] {
        mount_tmpfs(Path::new(dir));
    }
    rustix::mount::mount(
        "devpts",
        "/dev/pts",
        "devpts",
        MountFlags::empty(),
        c"mode=600,ptmxmode=000",
    )
    .unwrap();
    let top = Path::new("/tmp/top");
    let etc = top.join("etc");
    fs::create_dir_all(etc.join("service/hello")).unwrap();
    fs::write(etc.join("hostname"), "stage2-test\n").unwrap();
    fs::write(etc.join("group"), "root:x:0:\ntty:x:5:\n").unwrap();
    write_exec(&etc.join("service/hello/run"), "exec sleep 1000");
    write_exec(
        &top.join("activate"),
        "echo activating; echo \"$PATH\" > /run/activated",
    );

    let failures = stage2::system::stage2_setup(top);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(fs::read_link("/etc/static").unwrap(), etc);
    assert_eq!(
        fs::read_link("/etc/service/hello/run").unwrap(),
        Path::new("/etc/static/service/hello/run")
    );
    assert!(!fs::symlink_metadata("/etc/service/hello")
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(Path::new("/etc/NIXOS").exists());
    let uname = rustix::system::uname();
    assert_eq!(uname.nodename().to_bytes(), b"stage2-test");
    assert_eq!(fs::read_link("/run/current-system").unwrap(), top);
    assert_eq!(fs::read_link("/run/booted-system").unwrap(), top);
    assert_eq!(
        fs::read_to_string("/run/activated").unwrap(),
        "/tmp/top/sw/bin:/run/current-system/sw/bin\n"
    );
    let table = MountTable::read().unwrap();
    let pts = &table.at(Path::new("/dev/pts")).unwrap().super_options;
    assert!(pts.contains("gid=5"), "{pts}");
    assert_eq!(
        fs::read_link("/var/run").unwrap(),
        Path::new("/run"),
        "base mounts ran"
    );

    // A failing step is reported, and the steps after it still run.
    write_exec(&top.join("activate"), "echo broken >&2; exit 3");
    fs::write(etc.join("hostname"), "second\n").unwrap();
    let failures = stage2::system::stage2_setup(top);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with("activation:"), "{failures:?}");
    assert_eq!(rustix::system::uname().nodename().to_bytes(), b"second");
}
