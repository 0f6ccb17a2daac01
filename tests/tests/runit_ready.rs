//! Readiness notification (`notification-fd`, s6's convention) with our
//! runsv as an ordinary process: `sv start` waits for the ready line, a
//! service that never writes one times out by name, one that closes the
//! descriptor is "not ready", garbage declarations warn once, `finish` gets
//! no pipe; and Debian's `sv status` cannot tell a service with
//! `notification-fd` from one without (runit's 20-byte status unchanged).
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tests::runit::{
    have_debian_runit, normalize, our_bin_dir, script, stat, status, supervisor_listening, sv,
    sv_env, wait_status_older_than_now, wait_until, Impl, Super, TempDir,
};

/// Lines of `file` ("" lines dropped).
fn lines(file: &Path) -> Vec<String> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn append(file: &Path, line: &str) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Notification pipes the supervisor process holds: read ends of pipes in
/// non-blocking mode (its log pipes block, and pipes it inherited from the
/// test harness are not its own).
fn pipes(sup: &Super) -> usize {
    const O_ACCMODE: u32 = 0o3;
    const O_NONBLOCK: u32 = 0o4000;
    let pid = sup.child.id();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let notify_end = |fd: &std::ffi::OsStr| {
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.to_string_lossy()))
            .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        flags & O_ACCMODE == 0 && flags & O_NONBLOCK != 0
    };
    dir.flatten()
        .filter(|e| {
            fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("pipe:"))
                && notify_end(&e.file_name())
        })
        .count()
}

/// Voluntary and involuntary context switches of process `pid` so far.
fn ctxt_switches(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// A service `svc` under `tmp/service` with `notification-fd` holding
/// `nfd` (none if `None`), `run` as given, and a `down` file; our runsv on
/// it, listening.
fn service(tmp: &TempDir, nfd: Option<&str>, run: &str, down: bool) -> (Super, std::path::PathBuf) {
    let bindir = our_bin_dir(tmp.path());
    let svc = tmp.path().join("service/svc");
    script(&svc.join("run"), run);
    if let Some(n) = nfd {
        fs::write(svc.join("notification-fd"), n).unwrap();
    }
    if down {
        fs::write(svc.join("down"), "").unwrap();
    }
    let sup = Super::start(Impl::Ours, &bindir, "runsv", &svc);
    let want = if down { "down\n" } else { "run\n" };
    assert!(
        wait_until(Duration::from_secs(5), || stat(&svc) == want
            && supervisor_listening(&svc)),
        "runsv never reached {want:?}"
    );
    (sup, svc)
}

/// `sv start` returns only after the service's ready line, not when its
/// process exists; `sv status` shows how long it has been ready; `sv
/// restart` waits for the new process's line; `supervise/ready` names the
/// running pid.
#[test]
fn sv_start_waits_for_the_ready_line() {
    let tmp = TempDir::new("ready-delay");
    let run = "echo started >> order\nsleep 1\necho ready >> order\necho >&3\nexec sleep 1000";
    let (sup, svc) = service(&tmp, Some("3\n"), run, true);
    let svdir = svc.parent().unwrap();
    let bindir = tmp.path().join("bin");
    let order = svc.join("order");
    let o = sv(Impl::Ours, &bindir, svdir, &["-w", "6", "start", "svc"]);
    append(&order, "sv start returned");
    assert_eq!(
        (normalize(&o.stdout), o.code),
        (
            "ok: run: svc: (pid N) Ns, ready Ns, normally down\n".to_owned(),
            0
        ),
        "{o:?}"
    );
    assert_eq!(lines(&order), ["started", "ready", "sv start returned"]);
    let (_, pid, _) = status(&svc).unwrap();
    let rec = fs::read(svc.join("supervise/ready")).unwrap();
    assert_eq!(rec.len(), 16);
    assert_eq!(rec[12..16], pid.to_le_bytes());
    let o = sv(Impl::Ours, &bindir, svdir, &["status", "svc"]);
    assert_eq!(
        normalize(&o.stdout),
        "run: svc: (pid N) Ns, ready Ns, normally down\n"
    );
    // The ready line closed our end of the pipe.
    assert!(wait_until(Duration::from_secs(2), || pipes(&sup) == 0));

    assert!(wait_status_older_than_now(&svc));
    let o = sv(Impl::Ours, &bindir, svdir, &["-w", "6", "restart", "svc"]);
    append(&order, "sv restart returned");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        lines(&order),
        [
            "started",
            "ready",
            "sv start returned",
            "started",
            "ready",
            "sv restart returned"
        ]
    );
    let (_, pid2, _) = status(&svc).unwrap();
    assert_ne!(pid, pid2);
    assert_eq!(
        fs::read(svc.join("supervise/ready")).unwrap()[12..16],
        pid2.to_le_bytes()
    );
    // Down: the record goes with the process.
    let o = sv(Impl::Ours, &bindir, svdir, &["-w", "5", "stop", "svc"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!svc.join("supervise/ready").exists());
}

/// A service that holds the descriptor and never writes: `sv start -w 1`
/// gives up with runit's `timeout:` line naming it and exit code 1; the
/// waiting supervisor does not wake up while nothing happens.
#[test]
fn a_service_that_never_gets_ready_times_out_by_name() {
    let tmp = TempDir::new("ready-never");
    let (sup, svc) = service(&tmp, Some("5"), "exec sleep 1000", true);
    let svdir = svc.parent().unwrap();
    let bindir = tmp.path().join("bin");
    let o = sv(Impl::Ours, &bindir, svdir, &["-w", "1", "start", "svc"]);
    assert_eq!(
        (normalize(&o.stdout), o.code),
        (
            "timeout: run: svc: (pid N) Ns, not ready, normally down\n".to_owned(),
            1
        ),
        "{o:?}"
    );
    let o = sv(Impl::Ours, &bindir, svdir, &["status", "svc"]);
    assert_eq!(
        normalize(&o.stdout),
        "run: svc: (pid N) Ns, not ready, normally down\n"
    );
    assert!(!svc.join("supervise/ready").exists());
    assert_eq!(pipes(&sup), 1, "the supervisor should hold the read end");
    // Idle: the open pipe costs no wake-up.
    let pid = sup.child.id();
    let before = ctxt_switches(pid);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ctxt_switches(pid), before, "runsv woke up while idle");
}

