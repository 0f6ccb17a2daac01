//! Finding the system to boot when the command line names none: a netboot
//! user should not have to copy a 32-character store hash into `toplevel=`.
//!
//! In the mounted store (`<new root>/nix/store`), in this order:
//! 1. a `toplevel` symlink at the image root (as a netboot image builder
//!    writes it), pointing at `/nix/store/<hash>-…` or at `<hash>-…`;
//! 2. a `nix-support/toplevel` file at the image root holding that path;
//! 3. the store paths named `*-nixos-system-*` or `*-toplevel` that look
//!    like a system: an `init` (NixOS) or an `etc/` directory (our contract:
//!    `etc/` is what stage-2 needs, `init` is optional).
//!
//! Rules 1 and 2 name one system; rule 3 may find several, and then the
//! person at the console picks (PID 1 decides that, not this module).
use std::path::{Path, PathBuf};

/// Where the store appears after switch_root.
const STORE: &str = "/nix/store";

/// What [`discover`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// One system, and the rule that named it.
    One(PathBuf, &'static str),
    /// Several candidates (rule 3), sorted.
    Many(Vec<PathBuf>),
    /// Nothing that looks like a system.
    None,
}

/// Looks for the system in the store mounted at `store` (the path of
/// `/nix/store` from where we are). Returned paths are `/nix/store/…`, as
/// the new root will see them.
pub fn discover(store: &Path) -> Found {
    if let Ok(target) = std::fs::read_link(store.join("toplevel")) {
        if let Some(p) = in_store(store, &target) {
            return Found::One(p, "the image's toplevel link");
        }
        log::warn!(
            "the image's toplevel link points at {}, which is not a store path in the image: ignored",
            target.display()
        );
    }
    if let Ok(text) = std::fs::read_to_string(store.join("nix-support/toplevel")) {
        if let Some(p) = in_store(store, Path::new(text.trim())) {
            return Found::One(p, "the image's nix-support/toplevel");
        }
        log::warn!(
            "the image's nix-support/toplevel names {:?}, which is not a store path in the image: ignored",
            text.trim()
        );
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(store)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    looks_like_system_name(&name) && looks_like_system(&e.path())
                })
                .map(|e| Path::new(STORE).join(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    match candidates.len() {
        0 => Found::None,
        1 => Found::One(candidates.remove(0), "the only system in the store"),
        _ => Found::Many(candidates),
    }
}

/// `<hash>-nixos-system-<host>-<version>` or `<hash>-…-toplevel`.
fn looks_like_system_name(name: &str) -> bool {
    let Some((hash, rest)) = name.split_once('-') else {
        return false;
    };
    hash.len() == 32
        && hash.bytes().all(|b| b.is_ascii_alphanumeric())
        && (rest.starts_with("nixos-system-") || rest.ends_with("toplevel"))
}

fn looks_like_system(dir: &Path) -> bool {
    dir.join("init").is_file() || dir.join("etc").is_dir()
}

/// `target` (`/nix/store/<name>` or `<name>`) as a `/nix/store` path, if
/// it is a directory in the store at `store`.
fn in_store(store: &Path, target: &Path) -> Option<PathBuf> {
    let rel = target.strip_prefix(STORE).unwrap_or(target);
    let name = rel.components().next()?;
    let std::path::Component::Normal(name) = name else {
        return None;
    };
    store
        .join(name)
        .is_dir()
        .then(|| Path::new(STORE).join(rel))
        .filter(|p| p.components().count() >= 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1lsy0ivmgs04811rj1v0fja2vdjgirgx-toplevel";
    const B: &str = "9xg4bq8dv1q6s3w8g0l1m3f3d2h0z8hq-nixos-system-demo-24.11";

    fn store(tag: &str, systems: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("toplevel-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for s in systems {
            std::fs::create_dir_all(dir.join(s).join("etc")).unwrap();
        }
        std::fs::create_dir_all(dir.join("0c3v9kh6q0gkqxm1b1x8kx4l5y0s2fqa-busybox/bin")).unwrap();
        dir
    }

    #[test]
    fn the_only_system_is_found() {
        let s = store("one", &[A]);
        assert_eq!(
            discover(&s),
            Found::One(Path::new(STORE).join(A), "the only system in the store")
        );
        std::fs::remove_dir_all(&s).unwrap();
    }

    #[test]
    fn several_systems_are_listed_sorted() {
        let s = store("many", &[B, A]);
        assert_eq!(
            discover(&s),
            Found::Many(vec![Path::new(STORE).join(A), Path::new(STORE).join(B)])
        );
        // The image's link decides between them, absolute or relative.
        std::os::unix::fs::symlink(format!("/nix/store/{B}"), s.join("toplevel")).unwrap();
        assert_eq!(
            discover(&s),
            Found::One(Path::new(STORE).join(B), "the image's toplevel link")
        );
        std::fs::remove_file(s.join("toplevel")).unwrap();
        std::fs::create_dir_all(s.join("nix-support")).unwrap();
        std::fs::write(s.join("nix-support/toplevel"), format!("{A}\n")).unwrap();
        assert_eq!(
            discover(&s),
            Found::One(Path::new(STORE).join(A), "the image's nix-support/toplevel")
        );
        std::fs::remove_dir_all(&s).unwrap();
    }

    #[test]
    fn nothing_that_looks_like_a_system() {
        let s = store("none", &[]);
        // A name that matches but no etc/ or init: not a system.
        std::fs::create_dir_all(s.join(A)).unwrap();
        // A link to something outside the store is ignored.
        std::os::unix::fs::symlink("/etc", s.join("toplevel")).unwrap();
        assert_eq!(discover(&s), Found::None);
        std::fs::remove_dir_all(&s).unwrap();
        assert_eq!(discover(Path::new("/nonexistent/store")), Found::None);
    }

    #[test]
    fn names() {
        assert!(looks_like_system_name(A));
        assert!(looks_like_system_name(B));
        assert!(!looks_like_system_name("toplevel"));
        assert!(!looks_like_system_name("short-toplevel"));
        assert!(!looks_like_system_name(
            "0c3v9kh6q0gkqxm1b1x8kx4l5y0s2fqa-busybox"
        ));
    }
}
