//! Scanning a service directory the way runsvdir does: names starting
//! with `.` are skipped, symlinks are followed, only directories count,
//! and a service is identified by (device, inode), so renaming or
//! re-linking the same directory is not a new service.
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One service directory found by a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub name: OsString,
    pub id: (u64, u64),
}

/// List `dir`'s services. Entries that cannot be stat'ed are logged and
/// skipped (runsvdir: "unable to stat").
pub fn list(dir: &Path) -> io::Result<Vec<Found>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        match std::fs::metadata(entry.path()) {
            Ok(md) if md.is_dir() => out.push(Found {
                name,
                id: (md.dev(), md.ino()),
            }),
            Ok(_) => {}
            Err(e) => log::warn!(
                "runsvdir {}: unable to stat {}: {e}",
                dir.display(),
                name.to_string_lossy()
            ),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The directories whose entries decide where `path` leads: the (real)
/// directory holding each symlink of its chain (`/etc/service` ->
/// `/etc/runit/runsvdir/current` -> `default`), so a link renamed over,
/// as `runsvchdir` does with `current`, is seen; then the directory it
/// resolves to, or, while the chain's last name is missing (between two
/// renames), the directory where it will appear. Links among the parent
/// directories are resolved, not watched (the safety rescan covers them).
pub fn watch_dirs(path: &Path) -> Vec<PathBuf> {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = Vec::new();
    let mut p = path.to_path_buf();
    // The kernel's own limit on symlinks in one resolution.
    for _ in 0..40 {
        let Some(dir) = p.parent().map(real) else {
            break;
        };
        let Ok(target) = std::fs::read_link(&p) else {
            break;
        };
        p = dir.join(target);
        out.push(dir);
    }
    match std::fs::canonicalize(&p) {
        Ok(d) => out.push(d),
        Err(_) => out.extend(p.parent().map(real)),
    }
    out.dedup();
    out
}

/// What changed between the supervised set (`have`, by id) and a scan.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Found but not supervised yet: start these.
    pub added: Vec<Found>,
    /// Supervised but no longer found: stop these.
    pub removed: Vec<(u64, u64)>,
}

/// Pure comparison of the supervised ids with a scan's result. The first
/// name wins when two names lead to the same directory.
pub fn diff(have: &[(u64, u64)], found: &[Found]) -> Diff {
    let mut d = Diff::default();
    for f in found {
        if !have.contains(&f.id) && !d.added.iter().any(|a| a.id == f.id) {
            d.added.push(f.clone());
        }
    }
    for id in have {
        if !found.iter().any(|f| f.id == *id) {
            d.removed.push(*id);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn f(name: &str, ino: u64) -> Found {
        Found {
            name: name.into(),
            id: (1, ino),
        }
    }

    #[test]
    fn diff_adds_and_removes() {
        let d = diff(&[(1, 1), (1, 2)], &[f("a", 1), f("c", 3), f("c2", 3)]);
        assert_eq!(d.added, vec![f("c", 3)]);
        assert_eq!(d.removed, vec![(1, 2)]);
        assert_eq!(diff(&[], &[]), Diff::default());
    }

    /// Every directory holding a link on the way is watched, then the
    /// directory the path leads to: `service -> runsvdir/current -> a`.
    #[test]
    fn watch_dirs_follow_each_link() {
        let d = std::env::temp_dir().join(format!("rc-watch-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("runsvdir/a")).unwrap();
        fs::create_dir_all(d.join("etc")).unwrap();
        std::os::unix::fs::symlink("a", d.join("runsvdir/current")).unwrap();
        std::os::unix::fs::symlink(d.join("runsvdir/current"), d.join("etc/service")).unwrap();
        std::os::unix::fs::symlink("../runsvdir/./a", d.join("etc/rel")).unwrap();
        let d = fs::canonicalize(&d).unwrap();
        assert_eq!(
            watch_dirs(&d.join("etc/service")),
            [d.join("etc"), d.join("runsvdir"), d.join("runsvdir/a")]
        );
        assert_eq!(
            watch_dirs(&d.join("etc/rel")),
            [d.join("etc"), d.join("runsvdir/a")]
        );
        assert_eq!(watch_dirs(&d.join("runsvdir/a")), [d.join("runsvdir/a")]);
        // `current` between runsvchdir's two renames: its directory.
        fs::remove_file(d.join("runsvdir/current")).unwrap();
        assert_eq!(
            watch_dirs(&d.join("etc/service")),
            [d.join("etc"), d.join("runsvdir")]
        );
        // A loop ends after 40 hops instead of spinning.
        std::os::unix::fs::symlink("loop", d.join("etc/loop")).unwrap();
        assert_eq!(watch_dirs(&d.join("etc/loop")), [d.join("etc")]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn list_skips_dots_follows_links() {
        let d = std::env::temp_dir().join(format!("rc-scan-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("a")).unwrap();
        fs::create_dir_all(d.join(".hidden")).unwrap();
        fs::write(d.join("file"), "").unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("b")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", d.join("dangling")).unwrap();
        let l = list(&d).unwrap();
        let names: Vec<_> = l.iter().map(|x| x.name.to_str().unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(l[0].id, l[1].id);
        assert_eq!(diff(&[], &l).added.len(), 1);
        fs::remove_dir_all(&d).unwrap();
    }
}
