//! `poweroff`, `reboot`, `halt` (as argv[0] or `init poweroff`): ask PID 1
//! with the signal busybox and sysvinit users know (SIGUSR2 power off,
//! SIGTERM reboot, SIGUSR1 halt), or with `-f` act at once.
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::action::{signal_for, Action};
use crate::shutdown;

pub fn main(name: &str, args: &[std::ffi::OsString]) -> i32 {
    let action = match name {
        "poweroff" => Action::PowerOff,
        "reboot" => Action::Reboot,
        _ => Action::Halt,
    };
    let mut force = false;
    for a in args {
        match a.to_str() {
            Some("-f" | "--force") => force = true,
            Some("-h" | "--help") => {
                println!("usage: {name} [-f]\n  ask PID 1 to {} the machine; -f: sync and {} now, without stopping services", action.verb(), action.verb());
                return 0;
            }
            _ => {
                eprintln!(
                    "{name}: unknown argument {}; usage: {name} [-f]",
                    a.to_string_lossy()
                );
                return 100;
            }
        }
    }
    if force {
        shutdown::reboot_now(action);
    }
    signal_pid1(name, signal_for(action))
}

/// Ask PID 1 with `sig` for the applet `name` (`poweroff`, `init reexec`,
/// …): 0, or 111 with the reason when the signal cannot be sent.
pub fn signal_pid1(name: &str, sig: Signal) -> i32 {
    match kill(Pid::from_raw(1), sig) {
        Ok(()) => 0,
        Err(e) => {
            let e = std::io::Error::from(e);
            eprintln!("{name}: cannot signal PID 1 ({sig}): {e}; are you root?");
            111
        }
    }
}
