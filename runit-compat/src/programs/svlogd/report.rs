//! svlogd's messages on stderr (`warning:`, `pausing:`, `info:`), in
//! runit's shape; a leaf every other svlogd file may use.

/// How long runit's svlogd waits before retrying after a failure.
const PAUSE_SECS: u64 = 3;

/// One line on stderr from its parts, in one write(2) (as runit's
/// buffered strerr; no formatting machinery).
pub(super) fn say(parts: &[&str]) {
    let mut v = Vec::with_capacity(128);
    for p in parts {
        v.extend_from_slice(p.as_bytes());
    }
    v.push(b'\n');
    let _ = rustix::io::write(rustix::stdio::stderr(), &v);
}

/// runit's text for `e`.
pub(super) fn errstr(e: rustix::io::Errno) -> &'static str {
    crate::errstr::error_str(crate::errstr::from_rustix(e))
}

/// `svlogd: KIND: WHAT: NAME[: error]`.
fn report(kind: &str, what: &str, name: &str, e: Option<rustix::io::Errno>) {
    let (sep, err) = e.map_or(("", ""), |e| (": ", errstr(e)));
    say(&["svlogd: ", kind, what, ": ", name, sep, err]);
}

/// `svlogd: warning: WHAT: NAME[: error]`; false, for `return warn(…)`.
pub(super) fn warn(what: &str, name: &str, e: Option<rustix::io::Errno>) -> bool {
    report("warning: ", what, name, e);
    false
}

/// `svlogd: pausing: WHAT: NAME: error`, then wait before the retry.
pub(super) fn pause(what: &str, name: &str, e: Option<rustix::io::Errno>) {
    report("pausing: ", what, name, e);
    std::thread::sleep(std::time::Duration::from_secs(PAUSE_SECS));
}

/// `svlogd: info: WHATNAMEREST` (with `-v`).
pub(super) fn info(what: &str, name: &str, rest: &str) {
    say(&["svlogd: info: ", what, name, rest]);
}
