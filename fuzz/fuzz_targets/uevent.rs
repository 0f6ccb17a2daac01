//! `stage1::devices::uevent::Uevent::parse`: one datagram from the kernel's uevent
//! socket (`ACTION@DEVPATH\0KEY=value\0…`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use stage1::devices::uevent::Uevent;

fuzz_target!(|data: &[u8]| {
    if let Some(ev) = Uevent::parse(data) {
        assert!(!ev.action.is_empty());
        assert!(ev.devpath.starts_with('/'));
        let _ = ev.is_add();
    }
});
