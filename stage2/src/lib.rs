//! Stage-2 as a library: idempotent base mounts, `/etc` from `$toplevel/etc` with NixOS
//! setup-etc semantics, and system state (hostname, `/run/current-system`, nix database,
//! activation).
//!
//! Every function takes plain paths and returns `anyhow::Result`; what a failure means for the
//! boot is decided by the caller (`init/`). [`system::stage2_setup`] runs all steps in order
//! and collects failures instead of stopping at the first one. See `README.md` for the `/etc`
//! rules and the mount table.

mod command;
pub mod etc;
mod fsutil;
pub mod handover;
pub mod ids;
pub mod mountinfo;
pub mod mounts;
pub mod system;
#[cfg(test)]
mod testutil;
