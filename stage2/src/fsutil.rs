//! Small filesystem helpers shared by the stage-2 steps.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The Nix store directory: never resolved as a symlink by [`resolve_store_path`].
const STORE_DIR: &str = "/nix/store";

/// The temporary name used while replacing `path`: `.<name>.tmp` in the same directory.
pub fn temp_name(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".tmp");
    path.with_file_name(name)
}

/// Make `link` a symlink to `target`, atomically: the link is created under a temporary name
/// in the same directory and renamed over `link`, so readers see the old or the new link,
/// never none. Fails (and removes the temporary link) when `link` is a directory.
pub fn atomic_symlink(target: &Path, link: &Path) -> Result<()> {
    if fs::read_link(link).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let tmp = temp_name(link);
    remove_if_exists(&tmp)?;
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("symlink {} -> {}", tmp.display(), target.display()))?;
    if let Err(e) = fs::rename(&tmp, link) {
        let _ignored = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("rename {} to {}", tmp.display(), link.display()));
    }
    Ok(())
}

/// Remove a file or symlink (not a directory); a missing path is not an error.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", path.display())),
    }
}

/// `lstat` that maps "does not exist" to `None`.
pub fn lstat(path: &Path) -> io::Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Create the directory `path` (and missing parents, 0755) with exactly `mode` (umask does not
/// apply, sticky bit kept). Returns `true` when it was created; an existing directory is left
/// alone. Fails when `path` exists and is not a directory.
pub fn ensure_dir(path: &Path, mode: u32) -> Result<bool> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => return Ok(false),
        Ok(_) => bail!("{} exists and is not a directory", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
    }
    if let Some(parent) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .with_context(|| format!("mkdir -p {}", parent.display()))?;
    }
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {}
        // Lost a race with someone else creating it: fine if it is a directory now.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("mkdir {}", path.display())),
    }
    set_mode(path, mode)?;
    Ok(true)
}

/// `chmod` (follows symlinks), with the path in the error.
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

/// Resolve symlinks in `path` like `readlink -f`, except that `/nix` and `/nix/store`
/// themselves are never resolved: the result names a path inside the store as the store sees
/// it, even if the store directory is itself a symlink or bind mount. `..` is applied
/// lexically after resolving what precedes it. Relative paths are made absolute first.
/// Components that do not exist are kept as they are.
pub fn resolve_store_path(path: &Path) -> Result<PathBuf> {
    let start =
        std::path::absolute(path).with_context(|| format!("make {} absolute", path.display()))?;
    let mut pending: Vec<OsString> = components(&start);
    pending.reverse();
    let mut out = PathBuf::from("/");
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            out.pop();
            continue;
        }
        out.push(&name);
        if out == Path::new("/nix") || out == Path::new(STORE_DIR) {
            continue;
        }
        let Ok(target) = fs::read_link(&out) else {
            continue;
        };
        hops += 1;
        if hops > 40 {
            bail!(
                "too many levels of symbolic links resolving {}",
                path.display()
            );
        }
        out.pop();
        if target.is_absolute() {
            out = PathBuf::from("/");
        }
        let mut more = components(&target);
        more.reverse();
        pending.extend(more);
    }
    Ok(out)
}

/// The normal and `..` components of `path`, as owned names (`.` and the root dropped).
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// `std::fs::copy` without its own machinery (about 1.7 KiB of the static
/// binary): the bytes through `io::copy` (copy_file_range(2)), then the
/// source's permission bits, as `fs::copy` gives them.
pub fn copy_file(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<u64> {
    let mut src = std::fs::File::open(from)?;
    let perm = src.metadata()?.permissions();
    let mut dst = std::fs::File::create(to)?;
    let n = std::io::copy(&mut src, &mut dst)?;
    dst.set_permissions(perm)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::symlink;

    #[test]
    fn atomic_symlink_replaces_and_leaves_no_temp() {
        let t = TempDir::new("fsutil");
        let link = t.path().join("l");
        atomic_symlink(Path::new("/a"), &link).unwrap();
        atomic_symlink(Path::new("/b"), &link).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("/b"));
        assert!(lstat(&temp_name(&link)).unwrap().is_none());
        fs::create_dir(t.path().join("d")).unwrap();
        assert!(atomic_symlink(Path::new("/c"), &t.path().join("d")).is_err());
        assert!(lstat(&temp_name(&t.path().join("d"))).unwrap().is_none());
    }

    #[test]
    fn resolve_follows_relative_and_absolute_links() {
        let t = TempDir::new("resolve");
        let base = fs::canonicalize(t.path()).unwrap();
        fs::create_dir_all(base.join("store/abc-etc/etc")).unwrap();
        fs::create_dir(base.join("top")).unwrap();
        symlink(base.join("store/abc-etc/etc"), base.join("top/etc")).unwrap();
        assert_eq!(
            resolve_store_path(&base.join("top/etc")).unwrap(),
            base.join("store/abc-etc/etc")
        );
        fs::create_dir(base.join("x")).unwrap();
        symlink("../store/abc-etc", base.join("x/rel")).unwrap();
        assert_eq!(
            resolve_store_path(&base.join("x/rel/etc")).unwrap(),
            base.join("store/abc-etc/etc")
        );
        assert_eq!(
            resolve_store_path(&base.join("x/../x/missing")).unwrap(),
            base.join("x/missing")
        );
        assert_eq!(
            resolve_store_path(Path::new("/nix/store/hash-x/etc")).unwrap(),
            Path::new("/nix/store/hash-x/etc")
        );
    }

    #[test]
    fn resolve_detects_loops() {
        let t = TempDir::new("loop");
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        assert!(resolve_store_path(&t.path().join("a")).is_err());
    }

    #[test]
    fn ensure_dir_sets_sticky_mode_and_keeps_existing() {
        let t = TempDir::new("mkdir");
        let d = t.path().join("a/b/tmp");
        assert!(ensure_dir(&d, 0o1777).unwrap());
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o1777);
        assert!(!ensure_dir(&d, 0o700).unwrap());
        fs::write(t.path().join("f"), "").unwrap();
        assert!(ensure_dir(&t.path().join("f"), 0o755).is_err());
    }
}
