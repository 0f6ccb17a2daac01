//! Where the binary under test lives, and the guarantee that it is not
//! older than the sources it was built from.
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// The `init` binary to test: `$INIT_BIN` as given (`make test` sets it
/// after `make dist`), else the workspace's `dist/init` if it is newer than
/// its sources ([`assert_fresh`]). Never a cargo build under `target/`:
/// cargo leaves a binary untouched when only files it is not built from
/// changed (a test, a comment in Cargo.toml), so its age proves nothing,
/// while `make` rewrites `dist/init` whenever any source is newer.
pub fn init_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("INIT_BIN") {
        return PathBuf::from(p);
    }
    let dist = workspace_root().join("dist/init");
    assert!(
        dist.exists(),
        "no init binary to test: run `make dist`, or build one and name it in INIT_BIN \
         (cargo build -p init && INIT_BIN=$PWD/target/debug/init cargo nextest run …)"
    );
    assert_fresh(&dist);
    dist
}

/// Panics when `built` (made by `make dist` from the sources) is older than
/// one of the files the Makefile builds `dist/init` from (its `RUST_SRCS`:
/// Cargo.toml, Cargo.lock, and every `*.rs` and Cargo.toml under init/,
/// stage1/, stage2/ and runit-compat/), naming that file.
pub fn assert_fresh(built: &Path) {
    let made = fs::metadata(built)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    if let Some((newer, _)) = newest_source().filter(|(_, t)| *t > made) {
        panic!(
            "{} is older than {}: run `make dist` (or name a binary in INIT_BIN and a dist/ in DIST)",
            built.display(),
            newer.display()
        );
    }
}

/// The most recently modified source file of `dist/init` and its time,
/// found once per test process.
fn newest_source() -> Option<(PathBuf, SystemTime)> {
    static NEWEST: OnceLock<Option<(PathBuf, SystemTime)>> = OnceLock::new();
    NEWEST
        .get_or_init(|| {
            let root = workspace_root();
            let top = [
                "Cargo.toml",
                "Cargo.lock",
                "init",
                "stage1",
                "stage2",
                "runit-compat",
            ];
            let mut todo: Vec<PathBuf> = top.iter().map(|p| root.join(p)).collect();
            let mut newest = None;
            while let Some(p) = todo.pop() {
                let Ok(meta) = fs::symlink_metadata(&p) else {
                    continue;
                };
                if meta.is_dir() {
                    todo.extend(
                        fs::read_dir(&p)
                            .into_iter()
                            .flatten()
                            .flatten()
                            .map(|e| e.path()),
                    );
                    continue;
                }
                let name = p.file_name().unwrap_or_default();
                let source = name == "Cargo.toml"
                    || name == "Cargo.lock"
                    || p.extension().is_some_and(|e| e == "rs");
                if let (true, Ok(t)) = (source, meta.modified()) {
                    if newest.as_ref().is_none_or(|(_, n)| t > *n) {
                        newest = Some((p, t));
                    }
                }
            }
            newest
        })
        .clone()
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
