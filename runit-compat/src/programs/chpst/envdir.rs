//! Environment directories (`chpst -e`, `envdir`): each file sets the
//! variable of its name to its first line, an empty file unsets it.
use std::os::unix::ffi::OsStrExt;

use super::common::{fatal, io, path, say, Die};

/// What a file's content does to the variable `name`: `NAME=first line`
/// (trailing spaces and tabs cut, NUL read as newline), or `NAME` (unset)
/// for an empty file. A file of only a newline sets the empty string.
pub(crate) fn change(name: &[u8], content: &[u8]) -> Vec<u8> {
    let mut v = name.to_vec();
    if content.is_empty() {
        return v;
    }
    let line = content.split(|&b| b == b'\n').next().unwrap_or_default();
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    v.push(b'=');
    v.extend(line[..end].iter().map(|&b| if b == 0 { b'\n' } else { b }));
    v
}

/// Append the change of every file in `dir` (readdir order, dotfiles
/// skipped) to `changes`. A subdirectory is fatal for `envdir`;
/// `chpst -e` (`skip_dirs`) passes over it, saying so with `-v`. A file
/// that vanished (or a dangling link) unsets its variable.
pub(crate) fn read(
    dir: &[u8],
    skip_dirs: bool,
    verbose: bool,
    changes: &mut Vec<Vec<u8>>,
) -> Result<(), Die> {
    let entries = std::fs::read_dir(path(dir))
        .map_err(|e| fatal(&[b"unable to switch to directory: ", dir, b": ", io(&e)]))?;
    for ent in entries {
        let ent = ent.map_err(|e| fatal(&[b"unable to read directory: ", dir, b": ", io(&e)]))?;
        let name = ent.file_name();
        let name = name.as_bytes();
        if name.starts_with(b".") {
            continue;
        }
        let content = match std::fs::read(ent.path()) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                let m: [&[u8]; 6] = [b"unable to read ", dir, b"/", name, b": ", io(&e)];
                if !skip_dirs || e.raw_os_error() != Some(nix::libc::EISDIR) {
                    return Err(fatal(&m));
                }
                if verbose {
                    say(b"chpst: warning: ", &m);
                }
                continue;
            }
        };
        changes.push(change(name, &content));
    }
    Ok(())
}
