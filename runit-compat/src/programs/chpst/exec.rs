//! The exec at the end: runit's pathexec. The environment is chpst's own
//! with the changes applied in order; a name without `/` is searched in
//! chpst's own `$PATH` (default `/bin:/usr/bin`), going on past a
//! directory where the program is missing or not executable.
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

/// Apply `changes` (`NAME=VALUE` sets, `NAME` unsets) to `env` one after
/// the other, as runit's pathexec does (a later change wins).
pub(crate) fn apply_env(env: &mut Vec<CString>, changes: &[Vec<u8>]) {
    for c in changes {
        let split = c.iter().position(|&b| b == b'=').unwrap_or(c.len());
        let name = &c[..split];
        if let Some(t) = env.iter().position(|e| {
            let e = e.as_bytes();
            e.get(split) == Some(&b'=') && e.starts_with(name)
        }) {
            env.swap_remove(t);
        }
        if split < c.len() {
            env.push(cstring(c.clone()));
        }
    }
}

/// execve(2) `file` with `argv` and the changed environment; returns the
/// error when every candidate failed (the last one that was not "missing",
/// else "missing").
pub(crate) fn run(file: &[u8], argv: &[&[u8]], changes: &[Vec<u8>]) -> Errno {
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| cstring([k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect();
    apply_env(&mut env, changes);
    let argv: Vec<CString> = argv.iter().map(|a| cstring(a.to_vec())).collect();
    crate::sys::default_sigpipe();
    if file.contains(&b'/') {
        return exec(&cstring(file.to_vec()), &argv, &env);
    }
    let path = std::env::var_os("PATH");
    let path = path
        .as_ref()
        .map_or(&b"/bin:/usr/bin"[..], |p| p.as_bytes());
    let mut saved = Errno::ENOENT;
    for dir in path.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let e = exec(&cstring([dir, b"/", file].concat()), &argv, &env);
        if e != Errno::ENOENT {
            saved = e;
            if !matches!(e, Errno::EACCES | Errno::EPERM | Errno::EISDIR) {
                break;
            }
        }
    }
    saved
}

fn exec(prog: &CStr, argv: &[CString], env: &[CString]) -> Errno {
    match nix::unistd::execve(prog, argv, env) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// Arguments and environment strings come from NUL-terminated C strings
/// (or have their NULs turned into newlines), so there is no NUL inside.
fn cstring(v: Vec<u8>) -> CString {
    CString::new(v).unwrap_or_default()
}
