//! Our `sv` against Debian's on everything that needs no supervisor:
//! usage errors, options, missing directories, no supervise/, `exit` of a
//! stopped service. Outputs (stdout, stderr) and exit codes must match.
use std::fs;

use tests::runit::{have_debian_runit, normalize, our_bin_dir, sv_env, Impl, TempDir};

/// `sv` arguments and extra environment.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

#[test]
fn sv_without_supervisor_matches_debian() {
    if !have_debian_runit("sv_without_supervisor_matches_debian") {
        return;
    }
    let tmp = TempDir::new("svonly");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    fs::create_dir_all(svdir.join("nosup")).unwrap();
    fs::create_dir_all(svdir.join("stale/supervise")).unwrap();
    // A supervise/ with FIFOs but nobody reading: "runsv not running".
    nix::unistd::mkfifo(
        &svdir.join("stale/supervise/ok"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    nix::unistd::mkfifo(
        &svdir.join("stale/supervise/control"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    fs::write(svdir.join("stale/supervise/status"), [0u8; 20]).unwrap();
    fs::write(svdir.join("afile"), "").unwrap();
    let cases: &[Case] = &[
        (&[], &[]),
        (&["status"], &[]),
        (&["-z", "status", "x"], &[]),
        (&["-w"], &[]),
        (&["-V"], &[]),
        (&["foo", "nosup"], &[]),
        (&["restar", "nosup"], &[]),
        (&["force-foo", "nosup"], &[]),
        (&["status", "missing"], &[]),
        (&["status", "/nonexistent/dir"], &[]),
        (&["status", "afile"], &[]),
        (&["status", "nosup"], &[]),
        (&["status", "nosup", "missing", "stale"], &[]),
        (&["up", "stale"], &[]),
        (&["exit", "stale"], &[]),
        (&["-w", "1", "shutdown", "stale"], &[]),
        (&["-v", "exit", "stale"], &[]),
        (&["x", "stale"], &[]),
        (&["e", "stale"], &[]),
        (&["-w", "1", "down", "stale", "nosup"], &[]),
        (&["--", "status", "stale"], &[]),
        (&["-vw1", "up", "stale"], &[]),
        (&["-v", "status", "stale"], &[("SVWAIT", "1")]),
        (&["check", "stale"], &[("SVWAIT", "0")]),
        (&["stat", "stale/"], &[]),
        (&["status", "./nosup"], &[]),
    ];
    let mut bad = Vec::new();
    for (args, env) in cases {
        let d = sv_env(Impl::Debian, &bindir, &svdir, args, env);
        let o = sv_env(Impl::Ours, &bindir, &svdir, args, env);
        let (dn, on) = (
            (normalize(&d.stdout), normalize(&d.stderr), d.code),
            (normalize(&o.stdout), normalize(&o.stderr), o.code),
        );
        if dn == on {
            eprintln!("same: sv {args:?}: {dn:?}");
        } else {
            eprintln!("DIFFERENT: sv {args:?}\n  debian: {dn:?}\n  ours:   {on:?}");
            bad.push(args.join(" "));
        }
    }
    assert!(bad.is_empty(), "sv differs from Debian's for: {bad:?}");
}
