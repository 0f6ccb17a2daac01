//! How the machine ends — power off, reboot, halt — and the signals that
//! ask PID 1 for each. Its own leaf module because three parts share it
//! without depending on one another: the `poweroff`/`reboot`/`halt` applet
//! (sends the signal), the supervision host (maps a signal back to an
//! action) and the shutdown and kexec handover (act on it).
use nix::sys::signal::Signal;

/// How the machine ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PowerOff,
    Reboot,
    Halt,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::PowerOff => "power off",
            Action::Reboot => "reboot",
            Action::Halt => "halt",
        }
    }
}

/// The signal PID 1 understands as a request for `action`.
pub fn signal_for(action: Action) -> Signal {
    match action {
        Action::PowerOff => Signal::SIGUSR2,
        Action::Reboot => Signal::SIGTERM,
        Action::Halt => Signal::SIGUSR1,
    }
}

/// The inverse of [`signal_for`], plus SIGPWR (power off) and SIGINT
/// (ctrl-alt-del: reboot, as runit does).
pub fn action_for(sig: Signal) -> Option<Action> {
    match sig {
        Signal::SIGUSR2 | Signal::SIGPWR => Some(Action::PowerOff),
        Signal::SIGTERM | Signal::SIGINT => Some(Action::Reboot),
        Signal::SIGUSR1 => Some(Action::Halt),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip() {
        for a in [Action::PowerOff, Action::Reboot, Action::Halt] {
            assert_eq!(action_for(signal_for(a)), Some(a));
        }
        assert_eq!(action_for(Signal::SIGPWR), Some(Action::PowerOff));
        assert_eq!(action_for(Signal::SIGHUP), None);
    }
}
