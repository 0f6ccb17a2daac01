//! The `supervise/` directory exactly as runsv keeps it: the directory
//! (0700, or the target of a dangling symlink), the `lock`, the `control`
//! and `ok` FIFOs held open, and atomic `status`/`stat`/`pid` updates.
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation, Mode, OFlags};

use crate::status::Status;

/// An error with the runsv-style message (`unable to lock supervise/lock`)
/// and the OS error.
#[derive(Debug)]
pub struct SuperviseError {
    pub what: String,
    pub err: io::Error,
}

impl std::fmt::Display for SuperviseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.what,
            crate::errstr::io_error_str(&self.err)
        )
    }
}

impl std::error::Error for SuperviseError {}

fn fail(what: impl Into<String>) -> impl FnOnce(io::Error) -> SuperviseError {
    let what = what.into();
    move |err| SuperviseError { what, err }
}

/// The open `supervise/` of one service (or of its `log/`).
#[derive(Debug)]
pub struct Supervise {
    dir: PathBuf,
    lock: File,
    /// Read end of `control` (non-blocking).
    pub control: OwnedFd,
    control_write: OwnedFd,
    /// Read end of `ok`, opened only after the first `status` is written:
    /// `sv` takes an openable `ok` to mean "supervisor running, status
    /// readable", so it must never see one without the other.
    ok: Option<OwnedFd>,
    ok_path: PathBuf,
    prefix: String,
    /// The pid last written to `pid` (`None` before the first write).
    last_pid: Option<u32>,
    pid_written: bool,
}

/// `mkdir supervise 0700`; if that fails and `supervise` is a symlink,
/// create its target (relative to the service directory), as runsv does.
fn make_dir(service: &Path) -> PathBuf {
    let dir = service.join("supervise");
    let mut b = DirBuilder::new();
    b.mode(0o700);
    if b.create(&dir).is_err() {
        if let Ok(target) = fs::read_link(&dir) {
            if let Err(e) = b.create(service.join(&target)) {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    log::warn!(
                        "{}: unable to create {}: {e}",
                        service.display(),
                        target.display()
                    );
                }
            }
        }
    }
    dir
}

fn fifo(path: &Path, name: &str) -> Result<(), SuperviseError> {
    match rustix::fs::mkfifoat(rustix::fs::CWD, path, Mode::from_raw_mode(0o600)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(fail(format!("unable to create {name}"))(e.into())),
    }
    let md = fs::metadata(path).map_err(fail(format!("unable to stat {name}")))?;
    if !md.file_type().is_fifo() {
        return Err(SuperviseError {
            what: format!("{name} exists but is not a fifo"),
            err: io::Error::from_raw_os_error(nix::errno::Errno::EINVAL as i32),
        });
    }
    Ok(())
}

fn open_fd(path: &Path, flags: OFlags, name: &str) -> Result<OwnedFd, SuperviseError> {
    rustix::fs::open(
        path,
        flags | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(format!("unable to open {name}"))(e.into()))
}

impl Supervise {
    /// Open (creating as needed) `<service>/supervise`. `prefix` is how
    /// messages name it (`""` or `"log/"`).
    pub fn open(service: &Path, prefix: &str) -> Result<Supervise, SuperviseError> {
        Supervise::open_kept(service, prefix, None)
    }

