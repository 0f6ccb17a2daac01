//! The `supervise/status` codec: `runit_compat::status::Status::decode` on
//! any bytes (20 of them decode), the `stat` line, and the round trip
//! decode(encode(s)) == s for what decodes. `sv`'s own reading of the file
//! (`sv/ops.rs`) is private and reads the file system; this is the public
//! decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runit_compat::status::{stat_line, RunState, Status, Want};

fuzz_target!(|data: &[u8]| {
    let Some(st) = Status::decode(data) else {
        assert_ne!(data.len(), 20);
        return;
    };
    let _ = st.tai_secs();
    let again = Status::decode(&st.encode()).expect("20 bytes decode");
    assert_eq!(again, st);
    let state = match st.state {
        0 => RunState::Down,
        1 => RunState::Run,
        _ => RunState::Finish,
    };
    let want = if st.want == b'u' {
        Want::Up
    } else {
        Want::Down
    };
    assert!(stat_line(state, st.paused, st.got_term, want).ends_with('\n'));
});
