//! The `.mode`/`.uid`/`.gid` sidecars of `/etc` entries. Their parsing is
//! private to `stage2::etc`, so this target goes through the nearest public
//! function, `stage2::etc::setup_etc`, over a small tree in a temporary
//! directory: `f` with the three sidecars, `passwd` and `group`, whose
//! contents are the input's five NUL-separated parts. `setup_etc` must not
//! fail on any of them (bad sidecars are warnings), and when it leaves no
//! `etc/f` it must say why in a warning.
#![no_main]
use std::fs;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use stage2::etc::setup_etc;

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("init-fuzz-etc-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let (mode, uid, gid, passwd, group) = (next(), next(), next(), next(), next());
    let dir = scratch();
    let _ = fs::remove_dir_all(&dir);
    let (src, etc) = (dir.join("src"), dir.join("etc"));
    fs::create_dir_all(&src).expect("scratch dir");
    fs::write(src.join("f"), b"content\n").expect("write f");
    for (name, text) in [
        ("f.mode", mode),
        ("f.uid", uid),
        ("f.gid", gid),
        ("passwd", passwd),
        ("group", group),
    ] {
        if !text.is_empty() {
            fs::write(src.join(name), text).expect("write sidecar");
        }
    }
    let report = setup_etc(&src, &etc).expect("setup_etc on a sound tree");
    assert!(
        fs::symlink_metadata(etc.join("f")).is_ok() || !report.warnings.is_empty(),
        "etc/f missing without a warning: {report:?}"
    );
    let _ = fs::remove_dir_all(&dir);
});
