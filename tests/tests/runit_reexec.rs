//! Re-exec with every child kept (issue 20), driven on our `runsvdir` as
//! an ordinary process: SIGQUIT makes it exec its own binary with the
//! handover. Same pids, byte-identical `status`, no line lost on a `log/`
//! pipe, crash restarts and the control FIFOs working across it; a new
//! binary at the same path taking over (the live upgrade); a binary that
//! cannot be exec'd named with the reason, the running one going on; and a
//! truncated handover rebuilt from `supervise/` without a restart.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tests::runit::{pid, script, status, sv, wait_until, Impl, Super, TempDir};

/// `tmp/bin` with a copy of our binary as `tmp/bin/init` (so a test can
/// rename another over it) and `runsvdir` linked to it; `sv` is another
/// copy in `tmp/svbin`, untouched by what happens to `init`.
fn bin_dir(tmp: &TempDir) -> (PathBuf, PathBuf) {
    let d = tmp.path().join("bin");
    let s = tmp.path().join("svbin");
    fs::create_dir_all(&d).unwrap();
    fs::create_dir_all(&s).unwrap();
    fs::copy(tests::bin::init_bin(), d.join("init")).unwrap();
    fs::copy(tests::bin::init_bin(), s.join("sv")).unwrap();
    std::os::unix::fs::symlink("init", d.join("runsvdir")).unwrap();
    (d, s)
}

/// Put `body` at `bin/at` by rename, as a package manager upgrades.
fn replace_binary(bin: &Path, at: &str, body: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let new = bin.join("init.new");
    fs::write(&new, body).unwrap();
    fs::set_permissions(&new, fs::Permissions::from_mode(mode)).unwrap();
    fs::rename(&new, bin.join(at)).unwrap();
}

/// The services: `count` writes numbered lines as fast as it can through
/// its `log/` (into `count/out`), `idle` sleeps, and with `crash`, `crash`
/// counts its starts (in `crash/starts`) and exits after a second.
fn services(tmp: &TempDir, crash: bool) -> PathBuf {
    let svdir = tmp.path().join("service");
    script(
        &svdir.join("count/run"),
        "i=0; while :; do i=$((i+1)); echo $i; done",
    );
    script(&svdir.join("count/log/run"), "exec cat > ../out");
    script(&svdir.join("idle/run"), "exec sleep 1000");
    if crash {
        script(&svdir.join("crash/run"), "echo >> starts; exec sleep 1");
    }
    svdir
}

struct Run {
    sup: Super,
    err: PathBuf,
}

fn start(tmp: &TempDir, bin: &Path, svdir: &Path) -> Run {
    let err = tmp.path().join("stderr");
    let f = fs::File::create(&err).unwrap();
    let sup = Super::start_logged(Impl::Ours, bin, "runsvdir", svdir, Stdio::from(f));
    let slots = ["count", "count/log", "idle"];
    assert!(
        wait_until(Duration::from_secs(10), || slots
            .iter()
            .all(|s| status(&svdir.join(s)).is_some_and(|st| st.1 != 0))),
        "services did not start"
    );
    Run { sup, err }
}

/// A temp dir, its binaries, the services (with `crash` or not) and our
/// runsvdir on them: (tmp, bin, svbin, svdir, run).
fn setup(tag: &str, crash: bool) -> (TempDir, PathBuf, PathBuf, PathBuf, Run) {
    let tmp = TempDir::new(tag);
    let (bin, svb) = bin_dir(&tmp);
    let svdir = services(&tmp, crash);
    let run = start(&tmp, &bin, &svdir);
    (tmp, bin, svb, svdir, run)
}

