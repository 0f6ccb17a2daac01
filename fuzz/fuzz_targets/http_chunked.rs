//! `net::http::ChunkDecoder::decode`: a chunked body fed in pieces
//! (the first byte sets the piece size), checked against the same body
//! fed whole: the data and the outcome must not depend on the split.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::http::ChunkDecoder;

/// The data of `body` fed `step` bytes at a time, and whether it ended
/// (`Some(true)`), ran out (`Some(false)`) or failed (`None`).
fn run(body: &[u8], step: usize) -> (Vec<u8>, Option<bool>) {
    let mut dec = ChunkDecoder::new();
    let mut out = Vec::new();
    for piece in body.chunks(step) {
        let mut rest = piece;
        while !rest.is_empty() && !dec.is_done() {
            match dec.decode(rest) {
                Ok((used, data)) => {
                    assert!(used <= rest.len() && data.len() <= used);
                    if used == 0 {
                        assert!(dec.is_done(), "no progress before the end");
                        break;
                    }
                    out.extend_from_slice(data);
                    rest = &rest[used..];
                }
                Err(_) => return (out, None),
            }
        }
    }
    (out, Some(dec.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let whole = run(body, body.len().max(1));
    let pieces = run(body, usize::from(step).max(1));
    match (&whole.1, &pieces.1) {
        // The same data either way; a failure may come at the same byte only.
        (Some(_), Some(_)) | (None, None) => assert_eq!(whole, pieces),
        _ => panic!(
            "fed whole: {:?}, in pieces of {step}: {:?}",
            whole.1, pieces.1
        ),
    }
});
