//! What the person at the console decided after a failure: the value the
//! failure menu and the rescue prompt return, and the PID-1 flow acts on.
//! Its own leaf module so that the menu, the prompt and the flows that act
//! on the answer all depend on it and none of them on another: the prompt
//! never starts the next stage itself.
use std::path::PathBuf;

use stage1::cmdline::BootParams;

/// The answer to a failed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Run the failed step again.
    Retry,
    /// Set the network up again, then run the failed step again.
    RetryNetwork,
    /// Go on as if it had worked.
    Ignore,
    /// The root was switched by hand (the rescue prompt's `switch-root`):
    /// stage-1 is over, whatever step failed.
    SwitchedRoot(SwitchedRoot),
}

/// The new root is `/` now, switched by hand: stage-2 goes on in this
/// process for `toplevel` (its `init` when it has one, else ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchedRoot {
    pub toplevel: Option<PathBuf>,
}

/// The PID-1 flow's way on after a root switched by hand (it starts the
/// system there and never returns): handed down to the code that meets the
/// decision where it cannot return to that flow, deep in stage-1's steps
/// or in the panic hook.
pub type SwitchedByHand = fn(&BootParams, SwitchedRoot) -> !;
