//! `net::carry::parse_line` on every line of any text (the `network` file
//! `init kexec --carry-network` hands to stage-1): it returns, never
//! panics, and what it reads keeps the prefix within the family's bits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::carry::{parse_line, Item};

fuzz_target!(|data: &[u8]| {
    for line in String::from_utf8_lossy(data).lines() {
        if let Some(Some(Item::Address(ip, prefix))) = parse_line(line) {
            assert!(prefix <= if ip.is_ipv4() { 32 } else { 128 });
        }
    }
});
