//! `init reexec`: ask PID 1 to exec its binary again (a new one renamed
//! over it is a live upgrade) with every service and its pid kept, by
//! sending it SIGQUIT (runit_compat::reexec does the rest).
pub fn main(args: &[std::ffi::OsString]) -> i32 {
    if !args.is_empty() {
        eprintln!("init reexec: takes no arguments (usage: init reexec)");
        return 100;
    }
    crate::power::signal_pid1("init reexec", runit_compat::reexec::SIGNAL)
}
