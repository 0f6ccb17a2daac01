//! Installing what a previous system handed over (`init kexec
//! --carry-ssh-keys`; stage-1 copied it to `/run/init/handover/`):
//! `root/.ssh/authorized_keys` is merged into `/root/.ssh/authorized_keys`.
//!
//! The merge keeps every line already there and appends each handed-over
//! key line (options and comment intact) that is not yet present, compared
//! without surrounding white space; blank lines are not copied, and the
//! file is replaced atomically only when something is added. `/root` is
//! created 0700 when missing; `/root/.ssh` becomes 0700 and the file 0600,
//! both owned by root. The handover copy in `/run` is left as it is.
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use crate::fsutil;

/// The handed-over keys, relative to the run directory.
pub const HANDOVER_KEYS: &str = "init/handover/root/.ssh/authorized_keys";

/// What [`install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    /// Key lines appended.
    pub added: usize,
    /// Key lines that were there already.
    pub present: usize,
}

/// Install the handover under `run_dir` (normally `/run`) into the system
/// at `root` (normally `/`). `Ok(None)`: nothing was handed over.
pub fn install(run_dir: &Path, root: &Path) -> Result<Option<Installed>> {
    install_as(run_dir, root, Some((0, 0)))
}

/// [`install`] with `owner` (uid, gid) for `.ssh` and the file; `None`
/// leaves ownership alone (tests run unprivileged).
pub fn install_as(
    run_dir: &Path,
    root: &Path,
    owner: Option<(u32, u32)>,
) -> Result<Option<Installed>> {
    let src = run_dir.join(HANDOVER_KEYS);
    let new = match fs::read(&src) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", src.display())),
    };
    let home = root.join("root");
    let ssh = home.join(".ssh");
    let dest = ssh.join("authorized_keys");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&home)
        .with_context(|| format!("creating {}", home.display()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&ssh)
        .with_context(|| format!("creating {}", ssh.display()))?;
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 700 {}", ssh.display()))?;
    chown(&ssh, owner)?;
    let old = match fs::read(&dest) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", dest.display())),
    };
    let (merged, result) = merge_keys(old.as_deref().unwrap_or_default(), &new);
    if result.added > 0 || old.is_none() {
        write_atomically(&dest, &merged, owner)?;
    } else {
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod 600 {}", dest.display()))?;
        chown(&dest, owner)?;
    }
    log::info!(
        "stage-2: {} ssh key(s) from the previous system added to {} ({} already there)",
        result.added,
        dest.display(),
        result.present
    );
    Ok(Some(result))
}

/// `existing` with every line of `new` that it lacks appended (each once;
/// blank lines skipped; lines compared without surrounding white space).
/// `present` counts the lines of `new` that `existing` has.
pub fn merge_keys(existing: &[u8], new: &[u8]) -> (Vec<u8>, Installed) {
    let mut out = existing.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let seen: Vec<&[u8]> = existing
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
        .collect();
    // Repeats within `new` are added once and counted once.
    let mut added: Vec<Vec<u8>> = Vec::new();
    let mut result = Installed {
        added: 0,
        present: 0,
    };
    for line in new.split(|&b| b == b'\n') {
        let key = line.trim_ascii();
        if key.is_empty() {
            continue;
        }
        if seen.contains(&key) {
            result.present += 1;
        } else if !added.iter().any(|s| s == key) {
            out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
            out.push(b'\n');
            added.push(key.to_vec());
            result.added += 1;
        }
    }
    (out, result)
}

