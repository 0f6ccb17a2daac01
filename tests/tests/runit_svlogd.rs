//! Differential tests: Debian's /usr/bin/svlogd and ours (an `svlogd` link
//! to our binary) on the same input streams, in a directory named `log` in
//! each tree. Compared: exit code, stderr, and every file of the log
//! directory (names, modes, contents) with timestamps normalised.
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tests::runit::{our_bin_dir, wait_until, Impl, TempDir};

const DEBIAN_SVLOGD: &str = "/usr/bin/svlogd";
const BOTH: [Impl; 2] = [Impl::Debian, Impl::Ours];

/// Debian's svlogd is needed; without it the test says so (and fails on CI).
fn need_debian(test: &str) -> bool {
    if Path::new(DEBIAN_SVLOGD).exists() {
        return true;
    }
    let why = format!("SKIPPING {test}: Debian's svlogd ({DEBIAN_SVLOGD}) is not installed");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("{why}");
    false
}

/// A tree with `log/` (holding `config` when given) and our `bin/svlogd`.
fn tree(which: Impl, config: Option<&str>) -> (TempDir, PathBuf) {
    let t = TempDir::new(&format!("svlogd-{which:?}"));
    fs::create_dir(t.path().join("log")).expect("mkdir log");
    if let Some(c) = config {
        fs::write(t.path().join("log/config"), c).expect("config");
    }
    let bin = match which {
        Impl::Debian => PathBuf::from(DEBIAN_SVLOGD),
        Impl::Ours => our_bin_dir(t.path()).join("svlogd"),
    };
    (t, bin)
}

/// svlogd ARGS in `root`, argv[0] `svlogd`, stdin and stderr piped.
fn start(bin: &Path, root: &Path, args: &[&str]) -> Child {
    Command::new(bin)
        .arg0("svlogd")
        .args(args)
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start svlogd")
}

