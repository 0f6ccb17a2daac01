//! Host shares (virtiofs, 9p, any FUSE filesystem) at shutdown, and the
//! bounds that keep a dead one from holding the power-off. A virtiofs
//! share whose virtiofsd has gone never answers again: Linux 6.1's FUSE
//! has no request timeout, so every lookup through it — and the unmount,
//! which sends FUSE_DESTROY — sleeps uninterruptibly for ever. PID 1 never
//! asks such a share anything itself: a child asks (statfs(2)), PID 1
//! waits [`PROBE`] for it, and a share that gave no answer is named on the
//! console; the shutdown then skips what would look paths up on it, and
//! detaches it and what stands on it from children of their own.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use stage1::decimal::Seconds;
use stage2::mountinfo::{MountEntry, MountTable};

/// How long a share gets to answer statfs(2), and a lazy unmount to return.
pub const PROBE: Duration = Duration::from_secs(5);
/// How long the last sync(2) may take before the machine goes down anyway.
pub const SYNC: Duration = Duration::from_secs(30);

/// Filesystems whose data lives with a server that can go away.
fn is_share(fs_type: &str) -> bool {
    matches!(fs_type, "9p" | "virtiofs") || fs_type.starts_with("fuse")
}

/// [`crate::sys::fork_run`], logging a failure.
fn fork(f: &dyn Fn() -> i32) -> Option<Pid> {
    crate::sys::fork_run(f)
        .inspect_err(|e| log::warn!("shutdown: cannot fork: {e}"))
        .ok()
}

/// Run `f` in a forked child and wait at most `limit` for it: its return
/// value (0, or an errno), or `None` when it did not end in time (it is
/// left behind, most likely asleep in the kernel for good) or could not
/// be forked.
pub fn bounded(limit: Duration, f: &dyn Fn() -> i32) -> Option<i32> {
    match exited_by(fork(f)?, Instant::now() + limit) {
        Some(WaitStatus::Exited(_, code)) => Some(code),
        _ => None,
    }
}

/// Wait for the child `pid` until `deadline` (poll(2) on its pidfd, so no
/// timer runs), and reap it if it ended.
fn exited_by(pid: Pid, deadline: Instant) -> Option<WaitStatus> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let rpid = rustix::process::Pid::from_raw(pid.as_raw())?;
    let fd = rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty())
        .inspect_err(|e| log::warn!("shutdown: pidfd_open({pid}): {e}; not waiting for it"))
        .ok()?;
    let left = deadline.saturating_duration_since(Instant::now());
    let timeout = Timespec::try_from(left).ok()?;
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) if n > 0 => waitpid(pid, None).ok(),
        _ => None,
    }
}

/// The shares that do not answer statfs(2) within [`PROBE`], all asked at
/// once; each is named on the console. A share that answers with an
/// error is not gone: its lookups fail rather than hang.
pub fn gone() -> Vec<MountEntry> {
    let table = match MountTable::read() {
        Ok(t) => t,
        Err(e) => {
            log::warn!("shutdown: {e:#}; not probing the host's shares");
            return Vec::new();
        }
    };
    let deadline = Instant::now() + PROBE;
    let mut probes = Vec::new();
    for m in table.0 {
        if !is_share(&m.fs_type) {
            continue;
        }
        let path = &m.mount_point;
        let ask = || rustix::fs::statfs(path).map_or_else(rustix::io::Errno::raw_os_error, |_| 0);
        if let Some(pid) = fork(&ask) {
            probes.push((m, pid));
        }
    }
    probes.retain(|(m, pid)| {
        let answered = exited_by(*pid, deadline).is_some();
        if !answered {
            log::warn!(
                "shutdown: the share {} ({}) on {} gave no answer in {}: it is gone (its server stopped?); what lives on it is skipped and it is detached",
                m.source,
                m.fs_type,
                m.mount_point.display(),
                Seconds(PROBE)
            );
        }
        !answered
    });
    probes.into_iter().map(|(m, _)| m).collect()
}

