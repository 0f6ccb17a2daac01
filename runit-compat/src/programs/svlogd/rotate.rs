//! Rotation of one log directory and its `!processor`: `current` becomes
//! `@<tai64n>.s` (`.u` for the processor, whose output `.t` becomes the
//! `.s`), old files beyond `n` go, one processor runs at a time.
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, WaitStatus};

use super::logdir::{cname, kind, new_name, retry, scan_old, show, LogDir};
use super::report::{info, warn};

impl LogDir {
    /// runit's rotate(): wait for a running processor, then (if `current`
    /// is not empty) close it complete, rename it, open a new one, remove
    /// the oldest file beyond `n` and start the processor.
    pub fn rotate(&mut self) {
        let Some(fd) = self.fd.as_ref().and_then(|f| f.try_clone().ok()) else {
            self.deadline = None;
            return;
        };
        while self.ppid.is_some() {
            self.wait_processor();
        }
        self.fnsave = new_name(
            &fd,
            if self.cfg.processor.is_empty() {
                b's'
            } else {
                b'u'
            },
        );
        let now = Instant::now();
        if self.cfg.tmax > 0 && self.deadline.is_some_and(|d| d <= now) {
            self.deadline = Some(now + Duration::from_secs(self.cfg.tmax));
        }
        self.flush();
        if self.size == 0 {
            return;
        }
        self.finish_current();
        let name = self.name.clone();
        if self.verbose {
            let f = show(&self.fnsave);
            info(
                "rename: ",
                &name,
                &["/current ", f, " ", &self.size.to_string()].concat(),
            );
        }
        retry("unable to rename current", &name, || {
            rfs::renameat(&fd, c"current", &fd, cname(&self.fnsave))
        });
        self.open_current();
        self.size = 0;
        self.remove_oldest();
        self.start_processor();
    }

    /// runit's rmoldest: `.t` leftovers go; past `n` files the oldest goes.
    pub fn remove_oldest(&mut self) {
        let Some(fd) = &self.fd else { return };
        let (n, oldest) = scan_old(fd, &self.path, &self.name, Some(&self.fnsave));
        if self.cfg.nmax > 0 && n > self.cfg.nmax {
            if let Some(old) = oldest {
                if self.verbose {
                    info("delete: ", &self.name, &["/", show(&old)].concat());
                }
                if let Err(e) = rfs::unlinkat(fd, cname(&old), AtFlags::empty()) {
                    warn("unable to unlink oldest logfile", &self.name, Some(e));
                }
            }
        }
    }

    /// `/bin/sh -c PROCESSOR` in the directory: stdin the `.u` file,
    /// stdout the `.t` file, fd 4 `state` (created empty when missing),
    /// fd 5 a fresh `newstate`.
    pub fn start_processor(&mut self) {
        if self.cfg.processor.is_empty() {
            return;
        }
        if self.ppid.is_some() {
            warn("processor already running", &self.name, None);
            return;
        }
        let Some(fd) = self.fd.as_ref().and_then(|f| f.try_clone().ok()) else {
            return;
        };
        let name = self.name.clone();
        if self.verbose {
            info("processing: ", &name, &["/", show(&self.fnsave)].concat());
        }
        let ro = OFlags::RDONLY | OFlags::CLOEXEC;
        let trunc = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
        let open = |what: &str, f: &CStr, flags: OFlags| {
            // Above 9, so no fd is another's target (0, 1, 4, 5).
            retry(what, &name, || {
                rfs::openat(&fd, f, flags, Mode::from_raw_mode(0o644))
                    .and_then(|o| rustix::io::fcntl_dupfd_cloexec(&o, 10))
            })
        };
        let t = kind(&self.fnsave, b't');
        let input = open(
            "unable to open input for processor",
            cname(&self.fnsave),
            ro,
        );
        let output = open("unable to open output for processor", cname(&t), trunc);
        // A missing `state` is created empty.
        let state = open(
            "unable to open state for processor",
            c"state",
            ro | OFlags::CREATE,
        );
        let newstate = open("unable to open newstate for processor", c"newstate", trunc);
        let fds: [(&OwnedFd, i32); 4] = [(&input, 0), (&output, 1), (&state, 4), (&newstate, 5)];
        let fds = fds.map(|(f, to)| (f.as_raw_fd(), to));
        loop {
            let r = crate::sys::Exec::shell(&self.cfg.processor, &self.path)
                .and_then(|e| crate::sys::spawn_fds(&e, &fds));
            match r {
                Ok(pid) => {
                    self.ppid = Pid::from_raw(pid as i32);
                    return;
                }
                Err(e) => super::report::pause(
                    "unable to fork for processor",
                    &name,
                    Errno::from_io_error(&e),
                ),
            }
        }
    }

    /// Wait for the running processor and finish its work.
    pub fn wait_processor(&mut self) {
        let Some(pid) = self.ppid else { return };
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, st))) => self.processor_done(st),
            Ok(None) => {}
            Err(Errno::CHILD) => self.ppid = None,
            Err(e) => super::report::pause("error waiting for processor", &self.name, Some(e)),
        }
    }

    /// runit's processorstop after the processor exited with `st`: on
    /// success `.t` becomes `.s` (0744), `.u` goes, `newstate` becomes
    /// `state`; on failure `.t` goes and the processor runs again.
    pub fn processor_done(&mut self, st: WaitStatus) {
        self.ppid = None;
        let Some(fd) = self.fd.as_ref().and_then(|f| f.try_clone().ok()) else {
            return;
        };
        let name = self.name.clone();
        let t = kind(&self.fnsave, b't');
        if st.exit_status() != Some(0) {
            warn("processor failed, restart", &name, None);
            let _ = rfs::unlinkat(&fd, cname(&t), AtFlags::empty());
            self.start_processor();
            return;
        }
        let s = kind(&t, b's');
        retry("unable to rename processed", &name, || {
            rfs::renameat(&fd, cname(&t), &fd, cname(&s))
        });
        retry("unable to set mode of processed", &name, || {
            rfs::chmodat(&fd, cname(&s), Mode::from_raw_mode(0o744), AtFlags::empty())
        });
        if rfs::unlinkat(&fd, cname(&self.fnsave), AtFlags::empty()).is_err() {
            super::report::say(&[
                "svlogd: warning: unable to unlink: ",
                &name,
                "/",
                show(&self.fnsave),
            ]);
        }
        retry("unable to rename state", &name, || {
            rfs::renameat(&fd, c"newstate", &fd, c"state")
        });
        if self.verbose {
            info("processed: ", &name, &["/", show(&s)].concat());
        }
    }
}
