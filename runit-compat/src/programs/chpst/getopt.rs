//! runit's getopt (sgetopt): options end at the first argument that is not
//! `-X…`, or after `--`; `-` alone is an argument; an option's value is the
//! rest of its argument or the next argument. Errors are printed as runit
//! prints them, with argv[0]'s basename (`NAME: illegal option -- c`).
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use super::common::say;

/// A bad option; the message is printed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Said;

pub(super) struct Getopt<'a> {
    name: &'a str,
    args: &'a [OsString],
    spec: &'a [u8],
    /// The argument being read; after the last option, the first operand.
    pub ind: usize,
    /// The position inside `args[ind]` (0: at its start).
    pos: usize,
}

impl<'a> Getopt<'a> {
    /// Options of `args[1..]` as `spec` describes them (a letter followed
    /// by `:` takes a value).
    pub fn new(name: &'a str, args: &'a [OsString], spec: &'a [u8]) -> Getopt<'a> {
        Getopt {
            name,
            args,
            spec,
            ind: 1,
            pos: 0,
        }
    }

    /// The next option and its value (empty for a flag); `Err` once a
    /// message has been printed; `None` after the last option.
    pub fn next(&mut self) -> Option<Result<(u8, &'a [u8]), Said>> {
        let arg = self.args.get(self.ind)?.as_bytes();
        if self.pos == 0 {
            if arg.len() < 2 || arg[0] != b'-' {
                return None;
            }
            if arg == b"--" {
                self.ind += 1;
                return None;
            }
            self.pos = 1;
        }
        let c = arg[self.pos];
        self.pos += 1;
        let rest = &arg[self.pos..];
        if rest.is_empty() {
            self.ind += 1;
            self.pos = 0;
        }
        let Some(i) = self.spec.iter().position(|&s| s == c && c != b':') else {
            return Some(Err(self.complain("illegal option", c)));
        };
        if self.spec.get(i + 1) != Some(&b':') {
            return Some(Ok((c, b"")));
        }
        if !rest.is_empty() {
            self.ind += 1;
            self.pos = 0;
            return Some(Ok((c, rest)));
        }
        match self.args.get(self.ind) {
            Some(v) => {
                self.ind += 1;
                Some(Ok((c, v.as_bytes())))
            }
            None => Some(Err(self.complain("option requires an argument", c))),
        }
    }

    fn complain(&self, what: &str, c: u8) -> Said {
        say(
            self.name.as_bytes(),
            &[b": ", what.as_bytes(), b" -- ", &[c]],
        );
        Said
    }
}