/// Exit code and stderr of a finished svlogd.
fn finish(mut c: Child) -> (i32, String) {
    drop(c.stdin.take());
    let out = c.wait_with_output().expect("wait svlogd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Timestamps replaced: TAI64N labels by `@T`, `-tt`/`-ttt` stamps by `STAMP`.
fn norm(s: &str) -> String {
    const PTIME: &[u8] = b"dddd-dd-ddXdd:dd:dd.ddddd";
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let tai =
            b[i] == b'@' && b.len() >= i + 25 && b[i + 1..i + 25].iter().all(u8::is_ascii_hexdigit);
        let ptime = b.len() >= i + 25
            && PTIME.iter().zip(&b[i..]).all(|(p, c)| match p {
                b'd' => c.is_ascii_digit(),
                b'X' => *c == b'_' || *c == b'T',
                _ => p == c,
            });
        if tai {
            out.extend_from_slice(b"@T");
            i += 25;
        } else if ptime {
            out.extend_from_slice(b"STAMP");
            i += 25;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The log directory but `config` (the input): each file's normalised
/// name, mode and size, then `state` and the log files' contents as one
/// normalised stream (a rotation may cut a line, even its timestamp).
fn snapshot(dir: &Path) -> String {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "config")
        .collect();
    names.sort();
    let (mut s, mut logs) = (String::new(), String::new());
    for n in names {
        let p = dir.join(&n);
        let m = fs::metadata(&p).expect("stat");
        let _ = writeln!(
            s,
            "{} {:o} {}",
            norm(&n),
            m.permissions().mode() & 0o7777,
            m.len()
        );
        let body = String::from_utf8_lossy(&fs::read(&p).unwrap_or_default()).into_owned();
        if n.starts_with('@') || n == "current" {
            logs += &body;
        } else if n == "state" {
            s += &body;
        }
    }
    s + "--\n" + &norm(&logs)
}

/// Run both (svlogd ARGS) on `input` to the end and compare everything.
fn same_on(args: &[&str], config: Option<&str>, input: &[u8]) -> (i32, String, String) {
    let mut got = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, config);
        let mut c = start(&bin, t.path(), args);
        // A usage error exits before reading: EPIPE is no failure here.
        let _ = c.stdin.as_mut().expect("stdin").write_all(input);
        let (rc, err) = finish(c);
        got.push((rc, norm(&err), snapshot(&t.path().join("log"))));
    }
    assert_eq!(
        got[0], got[1],
        "Debian's svlogd (left) and ours (right) differ"
    );
    got.remove(0)
}

fn numbered(n: usize, text: &str) -> Vec<u8> {
    (1..=n)
        .flat_map(|i| format!("{i} {text}\n").into_bytes())
        .collect()
}

#[test]
fn rotation_by_size_and_number() {
    if !need_debian("rotation_by_size_and_number") {
        return;
    }
    let (rc, _, snap) = same_on(
        &["-tt", "log"],
        Some("s300\nn3\n"),
        &numbered(200, "a line of text"),
    );
    assert_eq!(rc, 0);
    assert_eq!(snap.matches(".s 744 ").count(), 3, "{snap}");
    // Without a timestamp, an s smaller than -l: every file is cut at s.
    same_on(
        &["-l", "50", "-b", "60", "log"],
        Some("s40\nn0\n"),
        &numbered(20, "xxxxxxxxxx"),
    );
    // -t, and lines longer than `s - len` rotate after each line.
    same_on(
        &["-t", "-l", "20", "-b", "30", "log"],
        Some("s100\nn4\n"),
        &numbered(60, "0123456789abcdef"),
    );
}

#[test]
fn patterns_prefix_and_stderr() {
    if !need_debian("patterns_prefix_and_stderr") {
        return;
    }
    let input = b"daemon.info up\nkern.warn disk\ndaemon.debug noise\nerror: x\n\naaab\nx   y\n";
    let (_, err, snap) = same_on(
        &["-ttt", "log"],
        Some("-*\n+daemon.*\n+*:*\n+x+ y\ne*\nE*.debug*\nE+ab\np[pre] \n"),
        input,
    );
    assert!(snap.contains("STAMP [pre] daemon.info up\n"), "{snap}");
    assert!(!snap.contains("kern.warn"), "{snap}");
    assert!(err.contains("STAMP [pre] kern.warn disk\n"), "{err}");
    same_on(&["log"], Some("e*\n-*\n"), b"only stderr\n");
    same_on(&["-t", "log"], Some("+*\n-*o*\n"), b"no\nyes\nfoo\n");
}

#[test]
fn replacement_and_long_lines() {
    if !need_debian("replacement_and_long_lines") {
        return;
    }
    same_on(
        &["-r", "#", "-R", "ab", "log"],
        None,
        b"a\x01b\tc\xffd abc\n",
    );
    same_on(&["-R", "x", "log"], None, b"tab\there x\n");
    let long = b"0123456789ABCDEFGHIJ\nshort\n0123456789\n";
    let (_, err, _) = same_on(&["-l", "10", "-b", "20", "-tt", "log"], Some("e*\n"), long);
    assert!(err.contains("STAMP 0123456789...\n"), "{err}");
    same_on(
        &["-l", "5", "-b", "6", "-r", "_", "log"],
        Some("s12\nE*\n"),
        b"abcdefgh\x01ij\nk\n",
    );
}

#[test]
fn usage_and_bad_directories() {
    if !need_debian("usage_and_bad_directories") {
        return;
    }
    for args in [
        &[][..],
        &["-l", "2000", "log"],
        &["-l", "10", "-b", "10", "log"],
        &["-r", "ab", "log"],
        &["-Z", "log"],
        &["-l"],
        &["-V", "log"],
        &["nope"],
        &["log", "nope"],
    ] {
        let (rc, ..) = same_on(args, None, b"x\n");
        assert_eq!(
            rc,
            if args == ["log", "nope"] { 0 } else { 111 },
            "{args:?}"
        );
    }
    // A file where a directory should be.
    same_on(&["log/config", "log"], Some("s100\n"), b"x\n");
}

#[test]
fn lock_held_by_another_svlogd() {
    if !need_debian("lock_held_by_another_svlogd") {
        return;
    }
    let mut got = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, None);
        let holder = start(&bin, t.path(), &["log"]);
        assert!(wait_until(Duration::from_secs(5), || t
            .path()
            .join("log/current")
            .exists()));
        let second = start(&bin, t.path(), &["log"]);
        got.push(finish(second));
        assert_eq!(finish(holder).0, 0);
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[0].0, 111);
    assert!(
        got[0]
            .1
            .contains("unable to lock directory: log: temporary failure"),
        "{}",
        got[0].1
    );
}

