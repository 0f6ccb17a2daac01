//! What the demo system prints and the console checks the VM tests
//! share (vm_stage2.rs, vm_devices.rs).
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use tests::vm::Vm;

/// Generous: two TCG guests may share two host cores.
pub const BOOT: Duration = Duration::from_mins(3);
/// From the shutdown request to QEMU's exit: 7 s for services, 3 s for
/// the rest, plus TCG slowness.
pub const SHUTDOWN: Duration = Duration::from_secs(90);
pub const HELLO_LOGGED: &str = "[hello-log] hello: service started";
pub const HELLO_STARTED: &str = "hello: service started";
pub const HELLO_FINISHED: &str = "hello: finish ran";
pub const POWER_DOWN: &str = "reboot: Power down";
pub const RESTARTING: &str = "reboot: Restarting system";

/// `markers` appear in `console` in this order; fails naming the first
/// one missing. Only compare lines that reach the console the same way:
/// the kernel's own lines and the records it echoes from `/dev/kmsg`
/// (written synchronously) can overtake what processes wrote to the tty
/// (buffered), so their relative order is not defined.
pub fn ensure_in_order(console: &str, markers: &[&str]) -> Result<()> {
    let mut at = Vec::new();
    let mut from = 0;
    for m in markers {
        match console[from..].find(m) {
            Some(i) => {
                at.push(from + i);
                from += i + m.len();
            }
            None => bail!(
                "console lacks {m:?} after {:?} (in order: {markers:?}); console:\n{console}",
                at.len().checked_sub(1).map_or("the start", |i| markers[i])
            ),
        }
    }
    Ok(())
}

/// The whole console once QEMU has exited: `wait_exit` returns when QEMU
/// is gone, possibly before the console thread has read the last bytes
/// from the socket; wait (bounded) until it has seen the socket close.
pub fn console_after_exit(vm: &Vm) -> String {
    let _ = vm.wait_for_console("\u{1}never printed\u{2}", Duration::from_secs(10));
    vm.console()
}

/// Run `cmd` in the guest; it must exit 0. Returns its output without
/// trailing white space.
pub fn run_ok(vm: &mut Vm, cmd: &str) -> Result<String> {
    let (out, code) = vm.run(cmd)?;
    ensure!(code == 0, "`{cmd}` exited {code} in the guest: {out}");
    Ok(out.trim_end().to_owned())
}