impl Run {
    fn log(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGQUIT, then wait until the log has `want` lines with `needle`.
    fn reexec(&self, needle: &str, want: usize) {
        self.sup.signal(Signal::SIGQUIT);
        assert!(
            wait_until(Duration::from_secs(10), || self
                .log()
                .matches(needle)
                .count()
                >= want),
            "no {needle:?} (#{want}) in the log:\n{}",
            self.log()
        );
    }

    /// Stop the supervisor (TERM: every service stops) and wait for it.
    fn stop(mut self) -> String {
        self.sup.signal(Signal::SIGTERM);
        assert_eq!(self.sup.wait_exit(Duration::from_secs(10)), Some(0));
        self.log()
    }
}

/// The pids and the status bytes of every long-running slot.
fn snapshot(svdir: &Path) -> Vec<(Option<u32>, Vec<u8>)> {
    ["count", "count/log", "idle"]
        .iter()
        .map(|s| {
            let d = svdir.join(s);
            (pid(&d), fs::read(d.join("supervise/status")).unwrap())
        })
        .collect()
}

/// The control FIFO answers: `idle` goes down and up again through `sv`.
fn bounce(svb: &Path, svdir: &Path) {
    let o = sv(Impl::Ours, svb, svdir, &["-w", "5", "down", "idle"]);
    assert!(o.stdout.starts_with("ok: down: idle"), "{o:?}");
    let o = sv(Impl::Ours, svb, svdir, &["-w", "5", "up", "idle"]);
    assert!(o.stdout.starts_with("ok: run: idle"), "{o:?}");
}

/// Every number from 1 up, in order, with nothing missing.
fn assert_no_gap(out: &Path) {
    let text = fs::read_to_string(out).unwrap();
    let mut n = 0u64;
    for line in text.lines() {
        n += 1;
        assert_eq!(line, n.to_string(), "line {n} of {}", out.display());
    }
    assert!(n > 1000, "only {n} lines");
}

#[test]
fn same_pids_identical_status_no_line_lost() {
    let (_tmp, _bin, svb, svdir, run) = setup("reexec-same", true);
    let starts = || fs::read(svdir.join("crash/starts")).map_or(0, |b| b.len());
    for i in 1..=3 {
        let before = snapshot(&svdir);
        run.reexec("supervising 3 services again", i);
        assert_eq!(snapshot(&svdir), before, "after re-exec {i}");
        bounce(&svb, &svdir);
    }
    // Crash restarts go on under the new binary (the backoff is at most
    // a few seconds after the few crashes so far).
    let n = starts();
    assert!(
        wait_until(Duration::from_secs(15), || starts() > n),
        "crash was not restarted:\n{}",
        run.log()
    );
    let supervisor = run.sup.child.id();
    let fds = fs::read_dir(format!("/proc/{supervisor}/fd"))
        .unwrap()
        .count();
    let log = run.stop();
    assert!(!log.contains("damaged"), "{log}");
    assert_no_gap(&svdir.join("count/out"));
    // Descriptors do not pile up across re-execs (3 services: a handful).
    assert!(fds < 40, "{fds} descriptors");
}

#[test]
fn a_new_binary_at_the_same_path_takes_over() {
    let (_tmp, bin, svb, svdir, run) = setup("reexec-upgrade", true);
    let before = snapshot(&svdir);
    let body = fs::read(bin.join("init")).unwrap();
    replace_binary(&bin, "init", &body, 0o755);
    let exe = format!("/proc/{}/exe", run.sup.child.id());
    assert!(fs::read_link(&exe)
        .unwrap()
        .to_string_lossy()
        .ends_with(" (deleted)"));
    run.reexec("supervising 3 services again", 1);
    assert_eq!(fs::read_link(&exe).unwrap(), bin.join("init"));
    assert_eq!(snapshot(&svdir), before);
    let o = sv(Impl::Ours, &svb, &svdir, &["status", "idle"]);
    assert!(o.stdout.starts_with("run: idle"), "{o:?}");
    run.stop();
    assert_no_gap(&svdir.join("count/out"));
}

#[test]
fn a_binary_that_cannot_run_is_named_and_the_running_one_goes_on() {
    let (_tmp, bin, svb, svdir, run) = setup("reexec-fail", true);
    let before = snapshot(&svdir);
    replace_binary(&bin, "init", b"\x7fELF garbage", 0o755);
    // Named, then /proc/self/exe (the binary running now) takes over.
    run.reexec("supervising 3 services again", 1);
    let log = run.log();
    assert!(
        log.contains(&format!(
            "re-exec: cannot execute {}: ",
            bin.join("init").display()
        )),
        "{log}"
    );
    assert_eq!(snapshot(&svdir), before);
    // Still serving: sv is answered.
    bounce(&svb, &svdir);
    assert_ne!(pid(&svdir.join("idle")), before[2].0);
    // The kept descriptors are close-on-exec again: the new idle has
    // none of the supervisor's pipes or FIFOs.
    let idle = pid(&svdir.join("idle")).unwrap();
    // Once it runs sleep (between fork and exec it still has them all).
    assert!(wait_until(Duration::from_secs(5), || {
        fs::read_link(format!("/proc/{idle}/exe")).is_ok_and(|e| e.ends_with("sleep"))
    }));
    let leaked: Vec<_> = fs::read_dir(format!("/proc/{idle}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .filter(|l| {
            let l = l.to_string_lossy();
            l.contains("supervise") || l.contains("memfd")
        })
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    run.stop();
    assert_no_gap(&svdir.join("count/out"));
}

/// Put at `bin/at` a "new binary" that cuts the handover with `head -c
/// cut` and runs a copy of the real one (`bin/real`) on the cut copy,
/// under the same descriptor number.
fn cutting_wrapper(tmp: &TempDir, bin: &Path, at: &str, real: &str, cut: &str) {
    fs::copy(tests::bin::init_bin(), bin.join(real)).unwrap();
    let copy = tmp.path().join(real);
    let wrapper = format!(
        "#!/bin/bash\nfd=${{@: -1}}; fd=${{fd#--init-reexec=}}\nhead -c {cut} /proc/self/fd/$fd > {copy}\neval \"exec $fd<{copy}\"\nexec -a runsvdir {real} \"$@\"\n",
        copy = copy.display(),
        real = bin.join(real).display()
    );
    replace_binary(bin, at, wrapper.as_bytes(), 0o755);
}

#[test]
fn a_truncated_handover_is_rebuilt_without_a_restart() {
    // No crashing service: a run being forked (holding every descriptor
    // until it execs) would hold a lock the rebuild must take.
    let (tmp, bin, svb, svdir, run) = setup("reexec-corrupt", false);
    let same_processes = |before: &[(Option<u32>, Vec<u8>)], log: &str| {
        let after = snapshot(&svdir);
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            assert_eq!(b.0, a.0, "slot {i} was restarted:\n{log}");
        }
    };
    // First the last service's record is cut short (the others are
    // adopted from the handover), then everything after 400 bytes: past
    // the list of descriptors and the header, inside the first service,
    // so the one after it is rebuilt.
    let before = snapshot(&svdir);
    cutting_wrapper(&tmp, &bin, "init", "real1", "-100");
    run.reexec("supervising 2 services again", 1);
    let log = run.log();
    assert!(
        log.contains("re-exec: the handover is damaged at byte "),
        "{log}"
    );
    same_processes(&before, &log);
    cutting_wrapper(&tmp, &bin, "real1", "real2", "400");
    run.reexec("supervising 2 services again", 2);
    let log = run.log();
    assert_eq!(log.matches("the handover is damaged").count(), 2, "{log}");
    assert!(log.contains("adopted from its supervise/status"), "{log}");
    same_processes(&before, &log);
    // And they are supervised: a stop and start through sv works.
    bounce(&svb, &svdir);
    assert_ne!(pid(&svdir.join("idle")), before[2].0);
    run.stop();
}
