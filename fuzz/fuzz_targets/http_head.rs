//! `net::http::parse_head` on a response head, then what `fetch`
//! does with its `Location` (`Url::join`) against a base URL.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::http::{parse_head, Url, MAX_HEAD};

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Ok(Some((head, len))) => {
            assert!(len <= data.len().min(MAX_HEAD), "head length {len}");
            if let Some(location) = &head.location {
                let base = Url::parse("http://10.0.2.2:8080/store/root.squashfs")
                    .expect("the base URL parses");
                if let Ok(url) = base.join(location) {
                    let _ = url.authority();
                }
            }
            if let Some((first, last, total)) = head.content_range {
                let _ = (first, last, total);
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEAD),
        Err(_) => {}
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(url) = Url::parse(text) {
            let _ = url.authority();
            let _ = url.join(text);
        }
    }
});
