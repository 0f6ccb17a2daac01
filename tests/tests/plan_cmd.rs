//! `init plan`: what stage-1 would do against a directory tree, printed
//! without privileges and without touching anything.
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::bin::init_bin;

/// A tiny initramfs tree with Debian-shaped module files.
fn fixture(tag: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("plan-cmd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let moddir = root.join("lib/modules/6.1.0-test");
    std::fs::create_dir_all(&moddir).unwrap();
    std::fs::write(
        moddir.join("modules.dep"),
        "kernel/drivers/virtio/virtio_ring.ko:\n\
         kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
         kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
         kernel/drivers/md/dm-mod.ko:\n\
         kernel/fs/squashfs/squashfs.ko:\n\
         kernel/fs/overlayfs/overlay.ko:\n\
         kernel/drivers/block/loop.ko:\n",
    )
    .unwrap();
    std::fs::write(moddir.join("modules.builtin"), "kernel/fs/ext4/ext4.ko\n").unwrap();
    std::fs::create_dir_all(root.join("etc/modules-load.d")).unwrap();
    std::fs::write(
        root.join("etc/modules-load.d/initrd.conf"),
        "virtio_blk\n# comment\ndm_mod\n",
    )
    .unwrap();
    root
}

fn plan(root: &Path, cmdline: &str) -> (String, i32) {
    let out = Command::new(init_bin())
        .args(["plan", "--kernel", "6.1.0-test", "--root"])
        .arg(root)
        .args(["--cmdline", cmdline])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.code().unwrap_or(-1))
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
}

#[test]
fn plan_orders_dependencies_and_mounts() {
    let root = fixture("order");
    let (text, code) = plan(
        &root,
        "toplevel=/nix/store/abc-toplevel root=/dev/vda virtio_blk.queue_depth=64",
    );
    assert_eq!(code, 0, "{text}");
    // Dependencies before dependents; the dashed file name under the underscore name.
    assert!(position(&text, "virtio_ring:") < position(&text, "virtio:"));
    assert!(position(&text, "virtio:") < position(&text, "virtio_blk:"));
    assert!(text.contains("dm-mod.ko"), "{text}");
    assert!(text.contains("queue_depth=64"), "{text}");
    // Mounts in order, ending in the overlay; then the switch.
    let tmpfs = position(&text, "mount -t tmpfs tmpfs /mnt-root ");
    let squash = position(&text, "mount -t squashfs /dev/vda /mnt-root/nix/.ro-store");
    let overlay = position(&text, "mount -t overlay overlay /mnt-root/nix/store");
    assert!(tmpfs < squash && squash < overlay, "{text}");
    assert!(
        text.contains("switch_root /mnt-root then stage-2 of /nix/store/abc-toplevel"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn plan_for_a_squashfs_file_needs_loop_and_warns_about_missing_modules() {
    let root = fixture("file");
    let (text, code) = plan(
        &root,
        "root=/nix-store.squashfs rd.modules_load=no_such_module",
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("loop:/nix-store.squashfs"), "{text}");
    assert!(
        text.contains("loop: kernel/drivers/block/loop.ko"),
        "{text}"
    );
    assert!(text.contains("no_such_module"), "{text}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn plan_rejects_bad_usage_with_100() {
    let out = Command::new(init_bin())
        .args(["plan", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(100));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: init plan"));
}