/// Closing the descriptor without a newline means "not ready" for this
/// run: the supervisor closes its end, `sv check` times out.
#[test]
fn closing_the_descriptor_means_not_ready() {
    let tmp = TempDir::new("ready-close");
    let run = "exec 3>&-\necho closed >> order\nexec sleep 1000";
    let (sup, svc) = service(&tmp, Some("3"), run, false);
    let svdir = svc.parent().unwrap();
    let bindir = tmp.path().join("bin");
    assert!(wait_until(Duration::from_secs(5), || lines(
        &svc.join("order")
    )
    .len()
        == 1));
    assert!(
        wait_until(Duration::from_secs(5), || pipes(&sup) == 0),
        "the supervisor kept the pipe after EOF"
    );
    let o = sv(Impl::Ours, &bindir, svdir, &["-w", "1", "check", "svc"]);
    assert_eq!(
        (normalize(&o.stdout), o.code),
        ("timeout: run: svc: (pid N) Ns, not ready\n".to_owned(), 1),
        "{o:?}"
    );
    assert!(!svc.join("supervise/ready").exists());
}

/// A garbage `notification-fd` is one warning naming the file; the service
/// runs as if it declared nothing (no pipe, `sv start` does not wait, no
/// readiness in `sv status`), also after a restart.
#[test]
fn garbage_notification_fd_warns_once_and_runs_without_readiness() {
    for (i, bad) in ["abc", "100", "2", "", "0"].into_iter().enumerate() {
        let tmp = TempDir::new(&format!("ready-garbage-{i}"));
        let bindir = our_bin_dir(tmp.path());
        let svc = tmp.path().join("service/svc");
        script(&svc.join("run"), "echo ran >> order\nexec sleep 1000");
        fs::write(svc.join("notification-fd"), bad).unwrap();
        let log = tmp.path().join("runsv.err");
        let err = fs::File::create(&log).unwrap();
        let sup = Super::start_logged(Impl::Ours, &bindir, "runsv", &svc, Stdio::from(err));
        assert!(wait_until(Duration::from_secs(5), || stat(&svc) == "run\n"
            && supervisor_listening(&svc)));
        let svdir = svc.parent().unwrap();
        let o = sv(Impl::Ours, &bindir, svdir, &["-w", "2", "start", "svc"]);
        assert_eq!(
            (normalize(&o.stdout), o.code),
            ("ok: run: svc: (pid N) Ns\n".to_owned(), 0),
            "{bad:?}: {o:?}"
        );
        assert_eq!(pipes(&sup), 0, "{bad:?}");
        assert!(wait_status_older_than_now(&svc));
        let o = sv(Impl::Ours, &bindir, svdir, &["-w", "5", "restart", "svc"]);
        assert_eq!(o.code, 0, "{bad:?}: {o:?}");
        assert!(wait_until(Duration::from_secs(5), || lines(
            &svc.join("order")
        )
        .len()
            == 2));
        let mut warnings = lines(&log);
        warnings.retain(|l| l.contains("notification-fd"));
        assert_eq!(warnings.len(), 1, "{bad:?}: {warnings:?}");
        let file = svc.join("notification-fd");
        assert!(
            warnings[0].contains(&*file.to_string_lossy())
                && warnings[0].contains("without readiness notification"),
            "{bad:?}: {warnings:?}"
        );
    }
}