    /// [`Supervise::open`], or after a re-exec with what this process
    /// held before: the locked `lock` (never free, not even during the
    /// exec), `control`'s two ends and `ok` (no byte and no `sv` turned
    /// away); `ready` stays.
    pub fn open_kept(
        service: &Path,
        prefix: &str,
        kept: Option<(OwnedFd, OwnedFd, OwnedFd, Option<OwnedFd>)>,
    ) -> Result<Supervise, SuperviseError> {
        let (dir, lock, control, control_write, ok) = if let Some((l, c, w, ok)) = kept {
            (service.join("supervise"), File::from(l), c, w, ok)
        } else {
            let dir = make_dir(service);
            let lock = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc_o_nonblock())
                .open(dir.join("lock"))
                .map_err(fail(format!("unable to open {prefix}supervise/lock")))?;
            flock(&lock, FlockOperation::NonBlockingLockExclusive)
                .map_err(|e| fail(format!("unable to lock {prefix}supervise/lock"))(e.into()))?;
            let ctl = dir.join("control");
            let name = format!("{prefix}supervise/control");
            fifo(&ctl, &name)?;
            let control = open_fd(&ctl, OFlags::RDONLY, &name)?;
            let control_write = open_fd(&ctl, OFlags::WRONLY, &name)?;
            fifo(&dir.join("ok"), &format!("{prefix}supervise/ok"))?;
            // A new supervisor has seen no process get ready. Nothing
            // to report when this fails: the lock and FIFOs were just
            // made here, and sv checks a record's pid anyway.
            let _ = fs::remove_file(dir.join("ready"));
            (dir, lock, control, control_write, None)
        };
        Ok(Supervise {
            ok_path: dir.join("ok"),
            dir,
            lock,
            control,
            control_write,
            ok,
            prefix: prefix.to_owned(),
            last_pid: None,
            pid_written: false,
        })
    }

    /// Write `pid` (when it changed), `stat` and `status`, each to `*.new`
    /// then renamed, in runsv's order.
    pub fn write(&mut self, status: &Status, stat: &str) -> io::Result<()> {
        let pid = (status.pid != 0).then_some(status.pid);
        if !self.pid_written || self.last_pid != pid {
            let text = pid.map(|p| format!("{p}\n")).unwrap_or_default();
            replace(&self.dir, "pid", text.as_bytes())?;
            self.last_pid = pid;
            self.pid_written = true;
        }
        replace(&self.dir, "stat", stat.as_bytes())?;
        replace(&self.dir, "status", &status.encode())?;
        if self.ok.is_none() {
            let name = format!("{}supervise/ok", self.prefix);
            let fd = open_fd(&self.ok_path, OFlags::RDONLY, &name)
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.ok = Some(fd);
        }
        Ok(())
    }

    /// Write `supervise/ready` (to `ready.new`, then renamed, as `status`),
    /// or remove it; a failure is logged (the directory names the service).
    pub fn write_ready(&self, record: Option<[u8; 16]>) {
        let r = match record {
            Some(r) => replace(&self.dir, "ready", &r),
            None => match fs::remove_file(self.dir.join("ready")) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        };
        if let Err(e) = r {
            log::warn!("runsv: unable to write {}/ready: {e}", self.dir.display());
        }
    }

    /// The descriptors a re-exec keeps: `lock`, `control`'s two ends and
    /// `ok` (-1 before the first status).
    pub fn kept_fds(&self) -> [i32; 4] {
        use std::os::fd::AsRawFd;
        [
            self.lock.as_raw_fd(),
            self.control.as_raw_fd(),
            self.control_write.as_raw_fd(),
            self.ok.as_ref().map_or(-1, AsRawFd::as_raw_fd),
        ]
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn libc_o_nonblock() -> i32 {
    OFlags::NONBLOCK.bits() as i32
}

fn replace(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let new = dir.join(format!("{name}.new"));
    fs::write(&new, data)?;
    fs::rename(&new, dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::UNIX_EPOCH;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rc-sup-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn creates_files_and_locks() {
        let d = tmp("basic");
        let mut s = Supervise::open(&d, "").unwrap();
        let sup = d.join("supervise");
        assert_eq!(
            fs::metadata(&sup).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for f in ["control", "ok"] {
            let md = fs::metadata(sup.join(f)).unwrap();
            assert!(md.file_type().is_fifo());
            assert_eq!(md.permissions().mode() & 0o777, 0o600);
        }
        let st = Status {
            stamp: UNIX_EPOCH,
            pid: 77,
            paused: false,
            want: b'u',
            got_term: false,
            state: 1,
        };
        s.write(&st, "run\n").unwrap();
        assert_eq!(fs::read(sup.join("status")).unwrap(), st.encode());
        assert_eq!(fs::read_to_string(sup.join("stat")).unwrap(), "run\n");
        assert_eq!(fs::read_to_string(sup.join("pid")).unwrap(), "77\n");
        assert!(!sup.join("status.new").exists());
        s.write_ready(Some([7; 16]));
        assert_eq!(fs::read(sup.join("ready")).unwrap(), [7; 16]);
        assert!(!sup.join("ready.new").exists());
        s.write_ready(None);
        s.write_ready(None);
        assert!(!sup.join("ready").exists());
        // A stale record goes when the next supervisor opens the directory.
        s.write_ready(Some([7; 16]));
        // A second supervisor fails clearly.
        let e = Supervise::open(&d, "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to lock supervise/lock: temporary failure"
        );
        drop(s);
        Supervise::open(&d, "").unwrap();
        assert!(!sup.join("ready").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dangling_symlink_target_is_created() {
        let d = tmp("link");
        let target = format!("../rc-sup-{}-target", std::process::id());
        std::os::unix::fs::symlink(&target, d.join("supervise")).unwrap();
        let _ = fs::remove_dir_all(d.join(&target));
        let s = Supervise::open(&d, "").unwrap();
        assert!(d.join(&target).join("control").exists());
        drop(s);
        fs::remove_dir_all(d.join(&target)).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }
}
