//! Security checks (issue 11): what an unprivileged user can do to root's
//! services. `supervise/` is 0700 and its FIFOs 0600 (unit tests in
//! runit-compat); here a real non-root `sv` against a running supervisor
//! must fail exactly as runit's own `sv` does.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::runit::{
    have_debian_runit, normalize, our_bin_dir, script, supervisor_listening, wait_until, Impl,
    Super, TempDir,
};

/// The unprivileged user the checks run as.
const NOBODY: u32 = 65534;

/// `sv ARGS` as `nobody`: (stdout, stderr, exit code), normalized.
fn sv_as_nobody(which: Impl, bindir: &Path, svdir: &Path, args: &[&str]) -> (String, String, i32) {
    let prog = match which {
        Impl::Ours => bindir.join("sv"),
        Impl::Debian => "/usr/bin/sv".into(),
    };
    let o = Command::new(prog)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(svdir)
        .stdin(Stdio::null())
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("run sv as nobody");
    (
        normalize(&String::from_utf8_lossy(&o.stdout)),
        normalize(&String::from_utf8_lossy(&o.stderr)),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn non_root_sv_against_root_services_fails_as_runit_does() {
    let test = "non_root_sv_against_root_services_fails_as_runit_does";
    let root = rustix::process::geteuid().is_root();
    if !tests::require(
        test,
        "needs root (to supervise as root and run sv as nobody)",
        root,
    ) || !have_debian_runit(test)
    {
        return;
    }
    let tmp = TempDir::new("nonroot");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // Our sv as a copy inside the 0755 temp dir: nobody must be able to
    // run it whatever the permissions above the checkout are.
    let bindir = tmp.path().join("nobody-bin");
    fs::create_dir_all(&bindir).unwrap();
    fs::copy(tests::bin::init_bin(), bindir.join("init")).unwrap();
    std::os::unix::fs::symlink("init", bindir.join("sv")).unwrap();
    let rootbin = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    fs::create_dir_all(svdir.join("a")).unwrap();
    script(&svdir.join("a/run"), "#!/bin/sh\nexec sleep 1000\n");
    let _sup = Super::start(Impl::Ours, &rootbin, "runsvdir", &svdir);
    assert!(
        wait_until(Duration::from_secs(10), || supervisor_listening(
            &svdir.join("a")
        )),
        "the supervisor did not come up"
    );
    let mode = fs::metadata(svdir.join("a/supervise"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "supervise/ is {:o}", mode & 0o777);
    eprintln!("as nobody:");
    for args in [&["status", "./a"][..], &["down", "./a"], &["exit", "./a"]] {
        let debian = sv_as_nobody(Impl::Debian, &bindir, &svdir, args);
        let ours = sv_as_nobody(Impl::Ours, &bindir, &svdir, args);
        eprintln!("  sv {args:?}: {ours:?}");
        assert_eq!(ours, debian, "sv {args:?} as nobody differs from runit's");
        assert_ne!(ours.2, 0, "sv {args:?} as nobody succeeded: {ours:?}");
        assert!(
            ours.0.contains("unable to") || ours.1.contains("unable to"),
            "no runit-style refusal for sv {args:?}: {ours:?}"
        );
    }
    // The service was not touched: still up.
    let st = Command::new(rootbin.join("sv"))
        .args(["status", "./a"])
        .current_dir(&svdir)
        .output()
        .unwrap();
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(st.starts_with("run: ./a:"), "after the refusals: {st}");
}
