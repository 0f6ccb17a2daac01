//! Idempotent base mounts: the API filesystems, `/run`, `/tmp`, `/var` basics and the `/dev`
//! convenience links.
//!
//! The steps are plain data ([`plan`]); [`base_mounts_in`] applies them under a root. A mount
//! point that `/proc/self/mountinfo` already lists is kept as it is (whatever stage-1 moved into
//! the new root stays), so running this twice mounts nothing new. See `README.md` for the table.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use log::{debug, info, warn};
use nix::mount::MsFlags;
use rustix::mount::MountFlags;

use crate::fsutil;
use crate::ids;
use crate::mountinfo::MountTable;

/// When a mount step applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Whenever the mount point is not already mounted.
    Always,
    /// Only when, in addition, the root is not itself on tmpfs/ramfs (used for `/tmp`: on a
    /// tmpfs root `/tmp` is already volatile memory and a second tmpfs buys nothing).
    RootNotVolatile,
}

/// One step of the base mount plan. Paths are relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create a directory when missing. With `enforce`, an existing directory gets `mode` too,
    /// unless something is mounted on it.
    Dir {
        path: &'static str,
        mode: u32,
        enforce: bool,
    },
    /// Mount `fs_type` (source `source`) with `flags` and `data`, unless already mounted.
    Mount {
        path: &'static str,
        fs_type: &'static str,
        source: &'static str,
        flags: MountFlags,
        data: String,
        when: When,
    },
    /// A symlink `path -> target`. Missing: created. With `replace`, a symlink pointing
    /// elsewhere or an empty directory is replaced; anything else is left alone with a warning.
    Link {
        path: &'static str,
        target: &'static str,
        replace: bool,
    },
}

/// The base mount plan, in order. `tty_gid` is the `tty` group's id for devpts, when known.
pub fn plan(tty_gid: Option<u32>) -> Vec<Step> {
    let api = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let nosuid_nodev = MountFlags::NOSUID | MountFlags::NODEV;
    let devpts_data = match tty_gid {
        Some(gid) => format!("gid={gid},mode=620,ptmxmode=666"),
        None => "mode=620,ptmxmode=666".to_owned(),
    };
    let dir = |path, mode| Step::Dir {
        path,
        mode,
        enforce: false,
    };
    let mount = |path, fs_type, source, flags, data: &str| Step::Mount {
        path,
        fs_type,
        source,
        flags,
        data: data.to_owned(),
        when: When::Always,
    };
    let link = |path, target, replace| Step::Link {
        path,
        target,
        replace,
    };
    vec![
        dir("proc", 0o555),
        mount("proc", "proc", "proc", api, ""),
        dir("sys", 0o555),
        mount("sys", "sysfs", "sysfs", api, ""),
        dir("dev", 0o755),
        mount(
            "dev",
            "devtmpfs",
            "devtmpfs",
            MountFlags::NOSUID,
            "mode=755",
        ),
        dir("dev/pts", 0o755),
        mount(
            "dev/pts",
            "devpts",
            "devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            &devpts_data,
        ),
        dir("dev/shm", 0o1777),
        mount("dev/shm", "tmpfs", "tmpfs", nosuid_nodev, "mode=1777"),
        link("dev/fd", "/proc/self/fd", false),
        link("dev/stdin", "/proc/self/fd/0", false),
        link("dev/stdout", "/proc/self/fd/1", false),
        link("dev/stderr", "/proc/self/fd/2", false),
        dir("run", 0o755),
        mount("run", "tmpfs", "tmpfs", nosuid_nodev, "mode=755"),
        dir("run/lock", 0o755),
        Step::Dir {
            path: "tmp",
            mode: 0o1777,
            enforce: true,
        },
        Step::Mount {
            path: "tmp",
            fs_type: "tmpfs",
            source: "tmpfs",
            flags: nosuid_nodev,
            data: "mode=1777".to_owned(),
            when: When::RootNotVolatile,
        },
        dir("etc", 0o755),
        dir("root", 0o700),
        dir("var", 0o755),
        dir("var/log", 0o755),
        Step::Dir {
            path: "var/tmp",
            mode: 0o1777,
            enforce: true,
        },
        Step::Dir {
            path: "var/empty",
            mode: 0o555,
            enforce: true,
        },
        link("var/run", "/run", true),
        link("var/lock", "/run/lock", true),
    ]
}

/// The base mounts on the real root (PID 1 after switch_root).
pub fn base_mounts() -> Result<()> {
    base_mounts_in(Path::new("/"))
}