#[test]
fn garbage_config_line_warns_once() {
    if !need_debian("garbage_config_line_warns_once") {
        return;
    }
    let config = "zzz\ns60\nn2\nu1.2.3\n";
    let input = numbered(12, "garbage test");
    let mut got = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, Some(config));
        let mut c = start(&bin, t.path(), &["-tt", "log"]);
        c.stdin
            .as_mut()
            .expect("stdin")
            .write_all(&input)
            .expect("write");
        let (rc, err) = finish(c);
        got.push((rc, err, snapshot(&t.path().join("log"))));
    }
    // Deliberate difference: runit ignores an unknown line silently.
    let warning = "svlogd: warning: ignoring config line: log/config: zzz\n";
    assert_eq!(got[1].1.matches(warning).count(), 1, "{}", got[1].1);
    got[1].1 = got[1].1.replace(warning, "");
    assert_eq!(got[0], got[1]);
}

#[test]
fn processor_with_state() {
    if !need_debian("processor_with_state") {
        return;
    }
    let config = "s100\nn10\n!tr a-z A-Z; cat <&4; echo state >&5\n";
    let (_, _, snap) = same_on(&["log"], Some(config), &numbered(30, "processed line"));
    assert!(snap.contains("PROCESSED LINE"), "{snap}");
    assert!(snap.contains("state 644 6\nstate\n"), "{snap}");
    assert!(!snap.contains(".u ") && !snap.contains(".t "), "{snap}");
    // A processor that fails the first time runs again.
    let config = "s100\n!test -e ran || { touch ran; exit 1; }; cat\n";
    let (_, err, _) = same_on(&["log"], Some(config), &numbered(30, "retry"));
    assert_eq!(
        err.matches("svlogd: warning: processor failed, restart: log\n")
            .count(),
        1,
        "{err}"
    );
}

/// Write `lines` to a running svlogd and wait until `current` ends with
/// the last of them.
fn feed(c: &mut Child, log: &Path, lines: &str) {
    c.stdin
        .as_mut()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write");
    let last = lines.lines().last().unwrap_or_default().to_string();
    let seen = wait_until(Duration::from_secs(10), || {
        fs::read_to_string(log.join("current")).is_ok_and(|s| s.ends_with(&format!("{last}\n")))
    });
    let cur = fs::read_to_string(log.join("current")).unwrap_or_default();
    assert!(
        seen,
        "svlogd did not write {last:?}: current is {cur:?}; {}",
        snapshot(log)
    );
}

/// Wait until svlogd waits in poll(2)/ppoll(2): runit checks its signal
/// flags before it unblocks signals to wait there, so a signal that comes
/// earlier acts only after the next input.
fn wait_polling(c: &Child) {
    let polling = wait_until(Duration::from_secs(10), || {
        fs::read_to_string(format!("/proc/{}/syscall", c.id()))
            .is_ok_and(|s| s.starts_with("7 ") || s.starts_with("271 "))
    });
    assert!(polling, "svlogd does not wait in poll");
}

fn signal(c: &Child, sig: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), sig).expect("kill");
}

