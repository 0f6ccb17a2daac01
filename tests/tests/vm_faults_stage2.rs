//! VM tests of the stage-2 and supervision faults (issue 11, item 2): each
//! fault gives one clear console line, and the boot either warns and goes
//! on or powers off cleanly.
//!
//! 1. `/etc/runit/1` missing, or not executable: one warning naming it and
//!    the fix; supervision starts.
//! 2. A toplevel `etc/` with a dangling symlink and a `.mode` sidecar that
//!    is no mode: one warning each, naming the path; the boot goes on.
//! 3. A service ignoring SIGTERM with `boot.stop_timeout=2`: the line that
//!    it is killed after the timeout, and the power-off completes.
//! 4. A service directory removed while its service runs: the supervisor
//!    stops it (as runsvdir, which sends TERM to that runsv) and releases
//!    it; PID 1 and the other services go on.
//! 5. 10,000 garbage bytes a second on a `supervise/control` for 30 s:
//!    `sv status` answers within 100 ms (measured in the guest), PID 1's
//!    RSS is flat, the service stays up.
//! 6. 100 services crash-looping for `CRASHLOOP_SECONDS` (default 300):
//!    PID 1's RSS and fd count flat, the restart backoff honoured.
//!
//! Variants of `dist/` (a store built from a changed copy of `demo/`, with
//! `tests/fixtures/fault2-*`) are built by
//! `scripts/variants/fault2-variant.sh` under Cargo's tmp dir; console logs
//! are kept under `$CARGO_TARGET_TMPDIR/vm_faults_stage2/`.
mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::stage1::{guest, line_before, no_panic, BOOT, COMMON_PARAMS, HELLO_LOGGED};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// From the power-off request to QEMU's exit (services' stop timeout,
/// then the rest, plus TCG slowness).
const SHUTDOWN: Duration = Duration::from_secs(90);
const POWER_DOWN: &str = "reboot: Power down";
/// The warning prefix of our own console lines (`quiet`: the kernel does
/// not echo level 4, so init writes them itself).
const WARNING: &str = "init: warning: ";

/// Build (once per process) the dist-like directory of `name`.
fn variant(name: &str) -> Result<PathBuf> {
    common::variant::cached("fault2-variant.sh", name, &tmp_root())
}

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_faults_stage2")
}

/// A config for `test` on `dist`, with its console log kept.
fn config(test: &str, dist: PathBuf, params: &[&str]) -> VmConfig {
    let log = tmp_root().join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    VmConfig {
        console_log: Some(log),
        dist,
        kernel_params: COMMON_PARAMS
            .iter()
            .chain(params)
            .map(|p| (*p).to_owned())
            .collect(),
        ..VmConfig::default()
    }
}

/// Boot `test` on `variant` (`None` when VMs cannot run here) and wait
/// until supervision runs (the hello service's line).
fn boot(test: &str, variant_name: &str, params: &[&str]) -> Result<Option<Vm>> {
    if !can_boot(&default_dist(), test) {
        return Ok(None);
    }
    let vm = Vm::boot(&config(test, variant(variant_name)?, params))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    Ok(Some(vm))
}

/// The toplevel's store path, from the variant's command line.
fn toplevel_of(variant_name: &str) -> Result<String> {
    let cmdline = fs::read_to_string(variant(variant_name)?.join("command-line"))?;
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("toplevel="))
        .map(str::to_owned)
        .context("no toplevel= in the variant's command-line")
}

/// The console lines (whole, `\r` removed) that contain `pattern`.
fn lines_with(console: &str, pattern: &str) -> Vec<String> {
    console
        .lines()
        .filter(|l| l.contains(pattern))
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect()
}

/// Exactly one console line contains `pattern`, and it is `want`, or ends
/// with it: the console shell's prompt (`demo:/# `, no newline) may be in
/// front.
fn ensure_one_line(console: &str, pattern: &str, want: &str) -> Result<()> {
    let got = lines_with(console, pattern);
    ensure!(
        got.len() == 1 && got[0].ends_with(want),
        "want exactly one console line {want:?}, got {got:?}; console:\n{console}"
    );
    Ok(())
}

