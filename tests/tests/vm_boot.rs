//! First VM tests: boot `dist/` in QEMU and watch the demo system come up
//! and go down. Each test boots its own VM (they may run in parallel).
//!
//! Console markers (see `demo/etc` and the init's own progress lines):
//! `stage-1:`, `stage-2:`, `runit stage 1: hello from /etc/runit/1`,
//! `[hello-log] hello: service started`, `hello: finish ran`, then the
//! kernel's `reboot: Power down` or `reboot: Restarting system`.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Result};
use tests::vm::{can_boot, Vm, VmConfig};

/// Generous: two TCG guests may share two host cores.
const BOOT: Duration = Duration::from_secs(150);
const STAGE1: &str = "stage-1:";
const STAGE2: &str = "stage-2:";
const RUNIT1: &str = "runit stage 1: hello from /etc/runit/1";
const HELLO_LOGGED: &str = "[hello-log] hello: service started";

/// A config whose console log survives the test, under Cargo's tmp dir.
fn config(test: &str) -> VmConfig {
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("vm_boot")
        .join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    VmConfig {
        console_log: Some(log),
        ..VmConfig::default()
    }
}

/// Boot for `test`, or `None` (after saying why) when VMs cannot run here.
fn boot(test: &str) -> Result<Option<Vm>> {
    let config = config(test);
    if !can_boot(&config.dist, test) {
        return Ok(None);
    }
    Ok(Some(Vm::boot(&config)?))
}

/// Wait for each marker in turn, and check they first appear in this order.
fn expect_in_order(vm: &Vm, markers: &[&str]) -> Result<()> {
    for m in markers {
        vm.wait_for_console(m, BOOT)?;
    }
    let console = vm.console();
    let at: Vec<usize> = markers
        .iter()
        .map(|m| console.find(m).expect("seen above"))
        .collect();
    ensure!(
        at.windows(2).all(|w| w[0] < w[1]),
        "console markers {markers:?} appeared out of order (offsets {at:?})"
    );
    Ok(())
}

/// (a) + (b): stage-1, stage-2 and runit's stage 1 run in order, and the
/// supervised hello service's output reaches the console through its log
/// service (the `[hello-log]` prefix is added by `log/run` only).
#[test]
fn boot_reaches_hello_service_through_its_logger() -> Result<()> {
    let Some(vm) = boot("boot_reaches_hello_service_through_its_logger")? else {
        return Ok(());
    };
    expect_in_order(&vm, &[STAGE1, STAGE2, RUNIT1, HELLO_LOGGED])?;
    let console = vm.console();
    ensure!(
        !console.contains("Kernel panic"),
        "the kernel panicked:\n{console}"
    );
    Ok(())
}

/// (c): runit's `sv status` in the guest (our binary as `sv`) sees hello
/// running.
#[test]
fn sv_status_in_guest_reports_hello_running() -> Result<()> {
    let Some(mut vm) = boot("sv_status_in_guest_reports_hello_running")? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let (out, code) = vm.run("sv status /etc/service/hello")?;
    ensure!(code == 0, "sv status exited {code}: {out}");
    ensure!(
        out.starts_with("run: /etc/service/hello: (pid "),
        "hello is not running: {out:?}"
    );
    Ok(())
}

/// (d): ctrl-alt-delete stops the services (hello's `finish` runs) and the
/// guest ends its run itself: QEMU exits by itself, successfully, with the
/// kernel's power-down or restart line and no panic on the console. (runit
/// reboots on ctrl-alt-delete and so does our init; runvm's `-no-reboot`
/// makes either end QEMU. The kernel's own ctrl-alt-delete reboot would not
/// run `finish`, so that line proves init handled it.)
#[test]
fn ctrl_alt_delete_shuts_down_cleanly() -> Result<()> {
    let Some(mut vm) = boot("ctrl_alt_delete_shuts_down_cleanly")? else {
        return Ok(());
    };
    // Supervision runs, so init has taken over ctrl-alt-delete from the kernel.
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    vm.monitor("sendkey ctrl-alt-delete")?;
    vm.wait_for_console("hello: finish ran", Duration::from_secs(45))?;
    let status = vm.wait_exit(Duration::from_secs(45))?;
    ensure!(status.success(), "QEMU exited with {status}");
    let console = vm.console();
    ensure!(
        console.contains("reboot: Power down") || console.contains("reboot: Restarting system"),
        "no power-down or restart line from the kernel:\n{console}"
    );
    ensure!(
        !console.contains("Kernel panic"),
        "the kernel panicked:\n{console}"
    );
    Ok(())
}