/// The base mounts under `root`. Every step is tried even when an earlier one failed; the
/// error lists every failed step (mount point, filesystem type and errno for mounts).
pub fn base_mounts_in(root: &Path) -> Result<()> {
    let root =
        fs::canonicalize(root).with_context(|| format!("resolve root {}", root.display()))?;
    let group = root.join("etc/group");
    let tty_gid = ids::lookup_in(&group, "tty");
    match tty_gid {
        Some(gid) => debug!("devpts: group tty is {gid} in {}", group.display()),
        None => debug!("devpts: no tty group in {}", group.display()),
    }
    let mut table = read_table();
    let mut errors = Vec::new();
    for step in plan(tty_gid) {
        if let Err(e) = apply(&root, &step, &mut table) {
            errors.push(format!("{e:#}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} base mount step(s) failed: {}",
            errors.len(),
            errors.join("; ")
        )
    }
}

/// Remount `root/dev/pts` with `gid=<tty>` when `root/etc/group` names a `tty` group and the
/// devpts there does not use it yet (the base mounts run before `/etc` exists on a fresh
/// tmpfs root). Returns the gid when it remounted.
pub fn set_devpts_gid(root: &Path) -> Result<Option<u32>> {
    let root =
        fs::canonicalize(root).with_context(|| format!("resolve root {}", root.display()))?;
    let Some(gid) = ids::lookup_in(&root.join("etc/group"), "tty") else {
        return Ok(None);
    };
    let target = root.join("dev/pts");
    let table = MountTable::read()?;
    let Some(entry) = table.at(&target).filter(|m| m.fs_type == "devpts") else {
        return Ok(None);
    };
    if entry
        .super_options
        .split(',')
        .any(|o| o == format!("gid={gid}"))
    {
        return Ok(None);
    }
    let data = format!("gid={gid},mode=620,ptmxmode=666");
    sys_mount(
        None,
        &target,
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(&data),
    )
    .map_err(|e| anyhow!("remount devpts on {} ({data}): {e}", target.display()))?;
    info!("remounted devpts on {} with gid={gid}", target.display());
    Ok(Some(gid))
}

/// Whether `root` lives on a tmpfs or ramfs according to `table`.
pub fn root_is_volatile(table: &MountTable, root: &Path) -> bool {
    table
        .containing(root)
        .is_some_and(|m| m.fs_type == "tmpfs" || m.fs_type == "ramfs")
}

fn read_table() -> MountTable {
    MountTable::read().unwrap_or_else(|e| {
        debug!("no mount table yet ({e:#}); assuming nothing is mounted");
        MountTable::default()
    })
}

fn apply(root: &Path, step: &Step, table: &mut MountTable) -> Result<()> {
    match step {
        Step::Dir {
            path,
            mode,
            enforce,
        } => {
            let dir = root.join(path);
            if fsutil::ensure_dir(&dir, *mode)? {
                info!("created {} ({mode:o})", dir.display());
            } else if *enforce && !table.is_mount_point(&dir) {
                let current = fs::metadata(&dir)
                    .with_context(|| format!("stat {}", dir.display()))?
                    .permissions()
                    .mode()
                    & 0o7777;
                if current != *mode {
                    fsutil::set_mode(&dir, *mode)?;
                    info!("{}: mode {current:o} -> {mode:o}", dir.display());
                }
            }
            Ok(())
        }
        Step::Mount {
            path,
            fs_type,
            source,
            flags,
            data,
            when,
        } => {
            let target = root.join(path);
            if let Some(m) = table.at(&target) {
                info!("{} already mounted ({}), kept", target.display(), m.fs_type);
                return Ok(());
            }
            if *when == When::RootNotVolatile && root_is_volatile(table, root) {
                info!(
                    "{} stays a directory: the root is already tmpfs",
                    target.display()
                );
                return Ok(());
            }
            mount(source, &target, fs_type, *flags, data)?;
            info!(
                "mounted {fs_type} on {} ({})",
                target.display(),
                data_or_defaults(data)
            );
            *table = MountTable::read().unwrap_or_else(|_| {
                let mut t = std::mem::take(table);
                t.0.push(crate::mountinfo::MountEntry {
                    mount_point: target.clone(),
                    fs_type: (*fs_type).to_owned(),
                    source: (*source).to_owned(),
                    super_options: data.clone(),
                });
                t
            });
            Ok(())
        }
        Step::Link {
            path,
            target,
            replace,
        } => link(&root.join(path), Path::new(target), *replace),
    }
}

fn data_or_defaults(data: &str) -> &str {
    if data.is_empty() {
        "defaults"
    } else {
        data
    }
}

/// mount(2) through the same instance of `nix::mount::mount` as stage-1's,
/// so that rustix's mount code stays out of dist/init; the errno as
/// io::Error, whose text the messages have always shown.
fn sys_mount(
    source: Option<&Path>,
    target: &Path,
    fs_type: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    Ok(nix::mount::mount(source, target, fs_type, flags, data)?)
}

fn mount(source: &str, target: &Path, fs_type: &str, flags: MountFlags, data: &str) -> Result<()> {
    // The message this has always given, not the EINVAL nix would.
    if data.contains('\0') {
        return Err(anyhow!("mount data contains NUL"));
    }
    let data_arg = (!data.is_empty()).then_some(data);
    let flags = MsFlags::from_bits_retain(flags.bits().into());
    sys_mount(
        Some(Path::new(source)),
        target,
        Some(fs_type),
        flags,
        data_arg,
    )
    .map_err(|e| {
        anyhow!(
            "mount {fs_type} on {} ({}): {e}",
            target.display(),
            data_or_defaults(data)
        )
    })
}

fn link(path: &Path, target: &Path, replace: bool) -> Result<()> {
    let meta = fsutil::lstat(path).with_context(|| format!("lstat {}", path.display()))?;
    match meta {
        None => {}
        Some(m) if m.file_type().is_symlink() => {
            let current = fs::read_link(path).unwrap_or_else(|_| PathBuf::new());
            if current == target || !replace {
                return Ok(());
            }
        }
        Some(m) if m.is_dir() && replace => {
            if let Err(e) = fs::remove_dir(path) {
                warn!(
                    "{} is a directory that cannot be replaced by a link to {}: {e}",
                    path.display(),
                    target.display()
                );
                return Ok(());
            }
        }
        Some(_) => {
            if replace {
                warn!(
                    "{} exists and is not a link to {}, left alone",
                    path.display(),
                    target.display()
                );
            }
            return Ok(());
        }
    }
    fsutil::atomic_symlink(target, path)?;
    info!("linked {} -> {}", path.display(), target.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn mount_data<'a>(steps: &'a [Step], at: &str) -> &'a str {
        steps
            .iter()
            .find_map(|s| match s {
                Step::Mount { path, data, .. } if *path == at => Some(data.as_str()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn plan_has_every_base_mount_with_its_options() {
        let steps = plan(Some(5));
        let mounts: Vec<(&str, &str)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Mount { path, fs_type, .. } => Some((*path, *fs_type)),
                _ => None,
            })
            .collect();
        assert_eq!(
            mounts,
            [
                ("proc", "proc"),
                ("sys", "sysfs"),
                ("dev", "devtmpfs"),
                ("dev/pts", "devpts"),
                ("dev/shm", "tmpfs"),
                ("run", "tmpfs"),
                ("tmp", "tmpfs"),
            ]
        );
        assert_eq!(mount_data(&steps, "dev/pts"), "gid=5,mode=620,ptmxmode=666");
        assert_eq!(mount_data(&plan(None), "dev/pts"), "mode=620,ptmxmode=666");
        assert_eq!(mount_data(&steps, "dev/shm"), "mode=1777");
        assert_eq!(mount_data(&steps, "run"), "mode=755");
    }

    #[test]
    fn every_mount_point_is_created_before_it_is_mounted() {
        let steps = plan(None);
        for (i, s) in steps.iter().enumerate() {
            if let Step::Mount { path, .. } = s {
                let made = steps[..i]
                    .iter()
                    .any(|d| matches!(d, Step::Dir { path: p, .. } if p == path));
                assert!(made, "{path} mounted before its directory is created");
            }
        }
    }

    #[test]
    fn tmp_gets_tmpfs_only_off_a_volatile_root() {
        let tmpfs_root = MountTable::parse("1 0 0:1 / / rw - tmpfs tmpfs rw\n");
        let disk_root = MountTable::parse(
            "1 0 8:1 / / rw - ext4 /dev/vda rw\n2 1 0:2 / /mnt rw - tmpfs none rw\n",
        );
        assert!(root_is_volatile(&tmpfs_root, Path::new("/")));
        assert!(!root_is_volatile(&disk_root, Path::new("/")));
        assert!(root_is_volatile(&disk_root, Path::new("/mnt")));
        assert!(!root_is_volatile(&MountTable::default(), Path::new("/")));
    }

    #[test]
    fn links_created_kept_and_replaced() {
        let t = TempDir::new("links");
        let p = t.path().join("var-run");
        link(&p, Path::new("/run"), true).unwrap();
        assert_eq!(fs::read_link(&p).unwrap(), Path::new("/run"));
        std::os::unix::fs::symlink("/elsewhere", t.path().join("fd")).unwrap();
        link(&t.path().join("fd"), Path::new("/proc/self/fd"), false).unwrap();
        assert_eq!(
            fs::read_link(t.path().join("fd")).unwrap(),
            Path::new("/elsewhere")
        );
        link(&t.path().join("fd"), Path::new("/proc/self/fd"), true).unwrap();
        assert_eq!(
            fs::read_link(t.path().join("fd")).unwrap(),
            Path::new("/proc/self/fd")
        );
        fs::create_dir(t.path().join("empty")).unwrap();
        link(&t.path().join("empty"), Path::new("/run/lock"), true).unwrap();
        assert!(fs::symlink_metadata(t.path().join("empty"))
            .unwrap()
            .file_type()
            .is_symlink());
        fs::create_dir_all(t.path().join("full/x")).unwrap();
        link(&t.path().join("full"), Path::new("/run"), true).unwrap();
        assert!(t.path().join("full/x").is_dir());
    }
}