/// Ask for a power-off through the backdoor, then wait for QEMU to exit
/// by itself with status 0 after the kernel's power-down line. Returns the
/// whole console.
fn poweroff_clean(vm: &mut Vm) -> Result<String> {
    match vm.run_timeout("poweroff", Duration::from_secs(30)) {
        Ok((out, code)) => ensure!(code == 0, "poweroff exited {code}: {out}"),
        // The backdoor may be stopped before it answers.
        Err(e) => eprintln!("poweroff: no answer from the backdoor ({e:#}); waiting for QEMU"),
    }
    let status = vm.wait_exit(SHUTDOWN)?;
    // wait_exit may return before the console thread has read the last bytes.
    let _ = vm.wait_for_console("\u{1}never printed\u{2}", Duration::from_secs(10));
    let console = vm.console();
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    ensure!(
        console.contains("shutdown: syncing filesystems and power off")
            && console.contains(POWER_DOWN),
        "no clean power-off on the console:\n{console}"
    );
    no_panic(&console)?;
    Ok(console)
}

/// `sv status` of the demo's hello service says it runs.
fn ensure_hello_runs(vm: &mut Vm) -> Result<()> {
    let out = guest(vm, "sv status hello")?;
    ensure!(
        out.starts_with("run: hello: (pid "),
        "hello is not running: {out:?}"
    );
    Ok(())
}

/// A `NAME: N kB` field of `/proc/1/status`.
fn pid1_status_kb(vm: &mut Vm, field: &str) -> Result<u64> {
    let status = guest(vm, "cat /proc/1/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .with_context(|| format!("no {field} in /proc/1/status:\n{status}"))?;
    line.split_whitespace()
        .nth(1)
        .context("empty field")?
        .parse()
        .with_context(|| format!("bad line {line:?}"))
}

/// PID 1's VmRSS (kB) and open fds, each the smallest of three samples a
/// second apart: a descriptor or page PID 1 holds only for a moment (a
/// status file being written) is not a leak, and a leak shows in every
/// sample.
fn pid1_footprint(vm: &mut Vm) -> Result<(u64, u64)> {
    let (mut rss, mut fds) = (u64::MAX, u64::MAX);
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        rss = rss.min(pid1_status_kb(vm, "VmRSS")?);
        fds = fds.min(guest(vm, "ls /proc/1/fd | wc -l")?.trim().parse()?);
    }
    Ok((rss, fds))
}