/// Only `run` gets the pipe: `finish` does not, nor a `log/run` without
/// its own `log/notification-fd`; a log with one is ready on its own.
#[test]
fn only_run_gets_the_pipe_and_the_log_has_its_own() {
    let tmp = TempDir::new("ready-slots");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    let has3 = "if [ -e /proc/$$/fd/3 ]; then echo $1-has-3; else echo $1-no-3; fi >> fds";
    // fin: declares a descriptor, run gets ready and exits, finish runs.
    let fin = svdir.join("fin");
    script(
        &fin.join("run"),
        &format!("set -- run\n{has3}\necho >&3\nexit 0"),
    );
    script(&fin.join("finish"), &format!("set -- finish\n{has3}"));
    fs::write(fin.join("notification-fd"), "3").unwrap();
    fs::write(fin.join("down"), "").unwrap();
    // lg: the main service declares nothing, its log does.
    let lg = svdir.join("lg");
    script(
        &lg.join("run"),
        &format!("set -- run\n{has3}\nexec sleep 1000"),
    );
    script(&lg.join("log/run"), "echo >&3\nexec cat > /dev/null");
    fs::write(lg.join("log/notification-fd"), "3").unwrap();
    let _sup = Super::start(Impl::Ours, &bindir, "runsvdir", &svdir);
    assert!(wait_until(Duration::from_secs(5), || supervisor_listening(
        &fin
    )));
    let o = sv(Impl::Ours, &bindir, &svdir, &["once", "fin"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(wait_until(Duration::from_secs(5), || lines(
        &fin.join("fds")
    )
    .len()
        == 2));
    assert_eq!(lines(&fin.join("fds")), ["run-has-3", "finish-no-3"]);
    assert!(wait_until(Duration::from_secs(5), || lg
        .join("log/supervise/ready")
        .exists()
        && lines(&lg.join("fds")).len() == 1));
    assert_eq!(lines(&lg.join("fds")), ["run-no-3"]);
    let o = sv(Impl::Ours, &bindir, &svdir, &["status", "lg"]);
    assert_eq!(
        normalize(&o.stdout),
        "run: lg: (pid N) Ns; run: log: (pid N) Ns, ready Ns\n"
    );
}

/// Debian's `sv status` prints the same for a service with
/// `notification-fd` (ready) as for one without, under our runsv as under
/// Debian's; runit's 20-byte status holds the same flags in every case.
#[test]
fn debian_sv_status_is_unchanged_by_notification_fd() {
    if !have_debian_runit("debian_sv_status_is_unchanged_by_notification_fd") {
        return;
    }
    let tmp = TempDir::new("ready-diff");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    // Debian's runsv opens no descriptor 3: the echo fails there, quietly.
    let run = "{ echo >&3; } 2>/dev/null\nexec sleep 1000";
    let mut sups = Vec::new();
    let mut names = Vec::new();
    for which in [Impl::Debian, Impl::Ours] {
        for nfd in [false, true] {
            let name = format!("{which:?}-{nfd}").to_lowercase();
            let d = svdir.join(&name);
            script(&d.join("run"), run);
            if nfd {
                fs::write(d.join("notification-fd"), "3").unwrap();
            }
            sups.push(Super::start(which, &bindir, "runsv", &d));
            names.push(name);
        }
    }
    for n in &names {
        let d = svdir.join(n);
        assert!(
            wait_until(Duration::from_secs(5), || stat(&d) == "run\n"
                && supervisor_listening(&d)),
            "{n} never ran"
        );
    }
    assert!(wait_until(Duration::from_secs(5), || svdir
        .join("ours-true/supervise/ready")
        .exists()));
    let mut seen = Vec::new();
    for n in &names {
        let o = sv_env(Impl::Debian, &bindir, &svdir, &["status", n], &[]);
        let st = fs::read(svdir.join(n).join("supervise/status")).unwrap();
        assert_eq!(st.len(), 20, "{n}");
        seen.push((
            normalize(&o.stdout).replace(n.as_str(), "NAME"),
            o.code,
            st[16..].to_vec(),
        ));
    }
    assert!(seen.iter().all(|s| *s == seen[0]), "{names:?}: {seen:?}");
    assert_eq!(seen[0].0, "run: NAME: (pid N) Ns\n");
    // Ours says more, for the declared one only.
    let o = sv(
        Impl::Ours,
        &bindir,
        &svdir,
        &["status", "ours-true", "ours-false"],
    );
    assert_eq!(
        normalize(&o.stdout),
        "run: ours-true: (pid N) Ns, ready Ns\nrun: ours-false: (pid N) Ns\n"
    );
}
