//! Our runsvdir/runsv as ordinary processes: scanning, restarts, log
//! pipes, many services, bad input. Real processes, no VM.
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tests::runit::{
    alive, have_debian_runit, normalize, our_bin_dir, pid, script, status, supervisor_listening,
    sv, wait_until, Impl, Super, TempDir,
};

const SLEEPER: &str = "exec sleep 1000";

/// Create `svdir/name` atomically (built aside, then renamed in).
fn add_service(svdir: &Path, name: &str, run: &str) {
    let staging = svdir.parent().unwrap().join(format!(".staging-{name}"));
    script(&staging.join("run"), run);
    fs::rename(&staging, svdir.join(name)).unwrap();
}

fn running(dir: &Path) -> bool {
    status(dir).is_some_and(|(_, p, st)| p != 0 && st == 1)
}

#[test]
fn new_service_starts_at_once_and_removed_ones_stop() {
    let tmp = TempDir::new("scan");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    fs::create_dir_all(&svdir).unwrap();
    add_service(&svdir, "a", SLEEPER);
    let _sup = Super::start(Impl::Ours, &bindir, "runsvdir", &svdir);
    assert!(
        wait_until(Duration::from_secs(5), || running(&svdir.join("a"))),
        "a never ran"
    );
    // A new service must start without waiting for a rescan (runsvdir
    // polls every few seconds; inotify makes it immediate).
    let t0 = Instant::now();
    add_service(&svdir, "b", SLEEPER);
    assert!(
        wait_until(Duration::from_secs(2), || running(&svdir.join("b"))),
        "b did not start within 2 s"
    );
    eprintln!("new service running after {:?}", t0.elapsed());
    // Dot names are skipped.
    add_service(&svdir, ".hidden", SLEEPER);
    // Removing a directory (moved away) stops its service.
    let pid_a = pid(&svdir.join("a")).unwrap();
    let moved = tmp.path().join("a-moved");
    fs::rename(svdir.join("a"), &moved).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid_a)),
        "removed service still running"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !supervisor_listening(&moved)),
        "removed service still supervised"
    );
    // A directory deleted mid-flight is dropped cleanly.
    let pid_b = pid(&svdir.join("b")).unwrap();
    fs::remove_dir_all(svdir.join("b")).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !alive(pid_b)),
        "deleted service still running"
    );
    assert!(
        !svdir.join(".hidden/supervise").exists(),
        "dot directory was supervised"
    );
    // The supervisor is still alive and supervising new services.
    add_service(&svdir, "c", SLEEPER);
    assert!(
        wait_until(Duration::from_secs(2), || running(&svdir.join("c"))),
        "c did not start"
    );
}

#[test]
fn kill_9_restarts_with_new_pid() {
    let tmp = TempDir::new("kill9");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    fs::create_dir_all(&svdir).unwrap();
    add_service(&svdir, "s", SLEEPER);
    let _sup = Super::start(Impl::Ours, &bindir, "runsvdir", &svdir);
    let dir = svdir.join("s");
    assert!(wait_until(Duration::from_secs(5), || running(&dir)));
    let old = pid(&dir).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(old as i32), Signal::SIGKILL).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || running(&dir)
            && pid(&dir).is_some_and(|p| p != old && alive(p))),
        "no restart after kill -9"
    );
    let new = pid(&dir).unwrap();
    let o = sv(Impl::Ours, &bindir, &svdir, &["status", "s"]);
    assert!(
        o.stdout.starts_with(&format!("run: s: (pid {new}) ")),
        "{o:?}"
    );
    assert_eq!(o.code, 0);
}

