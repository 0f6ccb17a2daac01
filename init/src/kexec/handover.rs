//! The handover from this system to the loaded kernel, both sides of it:
//! `init kexec --exec` writes the marker and asks PID 1 to reboot; PID 1's
//! shutdown, at its start, asks [`handover_requested`] whether to end in
//! the loaded kernel, and at its end calls [`start_loaded_kernel`]. The marker's
//! path and format, the `kexec_loaded` check and reboot(KEXEC) live only
//! here.
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::action::{signal_for, Action};
use crate::logger::PHASE;
use crate::shares::sync_and_drain;

/// The marker that asks PID 1's shutdown to end in the loaded kernel.
const MARKER: &str = "/run/init/kexec";
/// `1` while a kexec image is loaded.
pub const KEXEC_LOADED: &str = "/sys/kernel/kexec_loaded";
/// First line of the marker; its presence in `/proc/1/exe` tells that PID 1
/// understands the marker.
const PROTOCOL: &str = "init-kexec-handoff-v1";

/// Boot the loaded kernel: through PID 1's shutdown when PID 1 is this
/// init, else at once. `what` goes into the marker after [`PROTOCOL`].
pub fn exec_loaded(what: &str) -> Result<()> {
    match fs::read("/proc/1/exe") {
        Ok(exe) if contains(&exe, PROTOCOL.as_bytes()) => {
            write_marker(Path::new(MARKER), what)?;
            let sig = signal_for(Action::Reboot);
            if let Err(e) = kill(Pid::from_raw(1), sig) {
                let _ = fs::remove_file(MARKER);
                bail!("cannot signal PID 1 ({sig}): {}", std::io::Error::from(e));
            }
            println!("kexec: PID 1 is shutting down to start the loaded kernel");
            Ok(())
        }
        other => {
            let why = match other {
                Err(e) => format!("cannot read /proc/1/exe ({e})"),
                Ok(_) => "PID 1 is not this init".to_owned(),
            };
            eprintln!("kexec: warning: {why}: starting the loaded kernel now, without stopping services or unmounting filesystems");
            nix::unistd::sync();
            let e = reboot_kexec();
            bail!("reboot(LINUX_REBOOT_CMD_KEXEC) failed: {e}")
        }
    }
}

/// Write the marker: [`PROTOCOL`] on the first line, then `what`.
fn write_marker(marker: &Path, what: &str) -> Result<()> {
    if let Some(dir) = marker.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(marker, format!("{PROTOCOL}\n{what}"))
        .with_context(|| format!("writing {}", marker.display()))
}

/// PID 1 at the start of its shutdown (before `/run`, which holds the
/// marker, is unmounted): does this shutdown end in the loaded kernel? Yes
/// when it is a reboot and `init kexec --exec` left the marker.
pub fn handover_requested(action: Action) -> bool {
    requested_at(action, Path::new(MARKER))
}

/// The phase line that says a clean shutdown ends in the loaded kernel.
pub fn announce_handover() {
    log::info!(target: PHASE, "shutdown: {MARKER} asks to start the loaded kernel instead of a reboot");
}

/// At the end of a shutdown that [`handover_requested`]:
/// reboot(LINUX_REBOOT_CMD_KEXEC) when an image is loaded. Returns (after
/// a warning) only when that cannot be done: the caller reboots normally.
pub fn start_loaded_kernel() {
    let loaded = Path::new(KEXEC_LOADED);
    if !image_loaded(loaded) {
        log::warn!(
            "shutdown: no kernel is loaded for kexec ({} is not 1); rebooting normally",
            loaded.display()
        );
        return;
    }
    log::info!(target: PHASE, "shutdown: syncing filesystems and starting the loaded kernel (kexec)");
    sync_and_drain();
    let e = reboot_kexec();
    log::warn!("shutdown: reboot(LINUX_REBOOT_CMD_KEXEC) failed: {e}; rebooting normally");
}

/// [`handover_requested`] with the marker at `marker`.
fn requested_at(action: Action, marker: &Path) -> bool {
    if !marker.exists() {
        return false;
    }
    if action != Action::Reboot {
        log::info!(
            "shutdown: {} is there, but this shutdown is to {}: not starting the loaded kernel",
            marker.display(),
            action.verb()
        );
        return false;
    }
    true
}

/// reboot(LINUX_REBOOT_CMD_KEXEC): starts the loaded kernel, so it returns
/// only the reason it could not.
fn reboot_kexec() -> std::io::Error {
    match reboot(RebootMode::RB_KEXEC) {
        Ok(never) => match never {},
        Err(e) => e.into(),
    }
}

/// Whether `path` (`/sys/kernel/kexec_loaded`) says an image is loaded.
pub fn image_loaded(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|s| s.trim() == "1")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_asks_only_a_reboot_to_kexec() {
        let dir = std::env::temp_dir().join(format!("init-kexec-marker-{}", std::process::id()));
        let marker = dir.join("init/kexec");
        assert!(!requested_at(Action::Reboot, &marker));
        write_marker(&marker, "kernel=/k\n").unwrap();
        let text = fs::read_to_string(&marker).unwrap();
        assert_eq!(text, format!("{PROTOCOL}\nkernel=/k\n"));
        assert!(requested_at(Action::Reboot, &marker));
        assert!(!requested_at(Action::PowerOff, &marker));
        assert!(!requested_at(Action::Halt, &marker));
        let loaded = dir.join("kexec_loaded");
        assert!(!image_loaded(&loaded));
        fs::write(&loaded, "0\n").unwrap();
        assert!(!image_loaded(&loaded));
        fs::write(&loaded, "1\n").unwrap();
        assert!(image_loaded(&loaded));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn protocol_search() {
        assert!(contains(
            b"xx init-kexec-handoff-v1 yy",
            PROTOCOL.as_bytes()
        ));
        assert!(!contains(b"init-kexec-handoff-v", PROTOCOL.as_bytes()));
        assert!(!contains(b"abc", b""));
    }
}
