//! PID 1's re-exec in a booted guest (issue 20): `init reexec`, and a panic
//! in the event loop (`boot.debug_panic=supervise`), exec PID 1 again with
//! every service kept — the demo's `hello` and its logger keep their pids
//! and `status` bytes, `sv` answers afterwards, a killed service is
//! restarted, and the machine still powers off cleanly (the new PID 1
//! runs the shutdown). Under load: a panic while a service counts through
//! `log/` as fast as it can loses no number; two `init reexec` in a row
//! under a crash loop and a control-FIFO flood. And readiness in the
//! guest: `sv start db || exit 1` in a run script waits for db's ready
//! line. Services beyond the demo's are created at run time (built under a
//! dot name, which the scan skips, then renamed into place).
mod common;

use common::demo::{console_after_exit, run_ok, BOOT, HELLO_LOGGED, POWER_DOWN, SHUTDOWN};

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// Runs our binary under a name that is no applet, so `reexec` is the
/// command (PID 1's own /init is gone with the initramfs).
const INIT_REEXEC: &str =
    "ln -sf \"$(readlink -f \"$(command -v sv)\")\" /run/init-cmd && /run/init-cmd reexec";
const SUPERVISING: &str = "re-exec: supervising";
/// A pid 1 re-exec under TCG, two guests sharing two host cores.
const REEXEC: Duration = Duration::from_mins(1);

/// Boot the demo with `params` and wait for hello's logged line; `None`
/// when VMs cannot run here.
fn boot(test: &str, params: &[&str]) -> Result<Option<Vm>> {
    let dist = default_dist();
    if !can_boot(&dist, test) {
        return Ok(None);
    }
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    let mut kernel_params = vec!["loglevel=7".to_owned()];
    kernel_params.extend(params.iter().map(|p| (*p).to_owned()));
    let vm = Vm::boot(&VmConfig {
        console_log: Some(log),
        dist,
        kernel_params,
        ..VmConfig::default()
    })?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    Ok(Some(vm))
}

/// `s` quoted for the guest's `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Create /etc/service/`name` with `run` (and `log/run` from `log`, and
/// `notification-fd` from `notify`) as `sh` scripts with the backdoor's
/// `PATH` (for `sv`, `cut`, …): built under
/// `.name`, then renamed, so the supervisor's scan never sees a half-made
/// directory.
fn add_service(
    vm: &mut Vm,
    name: &str,
    run: &str,
    log: Option<&str>,
    notify: Option<u8>,
) -> Result<()> {
    let tmp = format!("/etc/service/.{name}");
    let script = |path: &str, body: &str| {
        format!(
            "printf '#!%s\\nexport PATH=%s\\n%s\\n' \"$S\" \"$PATH\" {} >{path} && chmod +x {path}",
            quote(body)
        )
    };
    let mut steps = vec![
        // The shell running this: `command -v sh` names only the applet.
        "S=$(dirname \"$(readlink -f /proc/$$/exe)\")/sh".to_owned(),
        format!("mkdir -p {tmp}/log"),
        script(&format!("{tmp}/run"), run),
    ];
    match log {
        Some(log) => steps.push(script(&format!("{tmp}/log/run"), log)),
        None => steps.push(format!("rmdir {tmp}/log")),
    }
    if let Some(fd) = notify {
        steps.push(format!("echo {fd} >{tmp}/notification-fd"));
    }
    steps.push(format!("mv {tmp} /etc/service/{name}"));
    let cmd = steps.join(" && ");
    run_ok(vm, &cmd).map(drop)
}

/// Wait (in the guest, up to 60 s) until the `sh` condition `cond` holds.
fn wait_guest(vm: &mut Vm, cond: &str) -> Result<()> {
    run_ok(
        vm,
        &format!("i=0; until {cond}; do i=$((i+1)); [ $i -le 300 ] || exit 1; sleep 0.2; done"),
    )
    .with_context(|| format!("waiting for `{cond}` in the guest"))
    .map(drop)
}