#[test]
fn log_pipe_keeps_every_line_across_logger_restarts() {
    let tmp = TempDir::new("logpipe");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    let dir = svdir.join("s");
    script(
        &dir.join("run"),
        r#"n=0
trap 'n=$((n+1)); i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "b$n $i"; done; : > hup-done-$n' HUP
echo ready
while :; do sleep 1 & wait $!; done"#,
    );
    script(&dir.join("log/run"), "exec cat >> out");
    let _sup = Super::start(Impl::Ours, &bindir, "runsv", &dir);
    let out = dir.join("log/out");
    let lines = || fs::read_to_string(&out).unwrap_or_default().lines().count();
    assert!(
        wait_until(Duration::from_secs(5), || lines() >= 1),
        "no ready line"
    );
    sv(Impl::Ours, &bindir, &svdir, &["hup", "s"]);
    assert!(wait_until(Duration::from_secs(5), || lines() >= 101));
    // Logger down: the service keeps writing into the held pipe.
    assert_eq!(
        sv(Impl::Ours, &bindir, &svdir, &["-w", "3", "down", "s/log"]).code,
        0
    );
    sv(Impl::Ours, &bindir, &svdir, &["hup", "s"]);
    // The shell runs its trap only when `wait` returns: let it write all
    // 100 lines into the pipe before it is restarted.
    assert!(
        wait_until(Duration::from_secs(5), || dir.join("hup-done-2").exists()),
        "the service never handled the second HUP"
    );
    // The service itself restarts too while the logger is down.
    assert_eq!(
        sv(Impl::Ours, &bindir, &svdir, &["-w", "4", "restart", "s"]).code,
        0
    );
    assert_eq!(
        sv(Impl::Ours, &bindir, &svdir, &["-w", "3", "up", "s/log"]).code,
        0
    );
    assert!(
        wait_until(Duration::from_secs(5), || lines() >= 202),
        "lines lost: {}",
        lines()
    );
    let mut want = vec!["ready".to_string()];
    want.extend((1..=100).map(|i| format!("b1 {i}")));
    want.extend((1..=100).map(|i| format!("b2 {i}")));
    want.push("ready".into());
    let got: Vec<String> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn two_hundred_services_then_sigterm_stops_all() {
    let tmp = TempDir::new("many");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    for i in 0..200 {
        script(&svdir.join(format!("s{i:03}/run")), SLEEPER);
    }
    let mut sup = Super::start(Impl::Ours, &bindir, "runsvdir", &svdir);
    let all_up = || (0..200).all(|i| running(&svdir.join(format!("s{i:03}"))));
    assert!(
        wait_until(Duration::from_secs(30), all_up),
        "not all 200 services running"
    );
    let names: Vec<String> = (0..200).map(|i| format!("s{i:03}")).collect();
    let mut args = vec!["status"];
    args.extend(names.iter().map(String::as_str));
    let o = sv(Impl::Ours, &bindir, &svdir, &args);
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout.lines().filter(|l| l.starts_with("run: ")).count(),
        200,
        "{}",
        o.stdout
    );
    let pids: Vec<u32> = (0..200)
        .filter_map(|i| pid(&svdir.join(format!("s{i:03}"))))
        .collect();
    assert_eq!(pids.len(), 200);
    // One process: no runsv per service.
    let children = fs::read_to_string(format!(
        "/proc/{}/task/{}/children",
        sup.child.id(),
        sup.child.id()
    ))
    .unwrap_or_default();
    assert_eq!(
        children.split_whitespace().count(),
        200,
        "children of runsvdir: {children}"
    );
    sup.signal(Signal::SIGTERM);
    assert_eq!(sup.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "services survived runsvdir's SIGTERM"
    );
}

#[test]
fn second_supervisor_fails_clearly() {
    let tmp = TempDir::new("lock");
    let bindir = our_bin_dir(tmp.path());
    let dir = tmp.path().join("svc");
    script(&dir.join("run"), SLEEPER);
    let _sup = Super::start(Impl::Ours, &bindir, "runsv", &dir);
    assert!(wait_until(Duration::from_secs(5), || supervisor_listening(
        &dir
    )));
    let o = std::process::Command::new(bindir.join("runsv"))
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(111));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(": fatal: unable to lock supervise/lock: temporary failure"),
        "{err}"
    );
    if have_debian_runit("second_supervisor_fails_clearly (Debian part)") {
        let d = std::process::Command::new("/usr/bin/runsv")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(d.status.code(), Some(111));
        assert_eq!(
            normalize(&String::from_utf8_lossy(&d.stderr)),
            normalize(&err)
        );
    }
}

fn rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn control_flood_leaves_loop_responsive_and_memory_flat() {
    let tmp = TempDir::new("flood");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    let dir = svdir.join("s");
    script(
        &dir.join("run"),
        "trap 'echo h >> h.log' HUP\nwhile :; do sleep 1 & wait $!; done",
    );
    let sup = Super::start(Impl::Ours, &bindir, "runsv", &dir);
    assert!(wait_until(Duration::from_secs(5), || running(&dir)
        && supervisor_listening(&dir)));
    let before = rss_kib(sup.child.id());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(dir.join("supervise/control"))
        .unwrap();
    let t0 = Instant::now();
    let mut writes = 0;
    while t0.elapsed() < Duration::from_secs(1) {
        // Unknown bytes and harmless ones (`c` = CONT).
        f.write_all(if writes % 2 == 0 { b"Z" } else { b"c" })
            .unwrap();
        writes += 1;
        if writes % 1000 == 0 {
            // The loop answers while flooded.
            let o = sv(Impl::Ours, &bindir, &svdir, &["status", "s"]);
            assert!(o.stdout.starts_with("run: s: "), "{o:?}");
        }
    }
    eprintln!("{writes} control writes in {:?}", t0.elapsed());
    assert!(writes >= 10_000, "only {writes} writes");
    drop(f);
    let o = sv(Impl::Ours, &bindir, &svdir, &["-w", "3", "down", "s"]);
    assert_eq!(o.code, 0, "{o:?}");
    let after = rss_kib(sup.child.id());
    assert!(
        after < before + 2048,
        "RSS grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn missing_run_backs_off_then_starts() {
    let tmp = TempDir::new("norun");
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    let dir = svdir.join("s");
    fs::create_dir_all(&dir).unwrap();
    let _sup = Super::start(Impl::Ours, &bindir, "runsv", &dir);
    assert!(wait_until(Duration::from_secs(5), || supervisor_listening(
        &dir
    )));
    let o = sv(Impl::Ours, &bindir, &svdir, &["status", "s"]);
    assert_eq!(
        normalize(&o.stdout),
        "down: s: Ns, normally up, want up\n",
        "{o:?}"
    );
    // Not executable: still backs off.
    fs::write(dir.join("run.tmp"), "#!/bin/sh\nexec sleep 1000\n").unwrap();
    fs::rename(dir.join("run.tmp"), dir.join("run")).unwrap();
    script(&dir.join("run.tmp"), SLEEPER);
    fs::rename(dir.join("run.tmp"), dir.join("run")).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || running(&dir)),
        "never started once run appeared"
    );
}
