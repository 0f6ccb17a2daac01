//! `net::dns::parse_answer` on any datagram, for the id its first
//! two bytes carry and for another id (both must return, never panic), and
//! `ResolvConf::parse` plus `candidates` on the same bytes as text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::dns::{encode_query, parse_answer, ResolvConf};

fuzz_target!(|data: &[u8]| {
    let id = data.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    if let Some(Ok(addrs)) = parse_answer(id, data) {
        assert!(!addrs.is_empty(), "Ok with no address");
    }
    let _ = parse_answer(id.wrapping_add(1), data);
    let text = String::from_utf8_lossy(data);
    let conf = ResolvConf::parse(&text);
    for name in conf.candidates(text.lines().next().unwrap_or("")) {
        if let Ok(q) = encode_query(id, &name) {
            assert!(q.len() <= 12 + 255 + 4, "a query longer than a name allows");
        }
    }
});
