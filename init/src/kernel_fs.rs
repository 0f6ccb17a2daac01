//! The kernel's filesystems PID 1 needs: `/proc`, `/sys`, `/dev` and
//! `/run`, mounted before anything else at boot (so that the command line,
//! kmsg and device nodes exist), and `/proc` and `/sys` mounted again at
//! shutdown when stage 3 (`umount -a`) took them away. A leaf module: one
//! table and one mount step for both.
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

/// One kernel filesystem and how to tell it is there.
pub struct KernelFs {
    pub target: &'static str,
    pub fstype: &'static str,
    /// A path that exists only when it is mounted ("" when none does).
    probe: &'static str,
    flags: MsFlags,
    data: &'static str,
}

const NO_DEV_EXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

pub const PROC: KernelFs = KernelFs {
    target: "/proc",
    fstype: "proc",
    probe: "/proc/self",
    flags: NO_DEV_EXEC,
    data: "",
};

pub const SYS: KernelFs = KernelFs {
    target: "/sys",
    fstype: "sysfs",
    probe: "/sys/kernel",
    flags: NO_DEV_EXEC,
    data: "",
};

/// What PID 1 mounts first, in this order.
pub const EARLY: [&KernelFs; 4] = [
    &PROC,
    &SYS,
    &KernelFs {
        target: "/dev",
        fstype: "devtmpfs",
        probe: "/dev/null",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
    },
    &KernelFs {
        target: "/run",
        fstype: "tmpfs",
        probe: "",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: "mode=0755",
    },
];

/// Mount `fs` unless it is there already (its probe exists, or its target
/// is a mount point). `Ok(true)` when it was mounted now. The error as
/// io::Error: its message comes from libc's strerror, not from nix's own
/// errno tables (see README, Sizes).
pub fn mount_missing(fs: &KernelFs) -> std::io::Result<bool> {
    if Path::new(fs.probe).exists() || is_mount_point(fs.target) {
        return Ok(false);
    }
    let _ = std::fs::create_dir_all(fs.target);
    let data = (!fs.data.is_empty()).then_some(fs.data);
    // Paths for source and target, as every mount call in dist/init: one
    // instantiation of nix's generic mount.
    let (source, target) = (Path::new(fs.fstype), Path::new(fs.target));
    match mount(Some(source), target, Some(fs.fstype), fs.flags, data) {
        Ok(()) => Ok(true),
        Err(Errno::EBUSY) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// True when `path` is a mount point (its device differs from its parent's).
fn is_mount_point(path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let p = Path::new(path);
    match (std::fs::metadata(p), p.parent().map(std::fs::metadata)) {
        (Ok(m), Some(Ok(parent))) => m.dev() != parent.dev(),
        _ => false,
    }
}
