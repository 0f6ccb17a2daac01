//! `stage1::devices::partition::parse`: the input is the whole disk, read with
//! 512- and 4096-byte logical blocks. Checks what the doc promises: no read
//! outside the disk, no panic, and kernel-style numbers (1 to 255, each
//! once, ascending).
#![no_main]
use libfuzzer_sys::fuzz_target;
use stage1::devices::partition::{parse, Key};

fuzz_target!(|disk: &[u8]| {
    for sector in [512, 4096] {
        let read_at = |off: u64, buf: &mut [u8]| {
            let start = usize::try_from(off).expect("offset fits usize");
            let end = start.checked_add(buf.len()).expect("no overflow");
            assert!(
                end <= disk.len(),
                "read {start}..{end} past a {}-byte disk",
                disk.len()
            );
            buf.copy_from_slice(&disk[start..end]);
            Ok(())
        };
        let Some(table) = parse(read_at, disk.len() as u64, sector).expect("reads never fail")
        else {
            continue;
        };
        let numbers: Vec<u32> = table.entries().iter().map(|e| e.number).collect();
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "numbers {numbers:?}"
        );
        assert!(
            numbers.iter().all(|n| (1..256).contains(n)),
            "numbers {numbers:?}"
        );
        // The lookups `root=PARTUUID=`/`PARTLABEL=` make on entries.
        for e in table.entries() {
            let _ = Key::PartUuid(e.uuid.clone());
            let _ = Key::PartLabel(e.label.clone().unwrap_or_default());
        }
    }
});
