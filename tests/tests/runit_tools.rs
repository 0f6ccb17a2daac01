//! runit's smaller programs against Debian's: `runsvchdir`, `utmpset`,
//! `runit-init`, `sv` as an LSB init script, and a supervisor following
//! its service directory when `runsvchdir` swaps `current`. runsvchdir,
//! utmpset and runit-init work on fixed paths (`/etc/runit/runsvdir`,
//! `/var/run/utmp`, `/etc/runit/stopit`, …), so each run happens in a
//! private mount namespace with temp directories bound over those paths
//! (root and `unshare` needed), and for runit-init in a pid namespace
//! whose PID 1 is a shell that records SIGCONT.
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::runit::{
    alive, have_debian_runit, normalize, our_bin_dir, parallel, pid, script, status,
    supervisor_listening, sv, wait_until, Impl, Out, Super, TempDir,
};

const DEBIAN_RUNSVCHDIR: &str = "/usr/sbin/runsvchdir";
const DEBIAN_UTMPSET: &str = "/usr/sbin/utmpset";
const DEBIAN_RUNIT_INIT: &str = "/lib/runit/runit-init";

/// Say why a test cannot run; under CI that is a failure.
fn skipping(test: &str, why: &str) -> bool {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "SKIPPING {test}: {why}"
    );
    eprintln!("SKIPPING {test}: {why}");
    true
}

/// True when root, `unshare` and Debian's `prog` are there; else says why.
fn cannot_run(test: &str, prog: &str) -> bool {
    if !have_debian_runit(test) || !Path::new(prog).exists() {
        return skipping(test, &format!("Debian's runit ({prog}) is not installed"));
    }
    if !rustix::process::geteuid().is_root() {
        return skipping(test, "private mount namespaces need root");
    }
    let unshare = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !unshare {
        return skipping(test, "`unshare -m` does not work here");
    }
    false
}

/// Run `prog args` in a private mount namespace where each `(dir, at)`
/// of `binds` is bind-mounted over `at`; with `pid1`, in a new pid
/// namespace too, whose PID 1 (a shell) prints `GOTCONT` on SIGCONT.
/// `prog` (its path) is replaced by `PROG` in the output.
fn in_ns(pid1: bool, binds: &[(&Path, &str)], prog: &Path, args: &[&str]) -> Out {
    let body = r#"trap 'echo GOTCONT' CONT
while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 99; shift 2; done
shift
"$@"
echo "rc=$?""#;
    let mut cmd = Command::new("unshare");
    cmd.arg("-m");
    if pid1 {
        cmd.args(["-p", "-f", "--mount-proc"]);
    }
    cmd.args(["sh", "-c", body, "sh"]);
    for (dir, at) in binds {
        cmd.arg(dir).arg(at);
    }
    cmd.arg("--").arg(prog).args(args).stdin(Stdio::null());
    let o = cmd.output().expect("run unshare");
    let p = prog.to_string_lossy();
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(p.as_ref(), "PROG");
    Out {
        stdout: clean(&o.stdout),
        stderr: clean(&o.stderr),
        code: o.status.code().unwrap_or(-1),
    }
}

fn ours(bindir: &Path, name: &str) -> PathBuf {
    bindir.join(name)
}

/// `ls -l`-like view of a directory: name, kind, mode, link target.
fn listing(dir: &Path) -> String {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        let p = dir.join(&n);
        let md = fs::symlink_metadata(&p).unwrap();
        let link = fs::read_link(&p).map_or(String::new(), |t| {
            format!(
                " -> {}",
                t.to_string_lossy().replace(&*dir.to_string_lossy(), "D")
            )
        });
        let _ = writeln!(
            out,
            "{} {:o}{link}",
            n.to_string_lossy(),
            md.permissions().mode() & 0o7777
        );
    }
    out
}

/// A fresh `/etc/runit/runsvdir` look-alike: runlevels `a`, `b`, a file,
/// and `current -> a`.
fn runsvdir_base(tmp: &Path, tag: &str) -> PathBuf {
    let d = tmp.join(tag);
    fs::create_dir_all(d.join("a")).unwrap();
    fs::create_dir_all(d.join("b")).unwrap();
    fs::write(d.join("file"), "").unwrap();
    std::os::unix::fs::symlink("a", d.join("current")).unwrap();
    d
}

