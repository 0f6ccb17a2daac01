//! Settings every supervisor shares, in a leaf file so that the
//! supervisor, the services and the programs name them without going
//! through lib.rs.
use std::ffi::OsString;

/// Seconds in a minute (backoff cap, safety rescan, log rate limit).
pub(crate) const MINUTE_SECS: u64 = 60;

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
