//! Differential tests of `chpst` and its personalities: Debian's
//! /usr/bin/chpst (runit 2.1.2, through personality links) and ours run on
//! the same input; stdout, stderr, exit code and the files they leave must
//! match. The programs they exec (`id`, `env`, `sh -c …`, a static busybox
//! inside a chroot) report uid/gids, environment, directory, limits, fds.
//! Needs root (for `-u`, `-/`, negative nice) and Debian's runit.
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tests::runit::{
    debian_chpst_dir, our_bin_dir, wait_until, Impl, TempDir, CHPST_NAMES, DEBIAN_CHPST,
};

/// Our usage line names `-C` (runit 2.2.0); Debian's 2.1.2 has no `-C`.
const ONLY_OURS: &str = " [-C pwd]";

#[derive(Debug, PartialEq, Eq)]
struct Out {
    stdout: String,
    stderr: String,
    /// The exit code, or 128 + the signal.
    code: i32,
}

struct Pair {
    tmp: TempDir,
    ours: PathBuf,
    debian: PathBuf,
}

/// Both implementations ready, or `None` after saying why not (a panic
/// under CI).
fn pair(test: &str) -> Option<Pair> {
    let why = if !Path::new(DEBIAN_CHPST).exists() {
        "Debian's runit (/usr/bin/chpst) is not installed"
    } else if !rustix::process::geteuid().is_root() {
        "needs root (chpst -u, -/, nice below 0)"
    } else {
        let tmp = TempDir::new(test);
        // The tests run programs as nobody: let it reach the files.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let ours = our_bin_dir(tmp.path());
        let debian = debian_chpst_dir(tmp.path());
        return Some(Pair { tmp, ours, debian });
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why}"
    );
    eprintln!("SKIPPING {test}: {why}");
    None
}

impl Pair {
    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn s(&self, rel: &str) -> String {
        self.p(rel).display().to_string()
    }

    fn command(&self, which: Impl, name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let dir = if which == Impl::Ours {
            &self.ours
        } else {
            &self.debian
        };
        let mut cmd = Command::new(dir.join(name));
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().copied())
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        cmd
    }

    fn run_env(&self, which: Impl, name: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
        let o = self
            .command(which, name, args, env)
            .output()
            .expect("run chpst");
        let mut stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        if which == Impl::Ours {
            stderr = stderr.replace(ONLY_OURS, "");
        }
        Out {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr,
            code: o
                .status
                .code()
                .unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0)),
        }
    }

    /// Run `name args` with both; they must agree. Debian's result.
    fn same_env(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
        let deb = self.run_env(Impl::Debian, name, args, env);
        let ours = self.run_env(Impl::Ours, name, args, env);
        assert_eq!(
            ours, deb,
            "{name} {args:?}: ours (left) differs from Debian's (right)"
        );
        deb
    }

    fn same(&self, name: &str, args: &[&str]) -> Out {
        self.same_env(name, args, &[])
    }

    /// `same`, and the exit code must be `code`.
    fn expect(&self, code: i32, name: &str, args: &[&str]) -> Out {
        let o = self.same(name, args);
        assert_eq!(o.code, code, "{name} {args:?}: {o:?}");
        o
    }
}

