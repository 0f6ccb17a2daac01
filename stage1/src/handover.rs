//! State a previous system hands to this boot inside the initramfs
//! (`init kexec --carry-ssh-keys` appends it as a cpio archive): the tree
//! `/.init-handover/`, e.g. `/.init-handover/root/.ssh/authorized_keys`.
//!
//! switch_root empties the initramfs, so before it [`stash`] copies the
//! tree into `/run/init/handover/`, on the `/run` tmpfs that switch_root
//! moves into the new root; stage-2 (`stage2::handover`) installs it from
//! there. Modes are kept; symlinks and special files are skipped (the
//! handover archive has none).
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The handover tree, relative to the initramfs root.
pub const HANDOVER_DIR: &str = ".init-handover";
/// Where [`stash`] puts it, relative to the run directory.
pub const RUN_SUBDIR: &str = "init/handover";

/// Copy `<initramfs_root>/.init-handover/` to `<run_dir>/init/handover/`
/// and remove the original. `run_dir` is the directory that will be `/run`
/// in the new root: in stage-1 that is `/run` itself, the tmpfs
/// switch_root moves (a copy under `<new root>/run` would be hidden by that
/// move). Returns how many files were copied: 0 when there is no handover.
/// Fails, copying nothing, when `run_dir` is on the initramfs itself (its
/// contents would be deleted with it).
pub fn stash(initramfs_root: &Path, run_dir: &Path) -> Result<usize> {
    let src = initramfs_root.join(HANDOVER_DIR);
    match fs::symlink_metadata(&src) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{} is not a directory", src.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("stat {}", src.display())),
    }
    let root_dev = fs::metadata(initramfs_root)
        .with_context(|| format!("stat {}", initramfs_root.display()))?
        .dev();
    let run_dev = fs::metadata(run_dir)
        .with_context(|| format!("stat {}", run_dir.display()))?
        .dev();
    if root_dev == run_dev {
        bail!(
            "{} is on the initramfs, not a filesystem of its own: {} would be deleted with it",
            run_dir.display(),
            src.display()
        );
    }
    let dest = run_dir.join(RUN_SUBDIR);
    let files = copy_tree(&src, &dest)?;
    log::info!(
        "stage-1: handed over {files} file(s) from {} to {}",
        src.display(),
        dest.display()
    );
    if let Err(e) = fs::remove_dir_all(&src) {
        log::warn!("cannot remove {} after copying it: {e}", src.display());
    }
    Ok(files)
}

/// Copy the directory tree `src` to `dest` (created, with its parents
/// 0755), keeping modes. Returns the number of regular files copied.
pub fn copy_tree(src: &Path, dest: &Path) -> Result<usize> {
    let mode = fs::metadata(src)
        .with_context(|| format!("stat {}", src.display()))?
        .permissions()
        .mode()
        & 0o7777;
    if let Some(parent) = dest.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dest.is_dir() => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dest.display())),
    }
    let mut files = 0;
    let entries = fs::read_dir(src).with_context(|| format!("reading {}", src.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", src.display()))?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let kind = entry
            .file_type()
            .with_context(|| format!("stat {}", from.display()))?;
        if kind.is_dir() {
            files += copy_tree(&from, &to)?;
        } else if kind.is_file() {
            // copy_file keeps the permission bits.
            crate::copy_file(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            files += 1;
        } else {
            log::warn!(
                "handover: skipping {} (not a file or directory)",
                from.display()
            );
        }
    }
    fs::set_permissions(dest, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", dest.display()))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("stage1-handover-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn copies_the_tree_with_its_modes() {
        let d = temp("copy");
        let src = d.join("initramfs").join(HANDOVER_DIR);
        let ssh = src.join("root/.ssh");
        fs::create_dir_all(&ssh).unwrap();
        let keys = b"no-pty,command=\"true\" ssh-ed25519 AAAA test@host\n";
        fs::write(ssh.join("authorized_keys"), keys).unwrap();
        fs::set_permissions(
            ssh.join("authorized_keys"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        for dir in [&ssh, &src.join("root"), &src] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
        let dest = d.join("run").join(RUN_SUBDIR);
        assert_eq!(copy_tree(&src, &dest).unwrap(), 1);
        let copied = dest.join("root/.ssh/authorized_keys");
        assert_eq!(fs::read(&copied).unwrap(), keys);
        assert_eq!(mode(&copied), 0o600);
        assert_eq!(mode(&dest.join("root/.ssh")), 0o700);
        assert_eq!(mode(&dest), 0o700);
        assert_eq!(mode(&d.join("run/init")), 0o755);
        // Again over the first copy: same result.
        assert_eq!(copy_tree(&src, &dest).unwrap(), 1);
        assert_eq!(fs::read(&copied).unwrap(), keys);
        fs::remove_dir_all(&d).unwrap();
    }

    /// The whole step, when a tmpfs (`/dev/shm`) is a filesystem other than
    /// the temporary directory's, as `/run` is in stage-1.
    #[test]
    fn stash_moves_the_tree_to_another_filesystem() {
        let d = temp("stash");
        let shm = Path::new("/dev/shm");
        let other_fs = fs::metadata(shm)
            .is_ok_and(|m| m.is_dir() && m.dev() != fs::metadata(&d).unwrap().dev());
        let run = shm.join(format!("stage1-handover-run-{}", std::process::id()));
        let ok = other_fs && fs::create_dir_all(&run).is_ok();
        let why = "no writable /dev/shm on another filesystem";
        if !crate::require("stash_moves_the_tree_to_another_filesystem", why, ok) {
            fs::remove_dir_all(&d).unwrap();
            return;
        }
        fs::create_dir_all(d.join(HANDOVER_DIR).join("root/.ssh")).unwrap();
        fs::write(
            d.join(HANDOVER_DIR).join("root/.ssh/authorized_keys"),
            "k\n",
        )
        .unwrap();
        assert_eq!(stash(&d, &run).unwrap(), 1);
        let copied = run.join(RUN_SUBDIR).join("root/.ssh/authorized_keys");
        assert_eq!(fs::read_to_string(copied).unwrap(), "k\n");
        assert!(!d.join(HANDOVER_DIR).exists(), "the original is removed");
        fs::remove_dir_all(&run).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn no_handover_is_nothing_to_do() {
        let d = temp("none");
        assert_eq!(stash(&d, &d.join("run")).unwrap(), 0);
        assert!(!d.join("run").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_a_run_dir_on_the_initramfs() {
        let d = temp("samefs");
        fs::create_dir_all(d.join(HANDOVER_DIR).join("root")).unwrap();
        fs::write(d.join(HANDOVER_DIR).join("root/f"), "x").unwrap();
        fs::create_dir_all(d.join("run")).unwrap();
        let e = format!("{:#}", stash(&d, &d.join("run")).unwrap_err());
        assert!(e.contains("would be deleted"), "{e}");
        assert!(
            d.join(HANDOVER_DIR).join("root/f").exists(),
            "nothing removed"
        );
        assert!(!d.join("run").join(RUN_SUBDIR).exists(), "nothing copied");
        fs::remove_dir_all(&d).unwrap();
    }
}