/// stderr's lines as they come (a thread reads them).
fn lines_of(c: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let err = std::io::BufReader::new(c.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(err).map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Signal svlogd (`-v`) while it waits in poll, and wait until it says
/// `says` (what it did for the signal): runit reads the input that came
/// with a signal before it acts on it.
fn signal_seen(
    c: &Child,
    rx: &std::sync::mpsc::Receiver<String>,
    all: &mut String,
    sig: Signal,
    says: &str,
) {
    wait_polling(c);
    signal(c, sig);
    loop {
        let l = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("svlogd's stderr");
        all.push_str(&l);
        all.push('\n');
        if l.contains(says) {
            return;
        }
    }
}

#[test]
fn alarm_rotates_and_hup_rereads_config() {
    if !need_debian("alarm_rotates_and_hup_rereads_config") {
        return;
    }
    let mut got = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, Some("n5\n"));
        let log = t.path().join("log");
        let mut c = start(&bin, t.path(), &["-tt", "-v", "log"]);
        let rx = lines_of(&mut c);
        let mut err = String::new();
        feed(&mut c, &log, "one\ntwo\n");
        signal_seen(&c, &rx, &mut err, Signal::SIGALRM, "rename: log/current");
        feed(&mut c, &log, "three\n");
        signal_seen(&c, &rx, &mut err, Signal::SIGALRM, "rename: log/current");
        // Rotated; a second ALRM finds `current` empty.
        signal_seen(&c, &rx, &mut err, Signal::SIGALRM, "sigalarm received.");
        fs::write(log.join("config"), "p+ \n").expect("config");
        signal_seen(&c, &rx, &mut err, Signal::SIGHUP, "append: log/current");
        feed(&mut c, &log, "four\n");
        drop(c.stdin.take());
        assert_eq!(c.wait().expect("wait").code(), Some(0));
        err.extend(rx.iter().map(|l| l + "\n"));
        got.push((norm(&err), snapshot(&log)));
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[0].1.matches(".s 744 ").count(), 2, "{}", got[0].1);
    assert!(
        got[0].1.ends_with("STAMP three\nSTAMP + four\n"),
        "{}",
        got[0].1
    );
}

#[test]
fn term_finishes_the_line_and_leaves_the_rest() {
    if !need_debian("term_finishes_the_line_and_leaves_the_rest") {
        return;
    }
    let mut got = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, None);
        let log = t.path().join("log");
        // Our own pipe, so what svlogd leaves in it can be read afterwards.
        let (r, w) = nix::unistd::pipe().expect("pipe");
        let mut c = Command::new(&bin)
            .arg0("svlogd")
            .arg("log")
            .current_dir(t.path())
            .stdin(Stdio::from(r.try_clone().expect("dup")))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start");
        let mut w = fs::File::from(w);
        w.write_all(b"a\nb\npart").expect("write");
        let drained = wait_until(Duration::from_secs(10), || {
            rustix::io::ioctl_fionread(&r).is_ok_and(|n| n == 0)
                && fs::read_to_string(log.join("current")).is_ok_and(|s| s == "a\nb\n")
        });
        assert!(drained, "svlogd did not take the input");
        signal(&c, Signal::SIGTERM);
        w.write_all(b"ial\nnext\n").expect("write");
        let status = c.wait().expect("wait");
        let mut err = String::new();
        c.stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        drop(w);
        let mut left = String::new();
        fs::File::from(r)
            .read_to_string(&mut left)
            .expect("read pipe");
        got.push((status.code(), err, left, snapshot(&log)));
    }
    // Deliberate difference: runit may have read the next line with the
    // end of this one (one read(2) after TERM) and drops it; ours leaves
    // it in the pipe for the next svlogd.
    assert_eq!(got[1].2, "next\n");
    assert!(got[0].2 == "next\n" || got[0].2.is_empty(), "{:?}", got[0]);
    got[0].2 = got[1].2.clone();
    assert_eq!(got[0], got[1]);
    assert!(got[0].3.ends_with("--\na\nb\npartial\n"), "{}", got[0].3);
}

#[test]
fn udp_copies() {
    if !need_debian("udp_copies") {
        return;
    }
    let mut got = Vec::new();
    for which in BOTH {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let port = sock.local_addr().expect("addr").port();
        let mut snaps = Vec::new();
        for letter in ['u', 'U'] {
            let config = format!("{letter}127.0.0.1:{port}\npudp: \n");
            let (t, bin) = tree(which, Some(&config));
            let mut c = start(&bin, t.path(), &["-tt", "-l", "10", "-b", "20", "log"]);
            c.stdin
                .as_mut()
                .expect("stdin")
                .write_all(b"hello\nthis line is long\n")
                .expect("write");
            let (rc, err) = finish(c);
            let mut buf = [0u8; 256];
            let mut dgrams = String::new();
            for _ in 0..2 {
                let n = sock.recv(&mut buf).expect("datagram");
                dgrams += &norm(&String::from_utf8_lossy(&buf[..n]));
            }
            snaps.push((rc, err, dgrams, snapshot(&t.path().join("log"))));
        }
        got.push(snaps);
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[0][0].2, "STAMP udp: hello\nSTAMP udp: this line ...\n");
    assert!(
        got[0][1].3.starts_with("current 744 0\n"),
        "{}",
        got[0][1].3
    );
}