/// A process holding an exclusive lock on `file` until dropped.
fn hold(file: &str) -> Holder {
    let mut c = Command::new(DEBIAN_CHPST)
        .args(["-l", file, "sh", "-c", "echo held; exec sleep 60"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start lock holder");
    let mut line = String::new();
    BufReader::new(c.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "held\n");
    Holder(c)
}

/// A directory where programs run as nobody can create their lock files.
fn writable_by_all(d: &Path) {
    fs::create_dir_all(d).unwrap();
    fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
}

struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn usage_and_version() {
    let Some(t) = pair("usage_and_version") else {
        return;
    };
    for args in [
        &[][..],
        &["-V"],
        &["-vV", "true"],
        &["-Z", "true"],
        &["-u"],
        &["-v"],
        &["-m", "12x", "true"],
        &["-m", "=", "true"],
        &["-o", "-1", "true"],
        &["-n", "x", "true"],
        &["-n", "+-1", "true"],
        &["-l", "a", "-L", "b", "true"],
        &["-L", "a", "-l", "b", "true"],
    ] {
        let o = t.expect(100, "chpst", args);
        assert!(o.stderr.starts_with("$Id") || o.stderr.contains("usage: chpst [-vVP012]"));
    }
    for name in &CHPST_NAMES[1..] {
        t.expect(100, name, &[]);
    }
    for (name, args) in [
        ("envdir", &["dir"][..]),
        ("setuidgid", &["nobody"]),
        ("envuidgid", &["nobody"]),
        ("setlock", &["-z", "f", "true"]),
        ("setlock", &["-n", "f"]),
        ("softlimit", &["-z", "true"]),
        ("softlimit", &["-o"]),
        ("softlimit", &["-o", "5"]),
        // runit prints chpst's usage under softlimit's name here.
        ("softlimit", &["-a", "x", "true"]),
    ] {
        t.expect(100, name, args);
    }
    // `-C` is runit 2.2.0's: Debian's 2.1.2 calls it illegal.
    let o = t.run_env(Impl::Ours, "chpst", &["-C", "/", "pwd"], &[]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "/\n"), "{o:?}");
}

#[test]
fn dropped_d_and_argv0_basename() {
    let Some(t) = pair("dropped_d_and_argv0_basename") else {
        return;
    };
    for dir in [&t.ours, &t.debian] {
        let target = fs::read_link(dir.join("chpst")).unwrap();
        for n in ["denvdir", "dchpst", "dsetlock"] {
            std::os::unix::fs::symlink(&target, dir.join(n)).unwrap();
        }
    }
    t.expect(100, "denvdir", &[]);
    t.expect(100, "dchpst", &["-z"]);
    t.expect(100, "dsetlock", &["-z"]);
    fs::create_dir(t.p("env")).unwrap();
    t.expect(0, "denvdir", &[&t.s("env"), "true"]);
}

#[test]
fn users_and_groups() {
    let Some(t) = pair("users_and_groups") else {
        return;
    };
    for spec in [
        "nobody",
        "daemon",
        "nobody:nogroup",
        "nobody:nogroup:daemon:bin",
        "daemon:nogroup",
        ":65534:1:2:",
        ":65534:",
        ":1:2",
        "::",
    ] {
        let o = t.expect(0, "chpst", &["-u", spec, "id"]);
        assert!(o.stdout.starts_with("uid="), "{o:?}");
    }
    for spec in [
        "nosuch",
        "nobody:nosuch",
        "nosuch:nogroup",
        "nobody:",
        ":65534",
        ":x",
        ":1:2x",
    ] {
        t.expect(111, "chpst", &["-u", spec, "id"]);
        t.expect(111, "chpst", &["-U", spec, "env"]);
    }
    for spec in ["nobody", "nobody:daemon", ":7:8:9"] {
        t.expect(0, "chpst", &["-U", spec, "env"]);
    }
    t.expect(0, "setuidgid", &["daemon", "id"]);
    t.expect(111, "setuidgid", &["nobody:nogroup", "id"]);
    t.expect(111, "setuidgid", &["nosuch", "id"]);
    t.expect(0, "envuidgid", &["daemon", "env"]);
    t.expect(111, "envuidgid", &["nosuch", "env"]);
}

/// An envdir with every kind of file: first line only, trailing blanks,
/// NUL, empty (unsets), newline only (empty value), a dotfile, a
/// subdirectory.
fn envdir(t: &Pair) -> String {
    let d = t.p("env");
    fs::create_dir_all(d.join("sub")).unwrap();
    for (name, content) in [
        ("A", &b"value  \t\nsecond line"[..]),
        ("B", b"x\0y \n"),
        ("EMPTY", b""),
        ("NL", b"\n"),
        (".HIDDEN", b"h"),
        ("HOME", b""),
        ("PATH", b"/nonexistent"),
        ("UID", b"from-envdir"),
    ] {
        fs::write(d.join(name), content).unwrap();
    }
    d.display().to_string()
}

#[test]
fn environment_directories() {
    let Some(t) = pair("environment_directories") else {
        return;
    };
    let d = envdir(&t);
    let env = [("HOME", "/root"), ("EMPTY", "set"), ("KEEP", "k")];
    // `env` is found through chpst's PATH, not the envdir's, and -U after
    // -e wins over the envdir's UID.
    let o = t.same_env("chpst", &["-e", &d, "-U", "daemon", "env"], &env);
    assert_eq!(o.code, 0, "{o:?}");
    let mut lines: Vec<&str> = o.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "A=value",
            "B=x",
            "GID=1",
            "KEEP=k",
            "NL=",
            "PATH=/nonexistent",
            "UID=1",
            "y"
        ]
    );
    t.expect(0, "chpst", &["-v", "-e", &d, "true"]);
    t.expect(111, "chpst", &["-e", &t.s("nosuch"), "true"]);
    t.expect(111, "chpst", &["-e", &t.s("env/A"), "true"]);
    t.expect(111, "envdir", &[&d, "env"]);
    fs::remove_dir(t.p("env/sub")).unwrap();
    t.same_env("envdir", &[&d, "env"], &env);
    t.expect(111, "envdir", &[&t.s("nosuch"), "env"]);
    // Ours only (a deliberate difference): a dangling link unsets its
    // variable; runit would set the previous file's value.
    std::os::unix::fs::symlink(t.p("nosuch"), t.p("env/KEEP")).unwrap();
    let o = t.run_env(Impl::Ours, "envdir", &[&d, "env"], &env);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains("KEEP"), "{o:?}");
}