/// Write `bytes` to `dest` through a 0600 temporary file in the same
/// directory, renamed over it.
fn write_atomically(dest: &Path, bytes: &[u8], owner: Option<(u32, u32)>) -> Result<()> {
    let tmp = fsutil::temp_name(dest);
    fsutil::remove_if_exists(&tmp)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.set_permissions(fs::Permissions::from_mode(0o600)))
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| chown(&tmp, owner))
        .and_then(|()| {
            fs::rename(&tmp, dest)
                .with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    let Some((uid, gid)) = owner else {
        return Ok(());
    };
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {uid}:{gid} {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    const KEY_A: &str = "no-pty,command=\"true\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA test@host";
    const KEY_B: &str = "ssh-rsa AAAAB3NzaC1yc2E b@host";

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn handover(run: &Path, keys: &str) {
        let f = run.join(HANDOVER_KEYS);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, keys).unwrap();
    }

    #[test]
    fn merge_appends_only_missing_lines() {
        let (out, r) = merge_keys(b"", format!("{KEY_A}\n").as_bytes());
        assert_eq!(out, format!("{KEY_A}\n").as_bytes());
        assert_eq!(
            r,
            Installed {
                added: 1,
                present: 0
            }
        );
        // Existing lines stay, in order; no trailing newline gets one.
        let existing = format!("# mine\n{KEY_B}");
        let (out, r) = merge_keys(
            existing.as_bytes(),
            format!("{KEY_A}\n\n{KEY_B}\n{KEY_A}\n").as_bytes(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("# mine\n{KEY_B}\n{KEY_A}\n")
        );
        assert_eq!(
            r,
            Installed {
                added: 1,
                present: 1
            }
        );
        // Options make a different line; white space around does not.
        let (out, r) = merge_keys(
            format!("  {KEY_B}\r\n").as_bytes(),
            format!("{KEY_B}\nrestrict {KEY_B}\r\n").as_bytes(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("  {KEY_B}\r\nrestrict {KEY_B}\n")
        );
        assert_eq!(
            r,
            Installed {
                added: 1,
                present: 1
            }
        );
    }

    #[test]
    fn installs_with_modes_into_a_fresh_root() {
        let t = TempDir::new("handover-fresh");
        let (run, root) = (t.path().join("run"), t.path().join("root"));
        fs::create_dir_all(&root).unwrap();
        assert_eq!(install_as(&run, &root, None).unwrap(), None);
        handover(&run, &format!("{KEY_A}\n"));
        let r = install_as(&run, &root, None).unwrap();
        assert_eq!(
            r,
            Some(Installed {
                added: 1,
                present: 0
            })
        );
        let dest = root.join("root/.ssh/authorized_keys");
        assert_eq!(fs::read_to_string(&dest).unwrap(), format!("{KEY_A}\n"));
        assert_eq!(mode(&dest), 0o600);
        assert_eq!(mode(&root.join("root/.ssh")), 0o700);
        assert_eq!(mode(&root.join("root")), 0o700);
        // Twice: nothing duplicated.
        let r = install_as(&run, &root, None).unwrap();
        assert_eq!(
            r,
            Some(Installed {
                added: 0,
                present: 1
            })
        );
        assert_eq!(fs::read_to_string(&dest).unwrap(), format!("{KEY_A}\n"));
    }

    #[test]
    fn keeps_existing_keys_and_fixes_modes() {
        let t = TempDir::new("handover-existing");
        let (run, root) = (t.path().join("run"), t.path().join("root"));
        let ssh = root.join("root/.ssh");
        fs::create_dir_all(&ssh).unwrap();
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o755)).unwrap();
        let dest = ssh.join("authorized_keys");
        fs::write(&dest, format!("{KEY_B}\n")).unwrap();
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o644)).unwrap();
        handover(&run, &format!("{KEY_B}\n{KEY_A}\n"));
        // Owning the files by ourselves is always allowed.
        let me = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        let r = install_as(&run, &root, Some(me)).unwrap();
        assert_eq!(
            r,
            Some(Installed {
                added: 1,
                present: 1
            })
        );
        assert_eq!(
            fs::read_to_string(&dest).unwrap(),
            format!("{KEY_B}\n{KEY_A}\n")
        );
        assert_eq!((mode(&dest), mode(&ssh)), (0o600, 0o700));
        assert!(!fsutil::temp_name(&dest).exists(), "no temporary file left");
        // Nothing new: the file is left, its mode fixed all the same.
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o666)).unwrap();
        let r = install_as(&run, &root, Some(me)).unwrap();
        assert_eq!(
            r,
            Some(Installed {
                added: 0,
                present: 2
            })
        );
        assert_eq!(mode(&dest), 0o600);
    }
}