/// The mounts of `table` that stand on a share of `gone`, in mount order:
/// each gone share, the mounts below its mount point, and every mount
/// whose options name it or such a mount (an overlay with it as a layer;
/// stage-1 mounted that one under `/mnt-root`, so the name is a part of
/// the option's path), with the mounts below those.
pub fn standing_on<'a>(table: &'a MountTable, gone: &[MountEntry]) -> Vec<&'a Path> {
    let mut on: Vec<PathBuf> = gone.iter().map(|g| g.mount_point.clone()).collect();
    let mut out = Vec::new();
    for m in &table.0 {
        let p = &m.mount_point;
        let hit = on
            .iter()
            .any(|g| p.starts_with(g) || g.to_str().is_some_and(|g| m.super_options.contains(g)));
        if hit {
            if !on.contains(p) {
                on.push(p.clone());
            }
            out.push(p.as_path());
        }
    }
    out
}

/// sync(2) from a child given [`SYNC`] (a filesystem that never answers
/// would otherwise hold PID 1 here for ever), then let the serial line
/// send what we wrote: reboot(2) does not wait for a tty's output buffer,
/// and the last lines are the ones people read. Every reboot(2) of PID 1
/// (normal or kexec) comes after it.
pub fn sync_and_drain() {
    let synced = bounded(SYNC, &|| {
        nix::unistd::sync();
        0
    });
    if synced.is_none() {
        log::warn!(
            "shutdown: sync did not finish in {}; going on without it",
            Seconds(SYNC)
        );
    }
    let _ = rustix::termios::tcdrain(std::io::stdout());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's store shared over virtiofs (mountinfo from the VM test,
    /// plus a mount inside the store): the share, the overlay over it —
    /// whose options name the layer as stage-1 saw it, under /mnt-root —
    /// and the mount inside are detached; the tmpfs upper layer and
    /// everything else are not.
    #[test]
    fn standing_on_takes_the_share_its_overlay_and_their_submounts() {
        let info = "\
21 25 0:19 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
26 25 0:22 / /nix/.rw-store rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=755,inode64
27 25 0:23 / /nix/.ro-store ro,relatime - virtiofs nix-store ro
30 25 0:24 / /nix/store rw,relatime - overlay overlay rw,lowerdir=/mnt-root/nix/.ro-store,upperdir=/mnt-root/nix/.rw-store/store,workdir=/mnt-root/nix/.rw-store/work
33 30 0:33 / /nix/store/x-data rw - tmpfs tmpfs rw
34 25 0:34 / /tmp/xchg rw - 9p shared rw,trans=virtio
";
        let table = MountTable::parse(info);
        let gone: Vec<MountEntry> = table
            .0
            .iter()
            .filter(|m| m.fs_type == "virtiofs")
            .cloned()
            .collect();
        let got = standing_on(&table, &gone);
        assert_eq!(
            got,
            [
                Path::new("/nix/.ro-store"),
                Path::new("/nix/store"),
                Path::new("/nix/store/x-data")
            ]
        );
        assert!(standing_on(&table, &[]).is_empty());
        assert!(is_share("9p") && is_share("fuse.sshfs") && !is_share("overlay"));
    }

    /// A child that ends in time gives its code; one that does not is
    /// reported as not ended once the bound has passed (then killed here).
    #[test]
    fn bounded_gives_the_code_or_none_after_the_limit() {
        assert_eq!(bounded(Duration::from_secs(10), &|| 7), Some(7));
        let slow = crate::sys::fork_run(&|| {
            std::thread::sleep(Duration::from_secs(30));
            0
        })
        .unwrap();
        let start = Instant::now();
        let ended = exited_by(slow, start + Duration::from_millis(200));
        let took = start.elapsed();
        nix::sys::signal::kill(slow, nix::sys::signal::Signal::SIGKILL).unwrap();
        waitpid(slow, None).unwrap();
        assert_eq!(ended, None);
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