#[test]
fn root_and_directory() {
    let Some(t) = pair("root_and_directory") else {
        return;
    };
    let root = t.p("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::copy("/bin/busybox", root.join("busybox")).unwrap();
    let r = root.display().to_string();
    let o = t.expect(0, "chpst", &["-/", &r, "/busybox", "pwd"]);
    assert_eq!(o.stdout, "/\n");
    // The program is looked up inside the new root.
    t.expect(111, "chpst", &["-/", &r, "true"]);
    t.expect(111, "chpst", &["-/", &t.s("nosuch"), "/busybox", "pwd"]);
    // Numeric ids read no file (there is no /etc in the new root).
    let o = t.expect(
        0,
        "chpst",
        &["-/", &r, "-u", ":65534:65534", "/busybox", "id"],
    );
    assert!(o.stdout.starts_with("uid=65534 gid=65534"), "{o:?}");
    // `-u` reads the new root's /etc: nobody is unknown there.
    t.expect(111, "chpst", &["-/", &r, "-u", "nobody", "/busybox", "id"]);
    let o = t.run_env(
        Impl::Ours,
        "chpst",
        &["-/", &r, "-C", "/sub", "/busybox", "pwd"],
        &[],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "/sub\n"), "{o:?}");
    let o = t.run_env(Impl::Ours, "chpst", &["-C", &t.s("nosuch"), "pwd"], &[]);
    assert_eq!(o.code, 111);
    assert_eq!(
        o.stderr,
        format!(
            "chpst: fatal: unable to change directory: {}: file does not exist\n",
            t.s("nosuch")
        )
    );
}

