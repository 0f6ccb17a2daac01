//! How chpst was called, for its getopt's messages and its usage lines.
use std::ffi::OsString;

use super::common::{say, Die};
use super::getopt::Getopt;

/// How we were called: argv[0]'s basename (for getopt's messages) and the
/// program it names (for usage lines).
pub(crate) struct Called<'a> {
    pub name: &'a str,
    pub prog: &'a str,
}

impl Called<'_> {
    /// `usage: PROG TEXT` and a blank line, exit 100.
    pub(super) fn usage(&self, text: &str) -> Die {
        say(b"usage: ", &[self.prog.as_bytes(), text.as_bytes(), b"\n"]);
        Die(100)
    }
    pub(super) fn getopt<'a>(&'a self, args: &'a [OsString], spec: &'a [u8]) -> Getopt<'a> {
        Getopt::new(self.name, args, spec)
    }
}