/// The guest's uptime in seconds.
fn uptime(vm: &mut Vm) -> Result<f64> {
    Ok(guest(vm, "cut -d' ' -f1 /proc/uptime")?.parse()?)
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// What boot stage-2 does with an unusable `/etc/runit/1`: one warning
/// naming it, then supervision as if stage 1 had succeeded.
fn runit1_unusable(test: &str, variant_name: &str, want: &str) -> Result<()> {
    let Some(mut vm) = boot(test, variant_name, &[])? else {
        return Ok(());
    };
    let line = line_before(&vm, "/etc/runit/1", HELLO_LOGGED)?;
    ensure!(line.ends_with(want), "the line is {line:?}, want {want:?}");
    ensure_hello_runs(&mut vm)?;
    let console = poweroff_clean(&mut vm)?;
    ensure_one_line(&console, "/etc/runit/1", want)?;
    ensure!(
        !console.contains("runit stage 1: hello"),
        "/etc/runit/1 ran after all:\n{console}"
    );
    ensure!(
        console.contains("stage-2: supervising /etc/service"),
        "supervision did not start:\n{console}"
    );
    Ok(())
}

/// 1a. No `/etc/runit/1`: one warning naming it, what happens (stage 1 is
///     skipped, supervision starts, as runit goes on to stage 2 when it
///     cannot start stage 1) and the fix; hello runs; clean power-off.
#[test]
fn runit1_missing_warns_once_and_supervision_starts() -> Result<()> {
    runit1_unusable(
        "runit1_missing_warns_once_and_supervision_starts",
        "runit1-missing",
        "init: warning: /etc/runit/1 does not exist: skipping runit stage 1, going on to \
         supervision (for one-time tasks at boot, add an executable etc/runit/1 to the toplevel)",
    )
}

/// 1b. `/etc/runit/1` with mode 0444 (0644 in a read-only store): one warning naming it and its mode,
///     what happens and the fix; hello runs; clean power-off.
#[test]
fn runit1_not_executable_warns_once_and_supervision_starts() -> Result<()> {
    runit1_unusable(
        "runit1_not_executable_warns_once_and_supervision_starts",
        "runit1-noexec",
        "init: warning: /etc/runit/1 is not executable (mode 0444): skipping runit stage 1, \
         going on to supervision (make etc/runit/1 executable in the toplevel, chmod +x)",
    )
}

/// 2. A toplevel `etc/` with a dangling symlink and a `.mode` sidecar that
///    is no mode: one warning line each, naming the path (and the sidecar);
///    the link is made anyway, the copy is not; the boot reaches hello and
///    powers off cleanly.
#[test]
fn etc_dangling_symlink_and_garbage_mode_warn_once_each() -> Result<()> {
    let test = "etc_dangling_symlink_and_garbage_mode_warn_once_each";
    let Some(mut vm) = boot(test, "etc", &[])? else {
        return Ok(());
    };
    let top = toplevel_of("etc")?;
    let dangling = "init: warning: /etc/fault2-dangling: dangling symlink: its target \
                    /nonexistent/fault2-target does not exist; linked anyway";
    let garbled = format!(
        "init: warning: /etc/fault2-garbled: bad mode \"rw-r-----\" in {top}/etc/fault2-garbled.mode \
         (want an octal mode such as 0644, or direct-symlink); not copied"
    );
    let console = vm.console();
    ensure_one_line(&console, "/etc/fault2-dangling", dangling)?;
    ensure_one_line(&console, "/etc/fault2-garbled", &garbled)?;
    let link = guest(&mut vm, "readlink /etc/fault2-dangling")?;
    ensure!(
        link == "/etc/static/fault2-dangling",
        "/etc/fault2-dangling -> {link:?}"
    );
    let garbled_there = guest(
        &mut vm,
        "test -e /etc/fault2-garbled && echo present || echo absent",
    )?;
    ensure!(
        garbled_there == "absent",
        "/etc/fault2-garbled is {garbled_there}"
    );
    ensure_hello_runs(&mut vm)?;
    let console = poweroff_clean(&mut vm)?;
    let warnings = lines_with(&console, WARNING);
    eprintln!("{test}: warnings on the console: {warnings:#?}");
    ensure!(
        warnings.len() == 2 && warnings[0].ends_with(dangling) && warnings[1].ends_with(&garbled),
        "want exactly the two warnings, got {warnings:#?}"
    );
    Ok(())
}

/// 3. A service whose `run` ignores SIGTERM, with `boot.stop_timeout=2`:
///    at power-off the console says it is killed after the timeout (naming
///    it), every service is then down, and the power-off completes (QEMU
///    exits 0 after the power-down line).
#[test]
fn term_ignoring_service_is_killed_after_stop_timeout() -> Result<()> {
    let test = "term_ignoring_service_is_killed_after_stop_timeout";
    let Some(mut vm) = boot(test, "stubborn", &["boot.stop_timeout=2"])? else {
        return Ok(());
    };
    vm.wait_for_console("stubborn: running, ignoring SIGTERM", BOOT)?;
    let out = guest(&mut vm, "sv status stubborn")?;
    ensure!(out.starts_with("run: stubborn: (pid "), "{out:?}");
    let console = poweroff_clean(&mut vm)?;
    let killed =
        "init: warning: shutdown: services still running after 2s: sending SIGKILL to stubborn";
    ensure_one_line(&console, "sending SIGKILL to", killed)?;
    let order = [
        "shutdown: stopping services to power off",
        killed,
        "shutdown: all services are down",
        "shutdown: syncing filesystems and power off",
    ];
    let mut from = 0;
    for m in order {
        let at = console[from..]
            .find(m)
            .with_context(|| format!("{m:?} missing or out of order {order:?}:\n{console}"))?;
        from += at + m.len();
    }
    Ok(())
}

/// 4. `rm -rf` of a service directory in `/etc/service` while its service
///    runs: inotify makes the supervisor rescan, it logs the removal, stops
///    the service as runsv does on `x` (runsvdir sends TERM to that runsv:
///    TERM and CONT to `run`, then `finish`, here gone with the directory)
///    and releases it, with its descriptors; the process is gone, PID 1
///    goes on, `sv status` of the others answers, clean power-off.
#[test]
fn removed_service_dir_is_stopped_and_released() -> Result<()> {
    let test = "removed_service_dir_is_stopped_and_released";
    // loglevel=6: the supervisor's info lines reach the console.
    let Some(mut vm) = boot(test, "services", &["loglevel=6"])? else {
        return Ok(());
    };
    let pid: u32 = guest(&mut vm, "cat /etc/service/victim/supervise/pid")?.parse()?;
    let comm = guest(&mut vm, &format!("cat /proc/{pid}/comm"))?;
    ensure!(comm == "sleep", "victim's pid {pid} is {comm:?}");
    let (_, fds_before) = pid1_footprint(&mut vm)?;
    guest(&mut vm, "rm -rf /etc/service/victim")?;
    vm.wait_for_console("runsvdir: victim stopped and released", BOOT)?;
    let gone = guest(
        &mut vm,
        &format!(
            "i=0; while [ -e /proc/{pid} ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; \
             test -e /proc/{pid} && echo alive || echo gone"
        ),
    )?;
    ensure!(gone == "gone", "victim's process {pid} is still there");
    let (_, fds_after) = pid1_footprint(&mut vm)?;
    eprintln!("{test}: PID 1 fds {fds_before} before, {fds_after} after the removal");
    ensure!(
        fds_after < fds_before,
        "PID 1 still holds the removed service's descriptors: {fds_before} fds before, {fds_after} after"
    );
    let out = guest(&mut vm, "sv status hello target")?;
    let lines: Vec<&str> = out.lines().collect();
    ensure!(
        lines.len() == 2
            && lines[0].starts_with("run: hello: (pid ")
            && lines[1].starts_with("run: target: (pid "),
        "the other services: {out:?}"
    );
    let (out, code) = vm.run("sv status victim")?;
    ensure!(
        code != 0,
        "sv status of the removed service succeeded: {out:?}"
    );
    let console = poweroff_clean(&mut vm)?;
    ensure_one_line(
        &console,
        "victim removed",
        "runsvdir: victim removed, stopping it",
    )?;
    ensure_one_line(
        &console,
        "victim stopped",
        "runsvdir: victim stopped and released",
    )?;
    Ok(())
}

/// Seconds of control-FIFO flood, and bytes a second.
const FLOOD_SECONDS: u32 = 30;
const FLOOD_RATE: u32 = 10_000;
/// The `sv status` bound of issue 11, in the guest.
const SV_STATUS_MAX_US: u64 = 100_000;
/// Calls allowed over the bound, in percent: a TCG guest on a shared host
/// stalls now and then for reasons of the host's (measured without any
/// flood on this 2-core host: 144–155 ms for single calls).
const SV_STATUS_OVER_PERCENT: usize = 1;
/// No call may take longer than this, whatever the host.
const SV_STATUS_HARD_MAX_US: u64 = 1_000_000;
/// How much PID 1's RSS may grow under a fault (kB).
const RSS_SLACK_KB: u64 = 64;

/// Latencies (µs) and wrong answers from the guest's `svlat` output.
fn parse_svlat(out: &str) -> Result<(Vec<u64>, u64, Vec<&str>)> {
    let mut lat = Vec::new();
    let mut bad = None;
    let mut wrong = Vec::new();
    for l in out.lines() {
        if let Some(v) = l.strip_prefix("lat ") {
            let us = v.split_whitespace().next().context("empty lat line")?;
            lat.push(us.parse()?);
        } else if let Some(v) = l.strip_prefix("bad ") {
            bad = Some(v.trim().parse()?);
        } else if l.starts_with("wrong: ") {
            wrong.push(l);
        }
    }
    Ok((lat, bad.context("svlat printed no `bad` line")?, wrong))
}

/// PID 1's CPU time so far (user + system), in clock ticks (1/100 s).
fn pid1_cpu_ticks(vm: &mut Vm) -> Result<u64> {
    let stat = guest(vm, "cat /proc/1/stat")?;
    // The fields after the command name's closing parenthesis; utime and
    // stime are fields 14 and 15 of the whole line.
    let after = stat.rsplit_once(')').context("no ) in /proc/1/stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok(f.get(11).context("short stat")?.parse::<u64>()?
        + f.get(12).context("short stat")?.parse::<u64>()?)
}

/// 5. 10,000 garbage bytes a second for 30 s on `target`'s
///    `supervise/control`, written in the guest. Garbage: random bytes with
///    runit's control letters (`udoxtkpchaiq12`) deleted, so that no byte
///    legitimately stops, signals or pauses the service and the test can
///    assert it stays up. Meanwhile, every 100 ms, `sv status target` is
///    timed in the guest (monotonic clock from `/proc/timer_list`, around
///    the whole fork/exec/exit of `sv`, so an upper bound): every answer
///    correct, at least 99 % of them within 100 ms and none over 1 s (see
///    `SV_STATUS_OVER_PERCENT`). PID 1's VmRSS grows by at most 64 kB, the
///    supervisor logs the unknown bytes once (its once-a-minute limit),
///    `target` runs with the same pid, and the power-off is clean. Prints
///    the latencies (also of 3 s without the flood), the flood's rate and
///    PID 1's CPU time.
#[test]
fn control_fifo_flood_keeps_sv_fast_and_pid1_flat() -> Result<()> {
    let test = "control_fifo_flood_keeps_sv_fast_and_pid1_flat";
    let Some(mut vm) = boot(test, "services", &[])? else {
        return Ok(());
    };
    let pid: u32 = guest(&mut vm, "cat /etc/service/target/supervise/pid")?.parse()?;
    // Also the warm-up: the first `sv` calls pay for TCG's translation.
    let baseline = guest(&mut vm, &format!("/etc/fault2/svlat target {pid} 3"))?;
    let (base_lat, base_bad, base_wrong) = parse_svlat(&baseline)?;
    ensure!(
        base_bad == 0 && !base_lat.is_empty(),
        "sv status before the flood: {base_wrong:?}"
    );
    let (rss_before, _) = pid1_footprint(&mut vm)?;
    let cpu_before = pid1_cpu_ticks(&mut vm)?;
    let (out, code) = vm.run_timeout(
        &format!(
            "/etc/fault2/flood /etc/service/target/supervise/control {FLOOD_SECONDS} {FLOOD_RATE} \
             >/tmp/flood.out 2>&1 & f=$!; /etc/fault2/svlat target {pid} {FLOOD_SECONDS}; \
             wait $f; echo \"flood exit $?\"; cat /tmp/flood.out"
        ),
        Duration::from_secs(u64::from(FLOOD_SECONDS) * 4 + 60),
    )?;
    ensure!(code == 0, "the flood run exited {code}: {out}");
    let cpu = pid1_cpu_ticks(&mut vm)? - cpu_before;
    let (rss_after, _) = pid1_footprint(&mut vm)?;
    let (lat, bad, wrong) = parse_svlat(&out)?;
    let flood = out
        .lines()
        .find_map(|l| l.strip_prefix("flood: "))
        .with_context(|| format!("no flood line: {out}"))?;
    ensure!(
        out.contains("flood exit 0"),
        "the flood writer failed: {out}"
    );
    let words: Vec<&str> = flood.split_whitespace().collect();
    let (bytes, ns): (u64, u64) = (words[0].parse()?, words[3].parse()?);
    let rate = bytes as f64 / (ns as f64 / 1e9);
    let max = lat.iter().copied().max().unwrap_or(0);
    let over = lat.iter().filter(|l| **l > SV_STATUS_MAX_US).count();
    let mut slowest = lat.clone();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    slowest.truncate(5);
    eprintln!(
        "{test}: flood {bytes} bytes in {:.1} s ({rate:.0} B/s), PID 1 CPU {:.2} s meanwhile; \
         sv status over {} calls: max {:.1} ms, median {:.1} ms, {over} over 100 ms, slowest {slowest:?} µs \
         (before the flood, {} calls: max {:.1} ms, median {:.1} ms); \
         PID 1 VmRSS {rss_before} kB before, {rss_after} kB after",
        ns as f64 / 1e9,
        cpu as f64 / 100.0,
        lat.len(),
        max as f64 / 1000.0,
        median(&lat) as f64 / 1000.0,
        base_lat.len(),
        base_lat.iter().copied().max().unwrap_or(0) as f64 / 1000.0,
        median(&base_lat) as f64 / 1000.0,
    );
    ensure!(
        bytes == u64::from(FLOOD_SECONDS * FLOOD_RATE) && rate >= 0.95 * f64::from(FLOOD_RATE),
        "the flood was {bytes} bytes at {rate:.0} B/s, not {FLOOD_RATE} B/s for {FLOOD_SECONDS} s"
    );
    // One call per 100 ms plus its own time: far more than 50 in 30 s.
    ensure!(lat.len() >= 50, "only {} sv status calls", lat.len());
    ensure!(
        bad == 0,
        "{bad} wrong sv status answers under the flood: {wrong:?}"
    );
    ensure!(
        over * 100 <= lat.len() * SV_STATUS_OVER_PERCENT && max <= SV_STATUS_HARD_MAX_US,
        "sv status under the flood: {over} of {} calls over {SV_STATUS_MAX_US} µs, slowest {slowest:?} µs",
        lat.len()
    );
    ensure!(
        rss_after <= rss_before + RSS_SLACK_KB,
        "PID 1's VmRSS grew from {rss_before} kB to {rss_after} kB under the flood"
    );
    let now: u32 = guest(&mut vm, "cat /etc/service/target/supervise/pid")?.parse()?;
    let stat = guest(&mut vm, "cat /etc/service/target/supervise/stat")?;
    let alive = guest(&mut vm, &format!("cat /proc/{pid}/comm"))?;
    ensure!(
        now == pid && stat == "run" && alive == "sleep",
        "target after the flood: pid {now} (was {pid}), stat {stat:?}, /proc/{pid}/comm {alive:?}"
    );
    ensure_hello_runs(&mut vm)?;
    let console = poweroff_clean(&mut vm)?;
    let logged = lines_with(&console, "runsv target: ignoring unknown control byte");
    ensure!(
        logged.len() == 1,
        "want the unknown control bytes logged once (once a minute), got {logged:?}"
    );
    Ok(())
}

/// The most starts a crash-looping service can have had `elapsed` seconds
/// after its first, by runit-compat/README.md's restart policy with runs
/// of no duration: starts at most 1 s apart, and after the 6th crash in a
/// row a wait of 2, 4, 8, 16, 32 s, then 60 s, after each exit.
fn max_starts(elapsed: f64) -> u64 {
    let (mut t, mut starts, mut crashes) = (0.0, 0, 0u32);
    while t <= elapsed {
        starts += 1;
        crashes += 1;
        let backoff = if crashes <= 5 {
            0.0
        } else {
            f64::from(1u32 << (crashes - 5).min(6)).min(60.0)
        };
        t += backoff.max(1.0);
    }
    starts
}

/// 6. 100 services whose `run` exits 1 at once, for `CRASHLOOP_SECONDS`
///    (default 300; the issue asks for 5 minutes) after supervision began:
///    PID 1's VmRSS (after a warm-up: the first 30 s, or half a shorter
///    run) grows by at most 64 kB and its fd count does not grow; every
///    service was restarted (at least its 6 free retries) but no more
///    often than the backoff allows (`max_starts`, +1; that is also at
///    most once a second), and each is still being retried (down at most
///    60 s + slack: the backoff cap); `sv status` answers for all 100;
///    clean power-off. Prints the figures on stderr.
#[test]
fn hundred_crash_looping_services_keep_pid1_flat() -> Result<()> {
    let test = "hundred_crash_looping_services_keep_pid1_flat";
    let seconds: f64 = match std::env::var("CRASHLOOP_SECONDS") {
        Ok(s) => s
            .parse()
            .with_context(|| format!("CRASHLOOP_SECONDS={s:?} is not a number"))?,
        Err(_) => 300.0,
    };
    let Some(mut vm) = boot(test, "crashloop", &[])? else {
        return Ok(());
    };
    let times = guest(&mut vm, "cat /run/init/boot-times")?;
    let supervise = common::boot_mark(&times, "supervise")?;
    let warmup = (seconds / 2.0).min(30.0);
    let wait_until = |vm: &mut Vm, at: f64| -> Result<()> {
        loop {
            let left = at - uptime(vm)?;
            if left <= 0.0 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs_f64(left.min(30.0)));
        }
    };
    wait_until(&mut vm, supervise + warmup)?;
    let (rss_before, fds_before) = pid1_footprint(&mut vm)?;
    wait_until(&mut vm, supervise + seconds)?;
    let (rss_after, fds_after) = pid1_footprint(&mut vm)?;
    let starts_out = guest(&mut vm, "wc -c /etc/service/crash*/starts")?;
    let elapsed = uptime(&mut vm)? - supervise;
    let mut starts: Vec<(String, u64)> = starts_out
        .lines()
        .filter_map(|l| {
            let (n, path) = l.trim().split_once(' ')?;
            let name = path
                .strip_prefix("/etc/service/")?
                .strip_suffix("/starts")?;
            // Each start appends ".\n".
            Some((name.to_owned(), n.parse::<u64>().ok()? / 2))
        })
        .collect();
    starts.sort();
    ensure!(
        starts.len() == 100,
        "want 100 crash services with a start count, got {}:\n{starts_out}",
        starts.len()
    );
    let counts: Vec<u64> = starts.iter().map(|s| s.1).collect();
    let (min, max) = (
        counts.iter().copied().min().unwrap_or(0),
        counts.iter().copied().max().unwrap_or(0),
    );
    let allowed = max_starts(elapsed) + 1;
    let status = guest(&mut vm, "sv status /etc/service/crash*")?;
    // `down: /etc/service/crashNNN: 12s, normally up, want up` (or briefly
    // `run: …` while one runs): the seconds since its last exit.
    let mut longest_down = 0u64;
    let mut status_lines = 0;
    for l in status.lines() {
        status_lines += 1;
        if let Some(rest) = l.strip_prefix("down: ") {
            let secs = rest
                .split(": ")
                .nth(1)
                .and_then(|s| s.split('s').next())
                .and_then(|s| s.parse::<u64>().ok())
                .with_context(|| format!("bad status line {l:?}"))?;
            longest_down = longest_down.max(secs);
        } else {
            ensure!(l.starts_with("run: "), "bad status line {l:?}");
        }
    }
    eprintln!(
        "{test}: {:.0} s of crash loops (figures from {warmup:.0} s on): PID 1 VmRSS {rss_before} kB \
         -> {rss_after} kB, fds {fds_before} -> {fds_after}; starts per service: min {min}, median {}, \
         max {max} (backoff allows {allowed}); longest down {longest_down} s",
        elapsed,
        median(&counts)
    );
    ensure!(
        status_lines == 100,
        "sv status answered {status_lines} lines:\n{status}"
    );
    let too_many: Vec<_> = starts.iter().filter(|s| s.1 > allowed).collect();
    ensure!(
        too_many.is_empty(),
        "restarted more often than the backoff allows ({allowed} in {elapsed:.0} s): {too_many:?}"
    );
    let too_few: Vec<_> = starts
        .iter()
        .filter(|s| s.1 < max_starts(elapsed).min(6))
        .collect();
    ensure!(
        too_few.is_empty(),
        "not restarted (want at least the 6 free retries): {too_few:?}"
    );
    if elapsed >= 90.0 {
        // The cap is 60 s after an exit; a start is then due, however
        // late TCG makes it.
        ensure!(
            longest_down <= 75,
            "a service has been down {longest_down} s: retries stopped or the 60 s cap is not kept"
        );
    }
    ensure!(
        rss_after <= rss_before + RSS_SLACK_KB,
        "PID 1's VmRSS grew from {rss_before} kB to {rss_after} kB while 100 services crash-looped"
    );
    ensure!(
        fds_after <= fds_before,
        "PID 1's open fds grew from {fds_before} to {fds_after}: a descriptor leak"
    );
    ensure_hello_runs(&mut vm)?;
    poweroff_clean(&mut vm)?;
    Ok(())
}

/// The bound test 6 checks against is runit-compat's schedule (no VM).
#[test]
fn max_starts_follows_the_backoff_schedule() {
    // Starts at 0..=5 s, then 7, 11, 19, 35, 67, 127, 187, 247, 307.
    assert_eq!(max_starts(0.0), 1);
    assert_eq!(max_starts(5.5), 6);
    assert_eq!(max_starts(6.9), 6);
    assert_eq!(max_starts(7.0), 7);
    assert_eq!(max_starts(66.0), 10);
    assert_eq!(max_starts(67.0), 11);
    assert_eq!(max_starts(300.0), 14);
}