#[test]
fn runsvchdir_matches_debian() {
    const T: &str = "runsvchdir_matches_debian";
    if cannot_run(T, DEBIAN_RUNSVCHDIR) {
        return;
    }
    let tmp = TempDir::new("runsvchdir");
    let bindir = our_bin_dir(tmp.path());
    let run = |prog: &Path, tag: &str| {
        let base = runsvdir_base(tmp.path(), tag);
        let abs_a = base.join("a").to_string_lossy().into_owned();
        let mut log = String::new();
        let steps: [&[&str]; 9] = [
            &[],
            &[".hidden"],
            &["missing"],
            &["file"],
            &["a"],
            &["b"],
            &[&abs_a],
            &["b", "extra"],
            &["a"],
        ];
        for args in steps {
            let o = in_ns(false, &[(&base, "/etc/runit/runsvdir")], prog, args);
            let _ = write!(log, "{args:?}\n{}{}{}", o.stdout, o.stderr, listing(&base));
        }
        // `previous` in the way as a directory: rename(current, previous)
        // fails and nothing changes.
        fs::remove_file(base.join("previous")).unwrap();
        fs::create_dir_all(base.join("previous/x")).unwrap();
        let o = in_ns(false, &[(&base, "/etc/runit/runsvdir")], prog, &["b"]);
        let _ = write!(log, "{}{}{}", o.stdout, o.stderr, listing(&base));
        log.replace(&*base.to_string_lossy(), "D")
    };
    let deb = run(Path::new(DEBIAN_RUNSVCHDIR), "deb");
    let our = run(&ours(&bindir, "runsvchdir"), "ours");
    assert_eq!(our, deb);
    assert!(our.contains("runsvchdir: b: now current."), "{our}");
}

/// One glibc x86-64 `struct utmp` record.
fn utmp_record(kind: i16, pid: i32, line: &str, id: &str, user: &str, secs: i32) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..2].copy_from_slice(&kind.to_le_bytes());
    r[4..8].copy_from_slice(&pid.to_le_bytes());
    r[8..8 + line.len()].copy_from_slice(line.as_bytes());
    r[40..40 + id.len()].copy_from_slice(id.as_bytes());
    r[44..44 + user.len()].copy_from_slice(user.as_bytes());
    r[76..80].copy_from_slice(b"host");
    r[340..344].copy_from_slice(&secs.to_le_bytes());
    r[344..348].copy_from_slice(&123i32.to_le_bytes());
    r
}

/// The records with their `ut_tv.tv_sec` zeroed (the time of the run).
fn without_times(mut b: Vec<u8>) -> Vec<u8> {
    for r in b.chunks_mut(384) {
        if r.len() == 384 {
            r[340..344].fill(0);
        }
    }
    b
}

#[test]
fn utmpset_matches_debian() {
    const T: &str = "utmpset_matches_debian";
    if cannot_run(T, DEBIAN_UTMPSET) {
        return;
    }
    let tmp = TempDir::new("utmpset");
    let bindir = our_bin_dir(tmp.path());
    // A boot record, a getty waiting on tty5, a login on tty6.
    let utmp = [
        utmp_record(2, 0, "~", "~~", "reboot", 1000),
        utmp_record(6, 55, "tty5", "5", "LOGIN", 1001),
        utmp_record(7, 56, "tty6", "6", "alice", 1002),
    ]
    .concat();
    let wtmp = [
        utmp_record(2, 0, "~", "~~", "reboot", 1000),
        utmp_record(7, 56, "tty6", "6", "alice", 1002),
    ]
    .concat();
    let run = |prog: &Path, tag: &str| {
        let (run, log) = (
            tmp.path().join(tag).join("run"),
            tmp.path().join(tag).join("log"),
        );
        fs::create_dir_all(&run).unwrap();
        fs::create_dir_all(&log).unwrap();
        let binds = [(run.as_path(), "/var/run"), (log.as_path(), "/var/log")];
        // Without a utmp file first.
        let mut out = format!("{:?}", in_ns(false, &binds, prog, &["tty5"]));
        fs::write(run.join("utmp"), &utmp).unwrap();
        fs::write(log.join("wtmp"), &wtmp).unwrap();
        let steps: [&[&str]; 9] = [
            &[],
            &["-x", "tty5"],
            &["-V"],
            &["--"],
            &["-w", "tty6"],
            &["tty5"],
            &["-w", "tty9"],
            &["-ww", "tty5"],
            &["-w", "0123456789012345678901234567890123456789"],
        ];
        for args in steps {
            let _ = writeln!(out, "{args:?} {:?}", in_ns(false, &binds, prog, args));
        }
        let files = (
            without_times(fs::read(run.join("utmp")).unwrap()),
            without_times(fs::read(log.join("wtmp")).unwrap()),
        );
        (out, files, log.join("wtmp"))
    };
    let (deb, deb_files, _) = run(Path::new(DEBIAN_UTMPSET), "deb");
    let (our, our_files, our_wtmp) = run(&ours(&bindir, "utmpset"), "ours");
    assert_eq!(our, deb);
    assert!(our_files == deb_files, "utmp/wtmp differ from Debian's");
    // tty6's login became DEAD_PROCESS without user; wtmp got its logout.
    assert_eq!(our_files.0[2 * 384..2 * 384 + 2], [8, 0]);
    assert_eq!(our_files.1.len(), 3 * 384);
    // util-linux reads it back: alice's session on tty6 has ended.
    match Command::new("last").arg("-f").arg(&our_wtmp).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            let line = text.lines().find(|l| l.starts_with("alice")).unwrap_or("");
            assert!(
                line.contains("tty6") && !line.contains("no logout"),
                "last -f: {text}"
            );
        }
        Err(e) => eprintln!("(last not run: {e})"),
    }
}

