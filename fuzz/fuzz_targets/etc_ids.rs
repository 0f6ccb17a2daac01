//! `stage2::ids::lookup`: how a `.uid`/`.gid` sidecar's name becomes a
//! number (passwd/group text, NUL, the name). The sidecar parsing itself
//! is private to `stage2::etc`; `etc_sidecars` reaches it through
//! `setup_etc`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stage2::ids::lookup;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (db, name) = text.split_once('\0').unwrap_or((&*text, "root"));
    let _ = lookup(db, name);
    // Every name the text defines, as setup_etc would ask for it.
    for line in db.lines().take(16) {
        if let Some((user, _)) = line.split_once(':') {
            let _ = lookup(db, user);
        }
    }
});
