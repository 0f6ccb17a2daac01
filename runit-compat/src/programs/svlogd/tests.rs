use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::config::{pmatch, Config, UNKNOWN};
use super::options::{parse, Bad};
use super::stamp::{civil, tai64n, Stamper};

fn args(s: &str) -> Vec<OsString> {
    s.split(' ').map(OsString::from).collect()
}

#[test]
fn options() {
    let o = parse(&args("svlogd -ttv -r x -R ab -l50 -b 100 d1 d2")).unwrap();
    assert_eq!((o.stamp, o.verbose, o.repl), (2, true, b'x'));
    assert_eq!(
        (o.replace.as_slice(), o.linemax, o.buflen),
        (&b"ab"[..], 50, 100)
    );
    assert_eq!(o.dirs, args("d1 d2"));
    let o = parse(&args("svlogd -tttt -R ab -- -d")).unwrap();
    assert_eq!((o.stamp, o.repl, o.dirs.len()), (3, b'_', 1));
    // -l 0 and -b 0 are the defaults; buflen must exceed len.
    let o = parse(&args("svlogd -l 0 -b 0 d")).unwrap();
    assert_eq!((o.linemax, o.buflen), (1000, 1024));
    assert_eq!(parse(&args("svlogd -l 2000 d")), Err(Bad::Usage));
    assert_eq!(parse(&args("svlogd -l 100 -b 100 d")), Err(Bad::Usage));
    assert_eq!(parse(&args("svlogd -r ab d")), Err(Bad::Usage));
    assert_eq!(parse(&args("svlogd -t")), Err(Bad::Usage));
    assert_eq!(parse(&args("svlogd -Z d")), Err(Bad::Illegal(b'Z')));
    assert_eq!(parse(&args("svlogd -l")), Err(Bad::NeedsArg(b'l')));
    assert_eq!(parse(&args("svlogd -V d")), Err(Bad::Version));
}

#[test]
fn config_lines() {
    let text = b"# comment\n\ns10k\nn5\nN2\nt2h\n!gzip\n+*\n-x*\ne*\nEa\np> \nu10.0.0.1:5000\n";
    let (c, w) = Config::parse(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!((c.size, c.nmax, c.nmin, c.tmax), (10240, 5, 2, 7200));
    assert_eq!(c.processor, b"gzip");
    assert_eq!(c.prefix, b"> ");
    assert_eq!(
        c.udp,
        Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000))
    );
    assert!(!c.udp_only);
    let kinds: Vec<u8> = c.patterns.iter().map(|p| p.0).collect();
    assert_eq!(kinds, b"+-eE");
    let (c, _) = Config::parse(b"s1m\nt5m\nU127.0.0.1\n!\np\n");
    assert_eq!((c.size, c.tmax), (1024 * 1024, 300));
    assert_eq!(c.udp, Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 514)));
    assert!(c.udp_only && c.processor.is_empty() && c.prefix.is_empty());
}

#[test]
fn config_garbage_warns_and_the_rest_applies() {
    let (c, w) = Config::parse(b"zzz\nsabc\ns10x\nn7\nu1.2.3\nu1.2.3.4:0\nu1.2.3.400\n");
    assert_eq!(c.nmax, 7);
    assert_eq!(c.size, 1_000_000);
    assert_eq!(c.udp, None);
    let w: Vec<(&str, &[u8])> = w.iter().map(|(m, t)| (*m, t.as_slice())).collect();
    assert_eq!(
        w,
        [
            (UNKNOWN, &b"zzz"[..]),
            (UNKNOWN, b"sabc"),
            (UNKNOWN, b"s10x"),
            ("unable to scan ip address", b"1.2.3"),
            ("unable to scan port number", b"0"),
            ("unable to scan ip address", b"1.2.3.400"),
        ]
    );
}

#[test]
fn patterns() {
    for (p, s, m) in [
        ("abc", "abc", true),
        ("abc", "abcd", false),
        ("ab", "abc", false),
        ("*", "", true),
        ("*", "anything", true),
        ("a*", "abc", true),
        ("*:*", "error: x", true),
        ("*:*", "no colon", false),
        ("*x", "aax", true),
        ("*x", "aaxb", false),
        ("*: *", "a: b: c", true),
        ("+a", "aaa", true),
        ("+ab", "aab", true),
        ("+ab", "b", false),
        ("+ab", "aaa", true), // the line ends inside the run: runit says yes
        ("x+ y", "x   y", true),
        ("", "", true),
        ("", "a", false),
    ] {
        assert_eq!(pmatch(p.as_bytes(), s.as_bytes()), m, "{p:?} {s:?}");
    }
}

#[test]
fn select_last_match_wins() {
    let (c, _) = Config::parse(b"-*\n+daemon.*\ne*\nE*.debug*\n");
    assert_eq!(c.select(b"daemon.info x"), (true, true));
    assert_eq!(c.select(b"kern.info x"), (false, true));
    assert_eq!(c.select(b"daemon.debug x"), (true, false));
    // `*X` skips to the first X only: no backtracking.
    assert!(!pmatch(b"*debug*", b"daemon.debug"));
    assert_eq!(Config::default().select(b"x"), (true, false));
}

#[test]
fn dates() {
    assert_eq!(civil(0), (1970, 1, 1));
    assert_eq!(civil(59), (1970, 3, 1));
    assert_eq!(civil(11_016), (2000, 2, 29));
    assert_eq!(civil(-1), (1969, 12, 31));
    assert_eq!(civil(20_454), (2026, 1, 1));
    assert_eq!(civil(2_932_896), (9999, 12, 31));
}

#[test]
fn stamps() {
    // 2009-02-13 23:31:30 UTC.
    let (s, us) = (1_234_567_890, 123_456);
    let mut t = Stamper::new(2);
    assert_eq!(t.stamp(s, us), b"2009-02-13_23:31:30.12345 ");
    // Same second, only the fraction changes; the next second is redone.
    assert_eq!(t.stamp(s, 9), b"2009-02-13_23:31:30.00000 ");
    assert_eq!(t.stamp(s + 30, 999_999), b"2009-02-13_23:32:00.99999 ");
    let mut t = Stamper::new(3);
    assert_eq!(t.stamp(951_782_400, 0), b"2000-02-29T00:00:00.00000 ");
    let mut t = Stamper::new(1);
    assert_eq!(t.stamp(s, us), b"@40000000499602dc075bcbf4 ");
    let mut f = [0u8; 25];
    tai64n(&mut f, 0, 0);
    assert_eq!(&f, b"@400000000000000a000001f4");
}