#[test]
fn runit_init_matches_debian() {
    const T: &str = "runit_init_matches_debian";
    if cannot_run(T, DEBIAN_RUNIT_INIT) {
        return;
    }
    let tmp = TempDir::new("runit-init");
    let bindir = our_bin_dir(tmp.path());
    // Debian's build keeps the flags in /run (runit.stopit, runit.reboot),
    // runit's own in /etc/runit (stopit, reboot): compare modes by role.
    let run = |prog: &Path, tag: &str, stopit: &str, reboot: &str| {
        let (run, etc) = (
            tmp.path().join(tag).join("run"),
            tmp.path().join(tag).join("etc"),
        );
        fs::create_dir_all(&run).unwrap();
        fs::create_dir_all(&etc).unwrap();
        let binds = [(run.as_path(), "/run"), (etc.as_path(), "/etc/runit")];
        let flags = tmp
            .path()
            .join(tag)
            .join(if tag == "deb" { "run" } else { "etc" });
        let mode = |n: &str| {
            fs::metadata(flags.join(n)).map_or("missing".into(), |m| {
                format!("{:o}", m.permissions().mode() & 0o777)
            })
        };
        let mut out = String::new();
        let steps: [&[&str]; 7] = [&["0"], &["6x"], &[], &["5"], &["-s"], &["0"], &["6"]];
        for (i, args) in steps.into_iter().enumerate() {
            if i == 6 {
                // The flag file cannot be made: a directory is in the way.
                fs::remove_file(flags.join(stopit)).unwrap();
                fs::create_dir(flags.join(stopit)).unwrap();
            }
            let o = in_ns(true, &binds, prog, args);
            let _ = writeln!(
                out,
                "{args:?} {:?} stopit {} reboot {}",
                o,
                mode(stopit),
                mode(reboot)
            );
        }
        out.replace(&*flags.join(stopit).to_string_lossy(), "STOPIT")
            .replace("/run/runit.stopit", "STOPIT")
            .replace("/etc/runit/stopit", "STOPIT")
    };
    let deb = run(
        Path::new(DEBIAN_RUNIT_INIT),
        "deb",
        "runit.stopit",
        "runit.reboot",
    );
    let our = run(&ours(&bindir, "runit-init"), "ours", "stopit", "reboot");
    // Debian's runit-init reports every failed create as "file descriptor
    // not open" (errno is clobbered before it is printed); ours names the
    // real error. The rest must match.
    assert!(our.contains("STOPIT: is a directory"), "{our}");
    let same = |s: &str| {
        s.replace("STOPIT: is a directory", "STOPIT: ERR")
            .replace("STOPIT: file descriptor not open", "STOPIT: ERR")
    };
    assert_eq!(same(&our), same(&deb));
    assert!(
        our.starts_with(r#"["0"] Out { stdout: "GOTCONT\nrc=0\n""#),
        "{our}"
    );
}

/// `DIR/init.d/NAME` -> `sv` (ours or Debian's), run with `$SVDIR`.
fn init_script(link: &Path, svdir: &Path, args: &[&str]) -> Out {
    let o = Command::new(link)
        .args(args)
        .env("SVDIR", svdir)
        .env_remove("SVWAIT")
        .stdin(Stdio::null())
        .output()
        .expect("run the init script");
    Out {
        stdout: normalize(&String::from_utf8_lossy(&o.stdout)),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

#[test]
fn sv_as_init_script_matches_debian() {
    if !have_debian_runit("sv_as_init_script_matches_debian") {
        return;
    }
    let tmp = TempDir::new("initd");
    let bindir = our_bin_dir(tmp.path());
    let steps: [&[&str]; 13] = [
        &["status"],
        &["stop"],
        &["status"],
        &["start"],
        &["status"],
        &["reload"],
        &["restart"],
        &["try-restart"],
        &["force-stop"],
        &["status"],
        &["bogus"],
        &[],
        &["-w", "1", "start"],
    ];
    let run = |which: Impl| {
        let tag = if which == Impl::Ours { "ours" } else { "deb" };
        let svdir = tmp.path().join(tag).join("service");
        script(&svdir.join("web/run"), "exec sleep 1000");
        let initd = tmp.path().join(tag).join("init.d");
        fs::create_dir_all(&initd).unwrap();
        let target = match which {
            Impl::Ours => bindir.join("sv"),
            Impl::Debian => PathBuf::from("/usr/bin/sv"),
        };
        std::os::unix::fs::symlink(target, initd.join("web")).unwrap();
        let link = initd.join("web");
        // No supervisor yet: LSB status 4 ("unknown").
        let mut out = format!("{:?}\n", init_script(&link, &svdir, &["status"]));
        let _sup = Super::start(Impl::Ours, &bindir, "runsv", &svdir.join("web"));
        assert!(wait_until(Duration::from_secs(5), || {
            status(&svdir.join("web")).is_some_and(|(_, p, _)| p != 0)
        }));
        let web = svdir.join("web");
        for args in steps {
            let before = status(&web).map(|(_, pid, _)| pid);
            let _ = writeln!(out, "{args:?} {:?}", init_script(&link, &svdir, args));
            // A restart's sv may answer from the old process before runsv
            // has killed it: wait until the new one runs, so the next step
            // does not race the restart (in both clients alike).
            if args.iter().any(|a| a.ends_with("restart")) {
                assert!(wait_until(Duration::from_secs(5), || {
                    status(&web).is_some_and(|(_, p, _)| p != 0 && Some(p) != before)
                }));
            }
        }
        out
    };
    let r = parallel(vec![Impl::Ours, Impl::Debian], run);
    assert_eq!(r[0], r[1]);
    assert!(r[0].contains("ok: run: web: (pid N) Ns"), "{}", r[0]);
}

/// Services of the runlevel test: `common` in both `a` and `b` (the same
/// directory through two links), `only-a`, `only-b`.
fn runlevels(base: &Path) -> (PathBuf, PathBuf) {
    let sv = base.join("sv");
    for name in ["common", "only-a", "only-b", "late"] {
        script(&sv.join(name).join("run"), "exec sleep 1000");
    }
    let rsv = runsvdir_base(base, "runsvdir");
    for (lvl, name) in [
        ("a", "common"),
        ("a", "only-a"),
        ("b", "common"),
        ("b", "only-b"),
    ] {
        std::os::unix::fs::symlink(sv.join(name), rsv.join(lvl).join(name)).unwrap();
    }
    let service = base.join("service");
    std::os::unix::fs::symlink(rsv.join("current"), &service).unwrap();
    (sv, rsv)
}

fn up(dir: &Path) -> bool {
    status(dir).is_some_and(|(_, p, st)| p != 0 && st == 1)
}

/// Which services are supervised and running, as `sv status` (Debian's)
/// prints them, pids and times normalised.
fn sv_status(svdir: &Path, bindir: &Path) -> String {
    let names = ["common", "only-a", "only-b", "late"];
    let mut args = vec!["status"];
    args.extend(names);
    normalize(&sv(Impl::Debian, bindir, svdir, &args).stdout)
}

#[test]
fn supervisor_follows_runsvchdir_like_debian_runsvdir() {
    const T: &str = "supervisor_follows_runsvchdir_like_debian_runsvdir";
    if cannot_run(T, DEBIAN_RUNSVCHDIR) {
        return;
    }
    let tmp = TempDir::new("follow");
    let bindir = our_bin_dir(tmp.path());
    // Debian's runsvdir must find Debian's runsv, not our link.
    let nobin = tmp.path().join("nobin");
    fs::create_dir_all(&nobin).unwrap();
    let run = |which: Impl| {
        let tag = if which == Impl::Ours { "ours" } else { "deb" };
        let base = tmp.path().join(tag);
        let (sv, rsv) = runlevels(&base);
        let svdir = base.join("service");
        let (sup_bin, chdir, wait) = match which {
            Impl::Ours => (&bindir, ours(&bindir, "runsvchdir"), 2),
            // runsvdir re-stats its directory every 5 s.
            Impl::Debian => (&nobin, PathBuf::from(DEBIAN_RUNSVCHDIR), 12),
        };
        let wait = Duration::from_secs(wait);
        let _sup = Super::start(which, sup_bin, "runsvdir", &svdir);
        assert!(wait_until(
            Duration::from_secs(8),
            || up(&sv.join("common")) && up(&sv.join("only-a"))
        ));
        let mut log = sv_status(&sv, &bindir);
        let common = pid(&sv.join("common")).unwrap();
        let only_a = pid(&sv.join("only-a")).unwrap();
        let o = in_ns(false, &[(&rsv, "/etc/runit/runsvdir")], &chdir, &["b"]);
        log += &o.stdout;
        assert!(
            wait_until(wait, || up(&sv.join("only-b"))
                && !alive(only_a)
                && !supervisor_listening(&sv.join("only-a"))),
            "{tag}: the swap to b was not followed: {o:?} {}",
            sv_status(&sv, &bindir)
        );
        assert_eq!(
            pid(&sv.join("common")),
            Some(common),
            "{tag}: common restarted"
        );
        log += &sv_status(&sv, &bindir);
        // The new runlevel's directory is watched: a service added to it
        // starts.
        std::os::unix::fs::symlink(sv.join("late"), rsv.join("b/late")).unwrap();
        assert!(
            wait_until(wait, || up(&sv.join("late"))),
            "{tag}: late never started"
        );
        // And back: only-b and late stop, only-a starts again.
        let o = in_ns(false, &[(&rsv, "/etc/runit/runsvdir")], &chdir, &["a"]);
        log += &o.stdout;
        assert!(
            wait_until(wait, || up(&sv.join("only-a"))
                && !supervisor_listening(&sv.join("only-b"))
                && !supervisor_listening(&sv.join("late"))),
            "{tag}: the swap back to a was not followed: {}",
            sv_status(&sv, &bindir)
        );
        assert_eq!(
            pid(&sv.join("common")),
            Some(common),
            "{tag}: common restarted"
        );
        log + &sv_status(&sv, &bindir)
    };
    let r = parallel(vec![Impl::Ours, Impl::Debian], run);
    assert_eq!(r[0], r[1]);
    assert!(r[0].contains("runsvchdir: b: now current."), "{}", r[0]);
}

#[test]
fn init_d_dispatch_is_sv_whatever_the_name() {
    // `/etc/init.d/reboot` or `…/runsvdir` linked to us is an init script,
    // never our reboot or supervisor.
    let tmp = TempDir::new("initd-names");
    let initd = tmp.path().join("init.d");
    fs::create_dir_all(&initd).unwrap();
    let svdir = tmp.path().join("service");
    fs::create_dir_all(&svdir).unwrap();
    for name in ["reboot", "runsvdir", "utmpset"] {
        std::os::unix::fs::symlink(tests::bin::init_bin(), initd.join(name)).unwrap();
        let o = init_script(&initd.join(name), &svdir, &["status"]);
        assert_eq!(
            o.stdout,
            format!("fail: {name}: unable to change to service directory: file does not exist\n"),
            "{o:?}"
        );
        // As Debian's sv: no service directory is a failure (1), not LSB's 4.
        assert_eq!(o.code, 1, "{o:?}");
    }
}
