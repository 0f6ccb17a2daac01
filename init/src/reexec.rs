//! `init reexec`: ask PID 1 to exec its binary again (a new one renamed
//! over it is a live upgrade) with every service and its pid kept, by
//! sending it SIGQUIT (runit_compat::reexec does the rest).
use nix::sys::signal::kill;
use nix::unistd::Pid;

pub fn main(args: &[std::ffi::OsString]) -> i32 {
    if !args.is_empty() {
        eprintln!("init reexec: takes no arguments (usage: init reexec)");
        return 100;
    }
    let sig = runit_compat::reexec::SIGNAL;
    match kill(Pid::from_raw(1), sig) {
        Ok(()) => 0,
        Err(e) => {
            let e = std::io::Error::from(e);
            eprintln!("init reexec: cannot signal PID 1 ({sig}): {e}; are you root?");
            111
        }
    }
}
