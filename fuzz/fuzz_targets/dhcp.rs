//! `net::dhcp::Message::decode`; when it decodes, the lease read
//! from it, and the round trip: encoding the message and decoding that
//! gives the same message back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::dhcp::Message;
use net::lease::Lease;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::decode(data) else {
        return;
    };
    let _ = msg.message_type();
    let _ = msg.mac();
    let _ = Lease::from_reply(&msg);
    let wire = msg.encode();
    let again = Message::decode(&wire).expect("an encoded message decodes");
    assert_eq!(again, msg, "decode(encode(m)) != m");
});
