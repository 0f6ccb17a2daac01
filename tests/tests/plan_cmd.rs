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

/// A sysfs snapshot of the demo VM's disk: `init plan --sys` shows the
/// device -> module decisions (virtio_pci for the PCI function, virtio_blk
/// for the virtio device, nothing for the host bridge, a blacklisted
/// driver skipped) and plans the modules ahead of the mounts' own.
#[test]
fn plan_shows_coldplug_modules_for_a_sys_snapshot() {
    let root = fixture("sys");
    let moddir = root.join("lib/modules/6.1.0-test");
    let mut dep = std::fs::read_to_string(moddir.join("modules.dep")).unwrap();
    dep.push_str(
        "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
         kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n",
    );
    std::fs::write(moddir.join("modules.dep"), dep).unwrap();
    std::fs::write(
        moddir.join("modules.alias"),
        "# Aliases extracted from modules themselves.\n\
         alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n\
         alias virtio:d00000002v* virtio_blk\n\
         alias virtio:d00000004v* virtio_rng\n\
         this line is corrupt\n",
    )
    .unwrap();
    std::fs::remove_dir_all(root.join("etc")).unwrap();
    let sys = root.join("snapshot");
    let dev = |path: &str, alias: &str| {
        let dir = sys.join("devices").join(path);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("modalias"), format!("{alias}\n")).unwrap();
    };
    dev(
        "pci0000:00/0000:00:00.0",
        "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00",
    );
    dev(
        "pci0000:00/0000:00:05.0",
        "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
    );
    dev(
        "pci0000:00/0000:00:05.0/virtio2",
        "virtio:d00000002v00001AF4",
    );
    dev(
        "pci0000:00/0000:00:06.0/virtio3",
        "virtio:d00000004v00001AF4",
    );
    let out = Command::new(init_bin())
        .args(["plan", "--kernel", "6.1.0-test", "--root"])
        .arg(&root)
        .arg("--sys")
        .arg(&sys)
        .args(["--cmdline", "root=/dev/vda rd.driver.blacklist=virtio_rng"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    for line in [
        "  /devices/pci0000:00/0000:00:00.0 (pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00): no module",
        "  /devices/pci0000:00/0000:00:05.0 (pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00): virtio_pci",
        "  /devices/pci0000:00/0000:00:05.0/virtio2 (virtio:d00000002v00001AF4): virtio_blk",
        "  /devices/pci0000:00/0000:00:06.0/virtio3 (virtio:d00000004v00001AF4): virtio_rng (blacklisted, skipped)",
        "virtio_pci: kernel/drivers/virtio/virtio_pci.ko (for device /devices/pci0000:00/0000:00:05.0 (pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00))",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
    }
    assert!(
        !text.contains("virtio_rng:"),
        "blacklisted module planned:\n{text}"
    );
    assert!(
        text.contains("warning: modules.alias line 5: not 'alias PATTERN MODULE', skipped"),
        "no warning for the corrupt line:\n{text}"
    );
    // Without a snapshot (the fixture has no sys/) nothing is coldplugged.
    let (text, code) = plan(&root, "root=/dev/vda");
    assert_eq!(code, 0, "{text}");
    assert!(
        !text.contains("devices:") && !text.contains("virtio_pci"),
        "{text}"
    );
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

/// Mistakes on the command line cost one line each: a misspelled name of
/// ours names the nearest one and a useless value is ignored, with the
/// plan printed as it will be; a `root=` that can name nothing stops the
/// plan (exit 111) instead of becoming a fetch or a 20 s device wait.
#[test]
fn plan_checks_the_command_line() {
    let root = fixture("check");
    let (text, code) = plan(
        &root,
        "root=/dev/vda boot.shel_on_fail boot.tmpfs_size=-5 panic=-1 rd.luks.uuid=1",
    );
    assert_eq!(code, 0, "{text}");
    for line in [
        "warning: kernel command line: boot.shel_on_fail: unknown parameter, ignored; did you mean boot.shell_on_fail?",
        "warning: kernel command line: boot.tmpfs_size=-5: not a size like 512M or 50% (of RAM), ignored",
        "warning: kernel command line: rd.luks.uuid: unknown parameter, ignored",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
    }
    assert_eq!(
        text.matches("warning: kernel command line").count(),
        3,
        "{text}"
    );
    assert!(text.contains("size=50%"), "the default tmpfs size:\n{text}");
    for (cmdline, error) in [
        (
            "root=http://",
            "root=http://: no host; expected http://host[:port]/path",
        ),
        (
            "root=http://[::1/x",
            "root=http://[::1/x: no ] after the IPv6 address; expected http://host[:port]/path",
        ),
        (
            "root=UUID=zz",
            "root=UUID=zz: not a UUID: 8-4-4-4-12 hex digits, as blkid prints it",
        ),
    ] {
        let (text, code) = plan(&root, cmdline);
        assert_eq!(code, 111, "{cmdline}: {text}");
        let want = format!("init plan: kernel command line: {error}");
        assert!(
            text.lines().any(|l| l == want),
            "no line {want:?} in:\n{text}"
        );
        assert!(
            !text.contains("mount "),
            "{cmdline}: planned anyway:\n{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
