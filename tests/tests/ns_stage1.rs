//! Stage-1's mount plan and switch_root on the host kernel, inside a
//! private mount namespace: a real squashfs image through a real loop
//! device, the tmpfs root, the store overlay, then switch_root. Assertions
//! are on /proc/self/mountinfo.
//!
//! The outer test (root only) builds the image and re-runs this test binary
//! under `unshare --mount --propagation private` for the `inner_*` test,
//! which refuses to run outside such a namespace.
use std::path::{Path, PathBuf};
use std::process::Command;

use stage1::cmdline::BootParams;
use stage1::plan::Plan;

const ENV_DIR: &str = "NS_STAGE1_DIR";

/// Whether `test` can run here: root, unshare(1), mksquashfs and loop
/// devices. If not, [`tests::require`] skips it loudly (fails it under CI).
fn can_run(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !tests::require(
        test,
        "namespace tests need root (CI runs them as root)",
        root,
    ) {
        return false;
    }
    for tool in ["unshare", "mksquashfs"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool} >/dev/null")])
            .status()
            .is_ok_and(|s| s.success());
        if !tests::require(test, &format!("{tool} is not installed (make deps)"), found) {
            return false;
        }
    }
    let loop_control = Path::new("/dev/loop-control").exists();
    tests::require(test, "no /dev/loop-control on this host", loop_control)
}

/// A store tree like make-squashfs lays out, and its image.
fn build_image(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    let toplevel = store.join("0000000000000000000000000000abcd-toplevel");
    std::fs::create_dir_all(toplevel.join("etc")).unwrap();
    std::fs::write(toplevel.join("etc/hostname"), "nstest\n").unwrap();
    std::os::unix::fs::symlink(
        "/nix/store/0000000000000000000000000000abcd-toplevel",
        store.join("current"),
    )
    .unwrap();
    let image = dir.join("store.squashfs");
    let st = Command::new("mksquashfs")
        .arg(&store)
        .arg(&image)
        .args(["-noappend", "-all-root", "-quiet", "-no-progress"])
        .status()
        .unwrap();
    assert!(st.success(), "mksquashfs failed");
    image
}

fn run_inner(name: &str, dir: &Path) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(&exe)
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "inner test {name} failed:\n{text}"
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ns-stage1-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn mount_plan_and_switch_root_in_a_namespace() {
    if !can_run("mount_plan_and_switch_root_in_a_namespace") {
        return;
    }
    let dir = temp_dir("switch");
    build_image(&dir);
    run_inner("inner_mount_plan_and_switch_root", &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// (mount point, fstype) pairs of the current mount namespace.
fn mounts() -> Vec<(String, String)> {
    stage2::mountinfo::MountTable::read()
        .unwrap()
        .0
        .into_iter()
        .map(|m| (m.mount_point.display().to_string(), m.fs_type))
        .collect()
}

fn in_private_namespace() -> bool {
    let mine = std::fs::read_link("/proc/self/ns/mnt").ok();
    let init = std::fs::read_link("/proc/1/ns/mnt").ok();
    mine.is_some() && mine != init
}

#[test]
#[ignore = "run by mount_plan_and_switch_root_in_a_namespace inside unshare"]
fn inner_mount_plan_and_switch_root() {
    let Some(dir) = std::env::var_os(ENV_DIR).map(PathBuf::from) else {
        panic!("inner test run directly; it runs under the outer test");
    };
    assert!(
        in_private_namespace(),
        "refusing to mount outside a private mount namespace"
    );
    let image = dir.join("store.squashfs");
    let new_root = dir.join("mnt-root");
    let initrd = dir.join("initrd");
    std::fs::create_dir_all(&initrd).unwrap();
    let params = BootParams::parse(&format!(
        "root={} toplevel=/nix/store/0000000000000000000000000000abcd-toplevel",
        image.display()
    ));
    let plan = Plan::compute_at(&params, &initrd, "test", &new_root, &initrd.join("sys")).unwrap();
    stage1::apply::apply(
        &plan,
        &mut stage1::apply::ApplyOptions {
            device_timeout: std::time::Duration::from_secs(5),
            events: &mut stage1::devices::block::Rescan,
        },
    )
    .unwrap();

    let nr = new_root.display().to_string();
    let m = mounts();
    let has = |point: String, fstype: &str| m.iter().any(|(p, t)| *p == point && t == fstype);
    assert!(has(nr.clone(), "tmpfs"), "tmpfs root missing: {m:?}");
    assert!(
        has(format!("{nr}/nix/.ro-store"), "squashfs"),
        "squashfs missing: {m:?}"
    );
    assert!(
        has(format!("{nr}/nix/.rw-store"), "tmpfs"),
        "rw-store missing: {m:?}"
    );
    assert!(
        has(format!("{nr}/nix/store"), "overlay"),
        "overlay missing: {m:?}"
    );
    // The overlay is writable and its writes land in the tmpfs upper layer.
    let store = new_root.join("nix/store");
    assert!(store
        .join("0000000000000000000000000000abcd-toplevel/etc/hostname")
        .exists());
    std::fs::write(store.join("new-path"), "x").unwrap();
    assert!(new_root.join("nix/.rw-store/store/new-path").exists());
    // The read-only lower layer stays read-only.
    assert!(std::fs::write(new_root.join("nix/.ro-store/x"), "x").is_err());

    stage1::switch_root::switch_root(&new_root).unwrap();
    let m = mounts();
    let root_type = m
        .iter()
        .rev()
        .find(|(p, _)| p == "/")
        .map(|(_, t)| t.clone());
    assert_eq!(
        root_type.as_deref(),
        Some("tmpfs"),
        "/ after switch_root: {m:?}"
    );
    assert!(
        m.iter().any(|(p, t)| p == "/nix/store" && t == "overlay"),
        "{m:?}"
    );
    assert!(
        m.iter().any(|(p, t)| p == "/proc" && t == "proc"),
        "/proc was not moved: {m:?}"
    );
    assert!(
        Path::new("/nix/store/0000000000000000000000000000abcd-toplevel/etc/hostname").exists()
    );
    // The host root was not an initramfs: switch_root must not have emptied it.
    assert!(Path::new("/proc/self").exists());
}

#[test]
fn corrupt_image_gets_a_clear_error() {
    if !can_run("corrupt_image_gets_a_clear_error") {
        return;
    }
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("store.squashfs"), vec![0x42u8; 64 * 1024]).unwrap();
    run_inner("inner_corrupt_image", &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "run by corrupt_image_gets_a_clear_error inside unshare"]
fn inner_corrupt_image() {
    let Some(dir) = std::env::var_os(ENV_DIR).map(PathBuf::from) else {
        panic!("inner test run directly; it runs under the outer test");
    };
    assert!(
        in_private_namespace(),
        "refusing to mount outside a private mount namespace"
    );
    let params = BootParams::parse(&format!("root={}", dir.join("store.squashfs").display()));
    let plan = Plan::compute_at(
        &params,
        &dir,
        "test",
        &dir.join("mnt-root"),
        &dir.join("sys"),
    )
    .unwrap();
    let err = stage1::apply::apply(
        &plan,
        &mut stage1::apply::ApplyOptions {
            device_timeout: std::time::Duration::from_secs(1),
            events: &mut stage1::devices::block::Rescan,
        },
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("is not a squashfs image"),
        "unexpected error: {msg}"
    );
}
