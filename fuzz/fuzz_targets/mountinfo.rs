//! `stage2::mountinfo::MountTable::parse` on `/proc/self/mountinfo` text,
//! then the lookups stage-2 makes on it.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stage2::mountinfo::MountTable;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let table = MountTable::parse(&text);
    assert!(table.0.len() <= text.lines().count());
    for path in ["/", "/proc", "/dev/pts", "/nix/store", "/run/init"] {
        let path = Path::new(path);
        let _ = table.is_mount_point(path);
        let _ = table.at(path);
        let _ = table.containing(path);
        let _ = table.count_under(path);
    }
    for m in table.0.iter().take(8) {
        let _ = table.containing(&m.mount_point);
        assert!(table.is_mount_point(&m.mount_point));
    }
});
