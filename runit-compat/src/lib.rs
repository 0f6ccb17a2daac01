//! runit-compatible supervision in one process: service scanning, the
//! `supervise/` protocol (status codec, control/ok FIFOs, lock), a pure
//! per-service state machine, log pipes, the single event loop, and the
//! programs of runit's toolbox (`programs/`: `sv`, `runsv`, `runsvdir`, …).
//! See README.md for the protocol and every program.
pub mod errstr;
mod event_loop;
pub mod machine;
mod programs;
pub mod scan;
mod service;
pub mod status;
pub mod supervise_dir;
mod supervisor;
mod sys;

use std::ffi::OsString;

pub use event_loop::{run, Flow, Host};
pub use programs::{dispatch, is_init_script, runsv_main, runsvdir_main, sv_main};
pub use supervisor::{Supervisor, SAFETY_RESCAN};
pub use sys::{reset_signal_state, spawn, wait, Exec, Fd, Session};

/// Seconds in a minute (backoff cap, safety rescan, log rate limit).
const MINUTE_SECS: u64 = 60;

/// The PATH every child gets (children get a clean environment with only PATH).
pub const DEFAULT_PATH: &str = "/run/current-system/sw/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// Settings for a `Supervisor`.
#[derive(Clone, Debug)]
pub struct Options {
    /// PATH given to every child; children get a clean env with only PATH.
    pub path_env: OsString,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            path_env: DEFAULT_PATH.into(),
        }
    }
}
