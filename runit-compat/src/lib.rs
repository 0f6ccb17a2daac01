//! runit-compatible supervision in one process: service scanning, the
//! `supervise/` protocol (status codec, control/ok FIFOs, lock), a pure
//! per-service state machine, log pipes, the single event loop, and the
//! programs of runit's toolbox (`programs/`: `sv`, `runsv`, `runsvdir`, …).
//! See README.md for the protocol and every program.
pub mod errstr;
mod event_loop;
pub mod machine;
mod options;
mod programs;
mod readiness;
pub mod reexec;
pub mod scan;
mod service;
pub mod status;
pub mod supervise_dir;
mod supervisor;
mod sys;

pub use event_loop::{run, Flow, Host, HOST_TOKENS};
pub use options::{Options, DEFAULT_PATH};
pub use programs::{dispatch, is_init_script, runsv_main, runsvdir_main, sv_main};
pub use supervisor::{Supervisor, SAFETY_RESCAN};
pub use sys::{reset_signal_state, spawn, wait, Exec, Fd, Session};