/// Our own /etc/passwd and /etc/group inside a chroot: who the lock file
/// (created after setuid) belongs to shows what `-u` resolved.
#[test]
fn passwd_and_group_files() {
    let Some(t) = pair("passwd_and_group_files") else {
        return;
    };
    let root = t.p("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    writable_by_all(&root.join("l"));
    fs::write(
        root.join("etc/passwd"),
        "# comment\nalice:x:1234:2345:Alice:/home:/bin/sh\nbob:x:bad:1::/:/bin/sh\nbob:x:77:88::/:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "staff:x:555:alice\nwheel:*:556:\n").unwrap();
    let r = root.display().to_string();
    for (i, spec) in [
        "alice",
        "alice:wheel",
        "alice:staff:wheel",
        "bob",
        ":42:43:44",
    ]
    .iter()
    .enumerate()
    {
        for which in [Impl::Debian, Impl::Ours] {
            let lock = format!("/l/{which:?}{i}");
            let o = t.run_env(
                which,
                "chpst",
                &["-/", &r, "-u", spec, "-l", &lock, "/nonexistent"],
                &[],
            );
            assert_eq!(o.code, 111, "{spec}: {o:?}");
            assert!(o.stderr.contains("unable to run"), "{spec}: {o:?}");
        }
        let m = |w: &str| fs::metadata(root.join(format!("l/{w}{i}"))).unwrap();
        let (deb, ours) = (m("Debian"), m("Ours"));
        assert_eq!(
            (ours.uid(), ours.gid(), ours.mode()),
            (deb.uid(), deb.gid(), deb.mode()),
            "{spec}"
        );
    }
    for spec in ["carol", "alice:nosuch", "bob:staff:"] {
        t.expect(111, "chpst", &["-/", &r, "-u", spec, "/nonexistent"]);
    }
}

#[test]
fn nice_limits_session_fds() {
    let Some(t) = pair("nice_limits_session_fds") else {
        return;
    };
    for n in ["5", "+3", "-4", "0", ""] {
        t.expect(0, "chpst", &["-n", n, "nice"]);
    }
    // Unprivileged, a lower nice value is refused.
    t.expect(
        111,
        "chpst",
        &[
            "-u",
            "nobody",
            &t.ours.join("chpst").display().to_string(),
            "-n",
            "-5",
            "true",
        ],
    );
    t.expect(
        111,
        "chpst",
        &[
            "-u",
            "nobody",
            &t.debian.join("chpst").display().to_string(),
            "-n",
            "-5",
            "true",
        ],
    );
    let limits = ["cat", "/proc/self/limits"];
    for opts in [
        &["-m", "300000000"][..],
        &[
            "-d",
            "400000000",
            "-o",
            "77",
            "-p",
            "55",
            "-f",
            "123456",
            "-c",
            "0",
            "-r",
            "999999",
            "-t",
            "100",
        ],
        &["-o", "99999999999"],
        &["-o", "18446744073709551615"],
    ] {
        t.expect(0, "chpst", &[opts, &limits[..]].concat());
    }
    for opts in [
        &["-m", "="][..],
        &[
            "-o", "=", "-s", "9000000", "-l", "1024", "-a", "=", "-c", "1", "-t", "7",
        ],
        &["-p", "9", "-f", "=", "-r", "5", "-d", "="],
    ] {
        t.expect(0, "softlimit", &[opts, &limits[..]].concat());
    }
    // A zero limit on the stack kills what runs (as runit's).
    t.same("chpst", &["-m", "", "true"]);
    let leader = r#"set -- $(cat /proc/$$/stat); [ "$6" = "$$" ] && echo leader || echo not"#;
    assert_eq!(t.expect(0, "chpst", &["sh", "-c", leader]).stdout, "not\n");
    assert_eq!(
        t.expect(0, "chpst", &["-P", "sh", "-c", leader]).stdout,
        "leader\n"
    );
    assert_eq!(
        t.expect(0, "pgrphack", &["sh", "-c", leader]).stdout,
        "leader\n"
    );
    for (i, close) in ["-0", "-1", "-2", "-012", "-02"].iter().enumerate() {
        let out = t.s(&format!("fds{i}"));
        let script = format!("ls /proc/$$/fd > {out}.$1");
        for (which, tag) in [(Impl::Debian, "d"), (Impl::Ours, "o")] {
            let o = t.run_env(
                which,
                "chpst",
                &[close, "sh", "-c", &script, "sh", tag],
                &[],
            );
            assert_eq!(o.code, 0, "{close}: {o:?}");
        }
        let read = |tag: &str| fs::read_to_string(format!("{out}.{tag}")).unwrap();
        assert_eq!(read("o"), read("d"), "{close}");
    }
    // The program gets SIGPIPE as chpst got it (Rust's runtime ignores it).
    t.expect(0, "chpst", &["grep", "SigIgn", "/proc/self/status"]);
}

#[test]
fn argv0_and_path_search() {
    let Some(t) = pair("argv0_and_path_search") else {
        return;
    };
    assert_eq!(
        t.expect(0, "chpst", &["-b", "foo", "sh", "-c", "echo $0"])
            .stdout,
        "foo\n"
    );
    t.expect(111, "chpst", &["-b", "foo", "nosuch"]);
    t.expect(111, "chpst", &["/nonexistent/prog"]);
    t.expect(111, "chpst", &["-"]);
    t.expect(111, "chpst", &["--", "-x"]);
    assert_eq!(t.expect(0, "chpst", &["--", "echo", "hi"]).stdout, "hi\n");
    // Past a directory where `prog` is not executable, or is a directory.
    for (dir, body, mode) in [("a", "echo a", 0o644), ("c", "echo c", 0o755)] {
        fs::create_dir_all(t.p(dir)).unwrap();
        fs::write(t.p(&format!("{dir}/prog")), format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(
            t.p(&format!("{dir}/prog")),
            fs::Permissions::from_mode(mode),
        )
        .unwrap();
    }
    fs::create_dir_all(t.p("b/prog")).unwrap();
    let path = format!("{}:{}:{}:{}", t.s("a"), t.s("nosuch"), t.s("b"), t.s("c"));
    let o = t.same_env("chpst", &["-u", "nobody", "prog"], &[("PATH", &path)]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "c\n"), "{o:?}");
    // Only unusable candidates: the last error that was not "missing".
    let path = format!("{}:{}", t.s("a"), t.s("nosuch"));
    t.same_env("chpst", &["-u", "nobody", "prog"], &[("PATH", &path)]);
    let path = format!("{}:{}", t.s("b"), t.s("nosuch"));
    t.same_env("chpst", &["prog"], &[("PATH", &path)]);
    // No PATH: /bin:/usr/bin; an empty element is the current directory.
    let mut deb = t.command(Impl::Debian, "chpst", &["true"], &[]);
    let mut ours = t.command(Impl::Ours, "chpst", &["true"], &[]);
    for c in [&mut deb, &mut ours] {
        c.env_remove("PATH");
    }
    assert_eq!(ours.status().unwrap().code(), deb.status().unwrap().code());
    let o = t.same_env("chpst", &["prog"], &[("PATH", ":/bin")]);
    assert_eq!(o.code, 111, "{o:?}");
}

#[test]
fn locks() {
    let Some(t) = pair("locks") else { return };
    let f = t.s("lock");
    // Created 0600 after setuid, left open for the program.
    for which in [Impl::Debian, Impl::Ours] {
        writable_by_all(&t.p("l"));
        let lf = t.s(&format!("l/lock.{which:?}"));
        let o = t.run_env(
            which,
            "chpst",
            &[
                "-u",
                "nobody",
                "-l",
                &lf,
                "sh",
                "-c",
                "ls -l /proc/$$/fd/3 | grep -c lock",
            ],
            &[],
        );
        assert_eq!((o.code, o.stdout.as_str()), (0, "1\n"), "{o:?}");
    }
    let m = |w: &str| fs::metadata(t.p(&format!("l/lock.{w}"))).unwrap();
    let (deb, ours) = (m("Debian"), m("Ours"));
    assert_eq!((ours.uid(), ours.mode()), (deb.uid(), deb.mode()));
    assert_eq!(deb.mode() & 0o777, 0o600);
    t.expect(0, "chpst", &["-L", &f, "true"]);
    t.expect(0, "setlock", &[&f, "true"]);
    t.expect(111, "chpst", &["-l", &t.s("nosuch/lock"), "true"]);
    t.expect(111, "setlock", &[&t.s("nosuch/lock"), "true"]);
    t.expect(0, "setlock", &["-x", &t.s("nosuch/lock"), "true"]);
    t.expect(0, "setlock", &["-x", &f, "nosuch"]);
    t.expect(111, "setlock", &["-xX", &f, "nosuch"]);
    {
        let _held = hold(&f);
        t.expect(111, "chpst", &["-L", &f, "true"]);
        t.expect(111, "setlock", &[&f, "true"]);
        t.expect(111, "setlock", &["-nN", &f, "true"]);
        t.expect(0, "setlock", &["-x", &f, "true"]);
        t.expect(0, "setlock", &["-X", "-x", &f, "true"]);
    }
    // -l and setlock -n wait for the lock.
    for (name, args) in [
        ("chpst", &["-l", f.as_str(), "true"][..]),
        ("setlock", &["-n", f.as_str(), "true"]),
    ] {
        for which in [Impl::Debian, Impl::Ours] {
            let held = hold(&f);
            let mut c = t.command(which, name, args, &[]).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            assert!(
                c.try_wait().unwrap().is_none(),
                "{which:?} {name} did not wait"
            );
            drop(held);
            assert!(wait_until(Duration::from_secs(10), || c
                .try_wait()
                .unwrap()
                .is_some()));
            assert_eq!(c.wait().unwrap().code(), Some(0), "{which:?} {name}");
        }
    }
}
