//! PID 1's re-exec in a booted guest (issue 20): `init reexec`, and a panic
//! in the event loop (`boot.debug_panic=supervise`), exec PID 1 again with
//! every service kept — the demo's `hello` and its logger keep their pids
//! and `status` bytes, `sv` answers afterwards, a killed service is
//! restarted, and the machine still powers off cleanly (the new PID 1
//! runs the shutdown).
mod common;

use common::demo::{console_after_exit, run_ok, BOOT, HELLO_LOGGED, POWER_DOWN, SHUTDOWN};

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Result};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

const STATE: &str = "cat /etc/service/hello/supervise/pid /etc/service/hello/log/supervise/pid; \
     od -An -tx1 /etc/service/hello/supervise/status /etc/service/hello/log/supervise/status";

/// Boot with `params`, wait for hello, run `trigger`, and check that PID 1
/// re-exec'd with hello untouched, still restarts it, and powers off; the
/// console (`None` when VMs cannot run here).
fn reexec_keeps_hello(test: &str, params: &[&str], trigger: &str) -> Result<Option<String>> {
    let dist = default_dist();
    if !can_boot(&dist, test) {
        return Ok(None);
    }
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    let mut kernel_params = vec!["loglevel=7".to_owned()];
    kernel_params.extend(params.iter().map(|p| (*p).to_owned()));
    let mut vm = Vm::boot(&VmConfig {
        console_log: Some(log),
        dist,
        kernel_params,
        ..VmConfig::default()
    })?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let before = run_ok(&mut vm, STATE)?;
    run_ok(&mut vm, trigger)?;
    vm.wait_for_console("re-exec: supervising", Duration::from_mins(1))?;
    let after = run_ok(&mut vm, STATE)?;
    ensure!(before == after, "before:\n{before}\nafter:\n{after}");
    let sv = run_ok(&mut vm, "sv status /etc/service/hello")?;
    ensure!(sv.starts_with("run: "), "{sv}");
    // Crash restarts still work under the new PID 1.
    let old = run_ok(&mut vm, "cat /etc/service/hello/supervise/pid")?;
    run_ok(&mut vm, &format!("kill -9 {}", old.trim()))?;
    let mut restarted = false;
    for _ in 0..50 {
        let now = run_ok(&mut vm, "cat /etc/service/hello/supervise/pid")?;
        if !now.trim().is_empty() && now != old {
            restarted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    ensure!(restarted, "hello was not restarted after kill -9");
    match vm.run_timeout("poweroff", Duration::from_secs(30)) {
        Ok((out, code)) => ensure!(code == 0, "poweroff exited {code}: {out}"),
        Err(e) => eprintln!("poweroff: no answer from the backdoor ({e:#}); waiting for QEMU"),
    }
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success() && console.contains(POWER_DOWN),
        "QEMU exited with {status}; console:\n{console}"
    );
    Ok(Some(console))
}

#[test]
fn init_reexec_keeps_every_service() -> Result<()> {
    // Our binary under a name that is no applet, so `reexec` is the
    // command (PID 1's own /init is gone with the initramfs).
    let console = reexec_keeps_hello(
        "init_reexec_keeps_every_service",
        &[],
        "ln -sf \"$(readlink -f \"$(command -v sv)\")\" /run/init-cmd && /run/init-cmd reexec",
    )?;
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
    ensure!(
        console.contains("boot.debug_panic=supervise: panicking on purpose")
            && console.contains("re-executing after a panic"),
        "{console}"
    );
    Ok(())
}
