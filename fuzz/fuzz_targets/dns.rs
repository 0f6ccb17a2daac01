//! `net::dns::parse_answer` on any datagram, for the id its first two bytes
//! carry and the question it holds (so the records are reached), as A and
//! AAAA, and for another id (all must return, never panic); and
//! `ResolvConf::parse` plus `candidates` on the same bytes as text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::dns::{encode_query, parse_answer, wire_name, Answer, ResolvConf, TYPE_A, TYPE_AAAA};

fuzz_target!(|data: &[u8]| {
    let id = data.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    for (name, qtype) in [("boot.lan", TYPE_A), ("boot.lan", TYPE_AAAA), ("a", TYPE_A)] {
        let wire = wire_name(name).unwrap();
        if let Some(Ok(Answer::Addresses(addrs))) = parse_answer(id, &wire, qtype, data) {
            assert!(!addrs.is_empty(), "Addresses with no address");
        }
        let _ = parse_answer(id.wrapping_add(1), &wire, qtype, data);
    }
    let text = String::from_utf8_lossy(data);
    let conf = ResolvConf::parse(&text);
    for name in conf.candidates(text.lines().next().unwrap_or("")) {
        if let Ok(wire) = wire_name(&name) {
            let q = encode_query(id, &wire, TYPE_A);
            assert!(q.len() <= 12 + 255 + 4, "a query longer than a name allows");
        }
    }
});
