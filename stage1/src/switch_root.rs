//! switch_root: move the API filesystems into the new root, empty the
//! initramfs (never crossing into another filesystem), and make the new
//! root `/` with `MS_MOVE` + chroot.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::statfs::{statfs, FsType, TMPFS_MAGIC};
use nix::unistd::{chdir, chroot};

/// statfs(2) magic of ramfs (the kernel's initramfs when tmpfs is not used).
const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);

/// The mounts that follow us into the new root.
pub const MOVED_MOUNTS: [&str; 4] = ["/dev", "/proc", "/sys", "/run"];

/// Switch to `new_root`. Afterwards `/` is the new root and the initramfs'
/// memory is freed.
pub fn switch_root(new_root: &Path) -> Result<()> {
    let root_dev = fs::metadata("/").context("stat /")?.dev();
    let new_dev = fs::metadata(new_root)
        .with_context(|| format!("stat {}", new_root.display()))?
        .dev();
    if root_dev == new_dev {
        bail!(
            "{} is not a mount point: nothing was mounted there",
            new_root.display()
        );
    }
    // Only ever delete on the kernel's initramfs itself: any other `/` (a
    // disk, a container's root, a test's namespace) must not be wiped.
    // Decided before /proc moves away.
    let fs = statfs("/")
        .map_err(std::io::Error::from)
        .context("statfs /")?;
    let in_memory = fs.filesystem_type() == RAMFS_MAGIC || fs.filesystem_type() == TMPFS_MAGIC;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let wipe = in_memory && root_is_initramfs(&mountinfo);
    for dir in MOVED_MOUNTS {
        move_mount(dir, new_root);
    }
    chdir(new_root)
        .map_err(std::io::Error::from)
        .with_context(|| format!("chdir {}", new_root.display()))?;
    if wipe {
        let freed = delete_contents(Path::new("/"), root_dev);
        log::debug!("freed the initramfs ({freed} entries removed)");
    } else {
        log::warn!("/ is not the initramfs: not deleting the old root's contents");
    }
    mount(
        Some(Path::new(".")),
        Path::new("/"),
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("moving {} to /", new_root.display()))?;
    chroot(".")
        .map_err(std::io::Error::from)
        .context("chroot into the new root")?;
    chdir(Path::new("/"))
        .map_err(std::io::Error::from)
        .context("chdir / in the new root")?;
    Ok(())
}

/// Whether the `/` mount in `mountinfo` is the kernel's `rootfs`.
pub fn root_is_initramfs(mountinfo: &str) -> bool {
    mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .filter_map(|l| l.split(" - ").nth(1)?.split(' ').next())
        .next_back()
        == Some("rootfs")
}

fn move_mount(dir: &str, new_root: &Path) {
    let target = new_root.join(dir.trim_start_matches('/'));
    if let Err(e) = fs::create_dir_all(&target) {
        log::warn!(
            "cannot create {}: {e}; {dir} stays behind",
            target.display()
        );
        return;
    }
    match mount(
        Some(Path::new(dir)),
        target.as_path(),
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    ) {
        Ok(()) => {}
        // EINVAL: not a mount point (e.g. no /run yet): nothing to move.
        Err(nix::errno::Errno::EINVAL) => log::debug!("{dir} is not mounted: not moved"),
        Err(e) => log::warn!(
            "moving {dir} to {}: {}",
            target.display(),
            std::io::Error::from(e)
        ),
    }
}

/// Remove everything under `dir` that lives on device `dev`, depth first,
/// without following symlinks or descending into other filesystems.
/// Returns how many entries were removed.
pub fn delete_contents(dir: &Path, dev: u64) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.dev() != dev {
            continue;
        }
        if meta.is_dir() {
            removed += delete_contents(&path, dev);
            if fs::remove_dir(&path).is_ok() {
                removed += 1;
            }
        } else if fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Resolve `path` as if `root` were `/`: absolute symlinks (the store is
/// full of them) are followed inside `root`, never on the host. Returns
/// the host path, or `None` if a component is missing or the symlink
/// chain is longer than 40 (the kernel's limit).
pub fn resolve_in_root(root: &Path, path: &Path) -> Option<std::path::PathBuf> {
    use std::path::Component;
    let mut todo: Vec<std::ffi::OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut rel = std::path::PathBuf::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            rel.pop();
            continue;
        }
        let candidate = root.join(&rel).join(&part);
        let meta = fs::symlink_metadata(&candidate).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return None;
            }
            let target = fs::read_link(&candidate).ok()?;
            if target.is_absolute() {
                rel = std::path::PathBuf::new();
            }
            for c in target.components().rev() {
                match c {
                    Component::Normal(n) => todo.push(n.to_os_string()),
                    Component::ParentDir => todo.push("..".into()),
                    _ => {}
                }
            }
        } else {
            rel.push(&part);
        }
    }
    Some(root.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_contents_stays_on_one_device() {
        let dir = std::env::temp_dir().join(format!("switch-root-test-{}", std::process::id()));
        fs::create_dir_all(dir.join("a/b")).unwrap();
        fs::write(dir.join("a/b/file"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("link")).unwrap();
        let dev = fs::metadata(&dir).unwrap().dev();
        let removed = delete_contents(&dir, dev);
        assert_eq!(removed, 4);
        assert!(fs::read_dir(&dir).unwrap().next().is_none());
        // The symlink's target was not followed.
        assert!(Path::new("/etc").exists());
        // A different device number means nothing is touched.
        fs::write(dir.join("keep"), b"x").unwrap();
        assert_eq!(delete_contents(&dir, dev + 1), 0);
        assert!(dir.join("keep").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolves_absolute_symlinks_inside_the_root() {
        let dir = std::env::temp_dir().join(format!("resolve-test-{}", std::process::id()));
        fs::create_dir_all(dir.join("nix/store/abc-system")).unwrap();
        std::os::unix::fs::symlink("/nix/store/abc-system", dir.join("nix/store/link")).unwrap();
        std::os::unix::fs::symlink("../store/./abc-system", dir.join("nix/store/rel")).unwrap();
        std::os::unix::fs::symlink("/loop", dir.join("loop")).unwrap();
        let want = dir.join("nix/store/abc-system");
        assert_eq!(
            resolve_in_root(&dir, Path::new("/nix/store/link")),
            Some(want.clone())
        );
        assert_eq!(
            resolve_in_root(&dir, Path::new("/nix/store/rel")),
            Some(want)
        );
        assert_eq!(resolve_in_root(&dir, Path::new("/loop")), None);
        assert_eq!(resolve_in_root(&dir, Path::new("/missing")), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