/// The pids and `status` bytes of the services in `dirs` (under
/// /etc/service).
fn state(vm: &mut Vm, dirs: &[&str]) -> Result<String> {
    let files = |f: &str| {
        dirs.iter()
            .map(|d| format!("/etc/service/{d}/supervise/{f}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (pids, status) = (files("pid"), files("status"));
    run_ok(vm, &format!("cat {pids}; od -An -tx1 {status}"))
}

/// The number `cmd` prints in the guest (e.g. `wc -l <FILE`).
fn number(vm: &mut Vm, cmd: &str) -> Result<u64> {
    let out = run_ok(vm, cmd)?;
    out.trim()
        .parse()
        .with_context(|| format!("`{cmd}` said {out:?}"))
}

/// `sv` answers for hello, and a kill -9 of hello is followed by a new
/// hello: crash restarts work under the new PID 1.
fn hello_answers_and_restarts(vm: &mut Vm) -> Result<()> {
    let sv = run_ok(vm, "sv status /etc/service/hello")?;
    ensure!(sv.starts_with("run: "), "{sv}");
    let old = run_ok(vm, "cat /etc/service/hello/supervise/pid")?;
    run_ok(vm, &format!("kill -9 {}", old.trim()))?;
    wait_guest(
        vm,
        &format!(
            "p=$(cat /etc/service/hello/supervise/pid) && [ -n \"$p\" ] && [ \"$p\" != {} ]",
            old.trim()
        ),
    )
    .context("hello was not restarted after kill -9")
}

/// Power off through the backdoor; QEMU must exit 0 after the kernel's
/// power-down line. Returns the whole console.
fn poweroff(vm: &mut Vm) -> Result<String> {
    match vm.run_timeout("poweroff", Duration::from_secs(30)) {
        Ok((out, code)) => ensure!(code == 0, "poweroff exited {code}: {out}"),
        Err(e) => eprintln!("poweroff: no answer from the backdoor ({e:#}); waiting for QEMU"),
    }
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(vm);
    ensure!(
        status.success() && console.contains(POWER_DOWN),
        "QEMU exited with {status}; console:\n{console}"
    );
    Ok(console)
}

/// The console shows the panic asked for and the re-exec it caused.
fn ensure_panicked_and_reexecd(console: &str) -> Result<()> {
    ensure!(
        console.contains("boot.debug_panic=supervise: panicking on purpose")
            && console.contains("re-executing after a panic"),
        "{console}"
    );
    Ok(())
}

/// Boot with `params`, wait for hello, run `trigger`, and check that PID 1
/// re-exec'd with hello untouched, still restarts it, and powers off; the
/// console (`None` when VMs cannot run here).
fn reexec_keeps_hello(test: &str, params: &[&str], trigger: &str) -> Result<Option<String>> {
    let Some(mut vm) = boot(test, params)? else {
        return Ok(None);
    };
    let before = state(&mut vm, &["hello", "hello/log"])?;
    run_ok(&mut vm, trigger)?;
    vm.wait_for_console(SUPERVISING, REEXEC)?;
    let after = state(&mut vm, &["hello", "hello/log"])?;
    ensure!(before == after, "before:\n{before}\nafter:\n{after}");
    hello_answers_and_restarts(&mut vm)?;
    poweroff(&mut vm).map(Some)
}

#[test]
fn init_reexec_keeps_every_service() -> Result<()> {
    let console = reexec_keeps_hello("init_reexec_keeps_every_service", &[], INIT_REEXEC)?;
    ensure!(
        !console.unwrap_or_default().contains("panicked"),
        "a panic without one asked for"
    );
    Ok(())
}

#[test]
fn a_panic_while_supervising_reexecs_keeping_every_service() -> Result<()> {
    let Some(console) = reexec_keeps_hello(
        "a_panic_while_supervising_reexecs_keeping_every_service",
        &["boot.debug_panic=supervise"],
        "kill -HUP 1",
    )?
    else {
        return Ok(());
    };
    ensure_panicked_and_reexecd(&console)
}

/// (a) A panic in the event loop while `numbers` writes 1, 2, 3, … as fast
/// as its shell can through `log/` (its logger appends them to a file):
/// the same pids afterwards, the log pipe kept with what was in it — the
/// file holds every number from 1 to past the re-exec, none missing — and
/// crash restarts still work.
#[test]
fn a_panic_under_a_fast_logging_service_loses_no_line() -> Result<()> {
    let test = "a_panic_under_a_fast_logging_service_loses_no_line";
    let Some(mut vm) = boot(test, &["boot.debug_panic=supervise"])? else {
        return Ok(());
    };
    add_service(
        &mut vm,
        "numbers",
        "i=0; while :; do i=$((i+1)); echo $i; done",
        Some("exec cat >>/run/numbers"),
        None,
    )?;
    wait_guest(&mut vm, "[ \"$(wc -l </run/numbers)\" -gt 1000 ]")?;
    let dirs = ["hello", "hello/log", "numbers", "numbers/log"];
    let before = state(&mut vm, &dirs)?;
    let at_trigger = number(&mut vm, "wc -l </run/numbers")?;
    run_ok(&mut vm, "kill -HUP 1")?;
    vm.wait_for_console(SUPERVISING, REEXEC)?;
    let after = state(&mut vm, &dirs)?;
    ensure!(before == after, "before:\n{before}\nafter:\n{after}");
    let at_reexec = number(&mut vm, "wc -l </run/numbers")?;
    ensure!(at_reexec > at_trigger, "no line logged across the re-exec");
    wait_guest(
        &mut vm,
        &format!("[ \"$(wc -l </run/numbers)\" -gt {} ]", at_reexec + 1000),
    )?;
    // Stop the writer; its logger drains the pipe. The last line may be
    // cut where cat's read ended: left out.
    run_ok(&mut vm, "sv stop /etc/service/numbers >/dev/null; sleep 1")?;
    let range = run_ok(
        &mut vm,
        "sed '$d' /run/numbers | awk 'NR == 1 { f = $1 } \
         $1 != f + NR - 1 { print \"line \" NR \": \" $1 \", want \" f + NR - 1; bad = 1; exit } \
         END { if (bad) exit 1; print f, f + NR - 1 }'",
    )?;
    let (first, last) = range
        .split_once(' ')
        .with_context(|| format!("awk said {range:?}"))?;
    eprintln!("{test}: numbers {first} to {last} logged, {at_trigger} at the panic");
    ensure!(
        first == "1" && last.parse::<u64>()? > at_reexec + 1000,
        "numbers logged: {first} to {last}, {at_reexec} lines at the re-exec"
    );
    hello_answers_and_restarts(&mut vm)?;
    let console = poweroff(&mut vm)?;
    ensure_panicked_and_reexecd(&console)
}

/// (b) `init reexec` twice in a row while `crash` exits as soon as it
/// starts (restarted every second) and `flood` writes to hello's control
/// FIFO and runs `sv status` in a tight loop: both re-execs happen, the
/// running services keep their pids, the crash loop goes on being
/// restarted, `sv` answers (the flood's every time, during the execs
/// too), and the machine powers off cleanly.
#[test]
fn two_reexecs_under_a_crash_loop_and_a_control_flood() -> Result<()> {
    let test = "two_reexecs_under_a_crash_loop_and_a_control_flood";
    let Some(mut vm) = boot(test, &[])? else {
        return Ok(());
    };
    add_service(
        &mut vm,
        "crash",
        "echo x >>/run/crash-starts; exit 1",
        None,
        None,
    )?;
    add_service(
        &mut vm,
        "flood",
        "while :; do printf u >/etc/service/hello/supervise/control; \
         sv status /etc/service/hello >/dev/null || echo x >>/run/flood-fails; \
         echo x >>/run/floods; done",
        None,
        None,
    )?;
    wait_guest(
        &mut vm,
        "[ \"$(wc -l </run/crash-starts)\" -ge 2 ] && [ \"$(wc -l </run/floods)\" -ge 10 ]",
    )?;
    let dirs = ["hello", "hello/log", "flood"];
    let before = state(&mut vm, &dirs)?;
    run_ok(&mut vm, INIT_REEXEC)?;
    vm.wait_for_console_nth(SUPERVISING, 1, REEXEC)?;
    run_ok(&mut vm, INIT_REEXEC)?;
    vm.wait_for_console_nth(SUPERVISING, 2, REEXEC)?;
    let after = state(&mut vm, &dirs)?;
    ensure!(before == after, "before:\n{before}\nafter:\n{after}");
    for file in ["crash-starts", "floods"] {
        let now = number(&mut vm, &format!("wc -l </run/{file}"))?;
        wait_guest(
            &mut vm,
            &format!("[ \"$(wc -l </run/{file})\" -ge {} ]", now + 3),
        )
        .with_context(|| format!("/run/{file} stopped growing after the re-execs"))?;
    }
    // PID 1 keeps `supervise/ok` open across the exec: no `sv status`
    // of the flood found hello unsupervised.
    let fails = run_ok(&mut vm, "cat /run/flood-fails 2>/dev/null | wc -l")?;
    ensure!(fails == "0", "{fails} of the flood's `sv status` failed");
    let crash = run_ok(&mut vm, "sv status /etc/service/crash")?;
    ensure!(
        crash.starts_with("run: ") || crash.starts_with("down: "),
        "{crash}"
    );
    hello_answers_and_restarts(&mut vm)?;
    let console = poweroff(&mut vm)?;
    ensure!(!console.contains("panicked"), "a panic: {console}");
    Ok(())
}

/// (c) `app`'s run script does `sv -w 10 start db || exit 1` before its
/// real work; `db` declares `notification-fd` and writes its ready line
/// 2 s after `app` began waiting for it (app first checks that db is
/// supervised at all, so the attempt that begins is one that waits). App's
/// stamp must come after db's ready time, which comes after the attempt
/// began: an `sv start` returning at once would stamp before db is ready.
#[test]
fn sv_start_in_a_run_script_waits_for_readiness() -> Result<()> {
    let test = "sv_start_in_a_run_script_waits_for_readiness";
    let Some(mut vm) = boot(test, &[])? else {
        return Ok(());
    };
    let up = "$(cut -d' ' -f1 /proc/uptime)";
    add_service(
        &mut vm,
        "db",
        &format!(
            "until [ -e /run/app-tries ]; do sleep 0.1; done; sleep 2; \
             echo {up} >/run/db-ready; echo ready >&3; exec sleep 2147483647"
        ),
        None,
        Some(3),
    )?;
    add_service(
        &mut vm,
        "app",
        &format!(
            "sv status /etc/service/db >/dev/null || exit 1; echo begin {up} >>/run/app-tries; \
             sv -w 10 start /etc/service/db || exit 1; echo stamp {up} >>/run/app-tries; \
             exec sleep 2147483647"
        ),
        None,
        None,
    )?;
    wait_guest(
        &mut vm,
        "grep -q stamp /run/app-tries 2>/dev/null && [ -s /run/db-ready ]",
    )?;
    let ready: f64 = run_ok(&mut vm, "cat /run/db-ready")?.parse()?;
    let tries = run_ok(&mut vm, "cat /run/app-tries")?;
    let lines: Vec<(&str, f64)> = tries
        .lines()
        .map(|l| {
            let (what, t) = l.split_once(' ').context("no time")?;
            Ok((what, t.parse()?))
        })
        .collect::<Result<_>>()
        .with_context(|| format!("/run/app-tries: {tries:?}"))?;
    eprintln!("{test}: db ready at {ready}; app's attempts: {tries:?}");
    let stamp = lines.iter().position(|(w, _)| *w == "stamp");
    let ok = match stamp {
        Some(i) if i > 0 && lines[i - 1].0 == "begin" => {
            lines[i - 1].1 < ready && ready <= lines[i].1
        }
        _ => false,
    };
    ensure!(
        ok,
        "app's attempts {tries:?}, db ready at {ready}: the stamp must follow a begin \
         before db's ready time, and come at or after it"
    );
    let sv = run_ok(&mut vm, "sv status /etc/service/app /etc/service/db")?;
    ensure!(sv.lines().all(|l| l.starts_with("run: ")), "{sv}");
    poweroff(&mut vm)?;
    Ok(())
}