/// A transient write error: `current` is a link to a copy of /dev/full
/// (ENOSPC). Both pause with runit's message; ours retries (reopening
/// `current`) once the link is gone, and no line is lost.
#[test]
fn pausing_loses_no_line() {
    if !need_debian("pausing_loses_no_line") {
        return;
    }
    let mut msgs = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, None);
        let log = t.path().join("log");
        let full = log.join("full");
        let made = Command::new("mknod")
            .args([full.as_os_str(), "c".as_ref(), "1".as_ref(), "7".as_ref()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            let why = "SKIPPING pausing_loses_no_line: mknod (root) is needed for a /dev/full copy";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("{why}");
            return;
        }
        std::os::unix::fs::symlink("full", log.join("current")).expect("symlink");
        let mut c = start(&bin, t.path(), &["log"]);
        let mut stderr = c.stderr.take().expect("stderr");
        c.stdin
            .as_mut()
            .expect("stdin")
            .write_all(b"one\ntwo\n")
            .expect("write");
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while b[0] != b'\n' && stderr.read(&mut b).expect("stderr") == 1 {
            line.push(b[0]);
        }
        msgs.push(String::from_utf8_lossy(&line).into_owned());
        if which == Impl::Debian {
            // runit keeps writing to the same descriptor: it never recovers.
            let _ = c.kill();
            let _ = c.wait();
            continue;
        }
        fs::remove_file(log.join("current")).expect("rm current");
        c.stdin
            .as_mut()
            .expect("stdin")
            .write_all(b"three\n")
            .expect("write");
        drop(c.stdin.take());
        assert!(c.wait().expect("wait").success());
        assert_eq!(
            fs::read_to_string(log.join("current")).expect("current"),
            "one\ntwo\nthree\n"
        );
    }
    assert_eq!(msgs[0], msgs[1]);
    assert_eq!(
        msgs[0],
        "svlogd: pausing: unable to write to current: log: out of disk space\n"
    );
}

/// Deliberate difference: at the end of input runit drops an unfinished
/// last line; ours writes it (with a newline), losing nothing it read.
#[test]
fn eof_keeps_an_unfinished_last_line() {
    let (t, bin) = tree(Impl::Ours, None);
    let mut c = start(&bin, t.path(), &["log"]);
    c.stdin
        .as_mut()
        .expect("stdin")
        .write_all(b"a\nlast")
        .expect("write");
    assert_eq!(finish(c), (0, String::new()));
    assert_eq!(
        fs::read_to_string(t.path().join("log/current")).expect("current"),
        "a\nlast\n"
    );
}

#[test]
fn age_rotates_a_non_empty_current() {
    if !need_debian("age_rotates_a_non_empty_current") {
        return;
    }
    let mut got = Vec::new();
    for which in BOTH {
        let (t, bin) = tree(which, Some("t2\n"));
        let log = t.path().join("log");
        let mut c = start(&bin, t.path(), &["log"]);
        feed(&mut c, &log, "aged\n");
        let rotated = wait_until(Duration::from_secs(10), || {
            fs::read_dir(&log).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".s"))
            })
        });
        assert!(rotated, "{which:?}: no rotation after t2");
        feed(&mut c, &log, "fresh\n");
        let (rc, err) = finish(c);
        got.push((rc, err, snapshot(&log)));
    }
    assert_eq!(got[0], got[1]);
    assert!(
        got[0].2.starts_with("@T.s 744 5\ncurrent 744 6\n"),
        "{}",
        got[0].2
    );
}
