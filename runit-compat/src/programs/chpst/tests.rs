use std::ffi::{CString, OsString};

use super::common::number;
use super::envdir::change;
use super::exec::apply_env;
use super::getopt::{Getopt, Said};
use super::limits::{clamp, Limits, HARD};
use super::users::{resolve, Bad, Ids};

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken:x:notanumber:1::/:/bin/sh
broken:x:7:7::/:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";
const GROUP: &[u8] = b"root:x:0:
daemon:x:1:
bin:x:2:
nogroup:x:65534:
";

fn ids(uid: u32, gids: &[u32]) -> Ids {
    Ids {
        uid,
        gids: gids.to_vec(),
    }
}

#[test]
fn user_specs() {
    let r = |s: &str, ext| resolve(s.as_bytes(), ext, PASSWD, GROUP);
    assert_eq!(r("nobody", true), Ok(ids(65534, &[65534])));
    assert_eq!(r("nobody:daemon:bin", true), Ok(ids(65534, &[1, 2])));
    assert_eq!(r("daemon:nogroup", true), Ok(ids(1, &[65534])));
    // A line with a bad uid is passed over; the next of the name counts.
    assert_eq!(r("broken", true), Ok(ids(7, &[7])));
    assert_eq!(r("nosuch", true), Err(Bad::Unknown));
    assert_eq!(r("nobody:nosuch", true), Err(Bad::Unknown));
    assert_eq!(r("nobody:", true), Err(Bad::Unknown));
    assert_eq!(r("# a comment", false), Err(Bad::Unknown));
    // Without ext (setuidgid) a colon is part of the name.
    assert_eq!(r("nobody:daemon", false), Err(Bad::Unknown));
    assert_eq!(r("daemon", false), Ok(ids(1, &[1])));
}

#[test]
fn numeric_specs() {
    let r = |s: &str| resolve(s.as_bytes(), true, b"", b"");
    assert_eq!(r(":65534:1"), Ok(ids(65534, &[1])));
    assert_eq!(r(":65534:"), Ok(ids(65534, &[0])));
    assert_eq!(r(":65534:1:2:"), Ok(ids(65534, &[1, 2, 0])));
    assert_eq!(r("::"), Ok(ids(0, &[0])));
    assert_eq!(r(":65534"), Err(Bad::Invalid));
    assert_eq!(r(":x:1"), Err(Bad::Invalid));
    assert_eq!(r(":1:2x"), Err(Bad::Invalid));
    let sixty = ":1".to_string() + &":5".repeat(60);
    assert_eq!(r(&sixty).map(|i| i.gids.len()), Ok(60));
    assert_eq!(r(&(sixty.clone() + ":")).map(|i| i.gids.len()), Ok(60));
    assert_eq!(r(&(sixty + ":5")), Err(Bad::Invalid));
    // Named groups beyond the 60th are not looked at.
    let many = "root".to_string() + &":bin".repeat(60) + ":nosuch";
    assert_eq!(
        resolve(many.as_bytes(), true, PASSWD, GROUP).map(|i| i.gids.len()),
        Ok(60)
    );
}

#[test]
fn envdir_contents() {
    let c = |content: &[u8]| String::from_utf8(change(b"V", content)).unwrap();
    assert_eq!(c(b"value  \t\nsecond line"), "V=value");
    assert_eq!(c(b"a\0b \n"), "V=a\nb");
    assert_eq!(c(b""), "V");
    assert_eq!(c(b"\n"), "V=");
    assert_eq!(c(b"  \t"), "V=");
    assert_eq!(c(b" lead"), "V= lead");
}

#[test]
fn env_changes_in_order() {
    let mut env: Vec<CString> = ["A=1", "AB=2", "C=3"]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let changes: Vec<Vec<u8>> = ["A", "C=4", "UID=1", "UID=2", "D"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    apply_env(&mut env, &changes);
    let mut env: Vec<&str> = env.iter().map(|e| e.to_str().unwrap()).collect();
    env.sort_unstable();
    assert_eq!(env, ["AB=2", "C=4", "UID=2"]);
}

#[test]
fn limit_clamping() {
    assert_eq!(clamp(5, Some(10)), Some(5));
    assert_eq!(clamp(50, Some(10)), Some(10));
    assert_eq!(clamp(50, None), Some(50));
    assert_eq!(clamp(HARD, Some(10)), Some(10));
    assert_eq!(clamp(HARD, None), None);
    assert_eq!(clamp(1 << 63, Some(7)), Some(7));
    let mut l = Limits::default();
    l.set(b'm', 3);
    l.set(b'o', 4);
    l.set(b'x', 9);
    assert_eq!(
        l.0,
        [
            Some(3),
            Some(3),
            Some(3),
            Some(3),
            Some(4),
            None,
            None,
            None,
            None,
            None
        ]
    );
}

#[test]
fn numbers() {
    assert_eq!(number(b"123"), Some(123));
    assert_eq!(number(b""), Some(0));
    assert_eq!(number(b"12x"), None);
    assert_eq!(number(b"-1"), None);
}

fn opts(args: &[&str], spec: &[u8]) -> Vec<Result<(char, String), Said>> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let mut g = Getopt::new("t", &args, spec);
    let mut v = Vec::new();
    while let Some(o) = g.next() {
        let bad = o.is_err();
        v.push(o.map(|(c, s)| (c as char, String::from_utf8_lossy(s).into_owned())));
        if bad {
            break;
        }
    }
    v.push(Ok(('#', g.ind.to_string())));
    v
}

#[test]
fn getopt_like_runit() {
    let ok = |c, s: &str| Ok((c, s.to_string()));
    assert_eq!(
        opts(&["t", "-vu", "root", "-bx", "--", "-v"], b"u:b:v"),
        [ok('v', ""), ok('u', "root"), ok('b', "x"), ok('#', "5")]
    );
    assert_eq!(opts(&["t", "-", "x"], b"v"), [ok('#', "1")]);
    assert_eq!(
        opts(&["t", "-v", "prog", "-v"], b"v"),
        [ok('v', ""), ok('#', "2")]
    );
    assert_eq!(opts(&["t", "-z"], b"v"), [Err(Said), ok('#', "2")]);
    assert_eq!(opts(&["t", "-u"], b"u:"), [Err(Said), ok('#', "2")]);
    assert_eq!(opts(&["t", "-:"], b"u:"), [Err(Said), ok('#', "2")]);
}
