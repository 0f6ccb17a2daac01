//! Where the binary under test lives.
use std::path::PathBuf;

/// The `init` binary to test: `$INIT_BIN`, else `dist/init`, else
/// `target/debug/init` (relative to the workspace root).
pub fn init_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("INIT_BIN") {
        return PathBuf::from(p);
    }
    let root = workspace_root();
    for cand in ["dist/init", "target/release/init", "target/debug/init"] {
        let p = root.join(cand);
        if p.exists() {
            return p;
        }
    }
    panic!("no init binary: run `make` (or set INIT_BIN) before the integration tests");
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
