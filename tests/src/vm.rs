//! The QEMU harness for VM tests.
//!
//! [`Vm::boot`] starts `dist/runvm` (the same script `make run` uses, so the
//! accelerator decision and the machine have one source of truth) with
//! `QEMU_OPTS` that move its devices off stdio:
//!
//! - the serial console goes to a socket; a thread copies it into the
//!   console log file and into memory, and wakes [`Vm::wait_for_console`];
//!   [`Vm::send_console`] types on it;
//! - the human monitor goes to a socket ([`Vm::monitor`]);
//! - a virtio console (`/dev/hvc0` in the guest) goes to a socket: the demo
//!   system's `test-backdoor` service serves commands on it ([`Vm::run`]).
//!
//! The harness listens on all three sockets before QEMU starts and QEMU
//! connects to them as a client, so there is no start-up race. Every wait
//! has a deadline, and dropping the [`Vm`] kills QEMU and removes its files.
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

use crate::bin::workspace_root;

/// The files `make dist` writes, all of which a boot needs.
pub const DIST_FILES: [&str; 5] = ["kernel", "initrd", "root.squashfs", "command-line", "runvm"];

/// First line the backdoor prints once it serves commands.
const BACKDOOR_READY: &str = "\u{1}backdoor-ready";
/// Prefix of the line that ends a command's output: `\x01backdoor-exit N`.
const BACKDOOR_EXIT: &str = "\u{1}backdoor-exit ";
/// The QEMU human monitor's prompt.
const MONITOR_PROMPT: &str = "(qemu) ";
/// How many console lines a timeout error shows.
const TAIL_LINES: usize = 40;

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Appended to `dist/command-line` (runvm's `QEMU_KERNEL_PARAMS`).
    pub kernel_params: Vec<String>,
    /// Extra QEMU arguments, after the harness's own.
    pub qemu_args: Vec<String>,
    /// Extra disk images, attached read-write as virtio disks after the store
    /// image (so the first one is `/dev/vdb`).
    pub drives: Vec<PathBuf>,
    /// Where `kernel`, `initrd`, `root.squashfs`, `command-line` and `runvm`
    /// are: `$DIST`, else `<workspace>/dist`.
    pub dist: PathBuf,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Where to keep the console output; `None`: in the VM's temporary
    /// directory, removed with it.
    pub console_log: Option<PathBuf>,
    /// runvm's `QEMU_NIC` (the `-nic` option), e.g. with a `guestfwd=` to a
    /// server on 127.0.0.1; `None`: runvm's default NIC.
    pub nic: Option<String>,
    /// Boot with no store disk (runvm's `QEMU_NO_STORE=1`), e.g. to hot-add
    /// one later through [`Vm::monitor`]; `drives` then start at `/dev/vda`.
    pub no_store: bool,
    /// More of runvm's environment, e.g. `RUNVM_STORE`, `NIX_DISK_IMAGE`,
    /// `SHARED_DIR` (runvm's header lists them).
    pub env: Vec<(String, String)>,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            kernel_params: Vec::new(),
            qemu_args: Vec::new(),
            drives: Vec::new(),
            dist: default_dist(),
            memory_mib: 512,
            console_log: None,
            nic: None,
            no_store: false,
            env: Vec::new(),
        }
    }
}

/// `$DIST`, else `<workspace>/dist`, whose files that hold `init` (itself,
/// the initrd, the store image) must not be older than the sources
/// ([`crate::bin::assert_fresh`]): a boot of a stale build tests nothing.
pub fn default_dist() -> PathBuf {
    if let Some(d) = std::env::var_os("DIST") {
        return PathBuf::from(d);
    }
    let dist = workspace_root().join("dist");
    for f in ["init", "initrd", "root.squashfs"] {
        let p = dist.join(f);
        if p.exists() {
            crate::bin::assert_fresh(&p);
        }
    }
    dist
}

/// Why VM tests cannot run here (QEMU or a `dist/` file is missing), or
/// `None` when they can.
pub fn unavailable(dist: &Path) -> Option<String> {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| d.join("qemu-system-x86_64").is_file())
    });
    if !on_path {
        return Some("qemu-system-x86_64 is not on PATH (make deps installs it)".into());
    }
    let missing: Vec<_> = DIST_FILES
        .iter()
        .filter(|f| !dist.join(f).exists())
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "{} lacks {missing:?} (run `make dist`, or set DIST)",
            dist.display()
        ));
    }
    None
}

/// For a test that needs a VM: `true` when it can run; otherwise
/// [`crate::require`] skips it loudly, or fails it under CI and `make test`.
pub fn can_boot(dist: &Path, test: &str) -> bool {
    let why = unavailable(dist);
    crate::require(test, why.as_deref().unwrap_or_default(), why.is_none())
}

/// The accelerator for this process's boots: `$QEMU_ACCEL`, else what
/// `runvm --probe` says (asked once per process; nothing is kept across runs).
fn accel(dist: &Path) -> Result<String> {
    static ACCEL: OnceLock<String> = OnceLock::new();
    if let Some(a) = ACCEL.get() {
        return Ok(a.clone());
    }
    let a = match std::env::var("QEMU_ACCEL") {
        Ok(a) if !a.is_empty() => a,
        _ => {
            let runvm = dist.join("runvm");
            let out = Command::new(&runvm)
                .arg("--probe")
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("running {} --probe", runvm.display()))?;
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }
    };
    Ok(ACCEL.get_or_init(|| a).clone())
}

/// The console as received so far.
#[derive(Default)]
struct Console {
    text: String,
    /// QEMU closed the serial socket (it exited).
    closed: bool,
}

/// What the console thread and the test share.
#[derive(Default)]
struct Shared {
    console: Mutex<Console>,
    changed: Condvar,
}

/// A running QEMU. Dropping it kills QEMU and removes its temporary files.
pub struct Vm {
    child: Child,
    pidfd: OwnedFd,
    exit: Option<ExitStatus>,
    tmp: PathBuf,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    /// The serial socket's write side ([`Vm::send_console`]).
    serial: UnixStream,
    monitor: UnixStream,
    monitor_greeted: bool,
    backdoor: BufReader<UnixStream>,
    backdoor_ready: bool,
}

impl Vm {
    /// Start QEMU; returns once QEMU has connected to the harness's sockets
    /// (the guest is then booting).
    pub fn boot(config: &VmConfig) -> Result<Vm> {
        let tmp = make_temp_dir()?;
        let vm = Self::boot_in(config, &tmp);
        if vm.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        vm
    }

    fn boot_in(config: &VmConfig, tmp: &Path) -> Result<Vm> {
        let sock = |name: &str| -> Result<(PathBuf, UnixListener)> {
            let path = tmp.join(name);
            let l =
                UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
            Ok((path, l))
        };
        let (serial_path, serial_l) = sock("serial.sock")?;
        let (monitor_path, monitor_l) = sock("monitor.sock")?;
        let (backdoor_path, backdoor_l) = sock("backdoor.sock")?;

        // runvm word-splits QEMU_OPTS: no argument may contain white space.
        let mut opts: Vec<String> = vec![
            "-chardev".into(),
            format!("socket,id=con0,path={}", serial_path.display()),
            "-serial".into(),
            "chardev:con0".into(),
            "-chardev".into(),
            format!("socket,id=mon0,path={}", monitor_path.display()),
            "-monitor".into(),
            "chardev:mon0".into(),
            "-device".into(),
            "virtio-serial-pci".into(),
            "-chardev".into(),
            format!("socket,id=bd0,path={}", backdoor_path.display()),
            "-device".into(),
            "virtconsole,chardev=bd0,name=test.backdoor".into(),
            "-m".into(),
            config.memory_mib.to_string(),
        ];
        for d in &config.drives {
            opts.push("-drive".into());
            opts.push(format!("file={},format=raw,if=virtio", d.display()));
        }
        opts.extend(config.qemu_args.iter().cloned());
        if let Some(bad) = opts.iter().find(|a| a.chars().any(char::is_whitespace)) {
            bail!("QEMU argument {bad:?} contains white space (runvm word-splits QEMU_OPTS)");
        }

        let log_path = config
            .console_log
            .clone()
            .unwrap_or_else(|| tmp.join("console.log"));
        if let Some(dir) = log_path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let log = File::create(&log_path)
            .with_context(|| format!("creating console log {}", log_path.display()))?;

        let runvm = config.dist.join("runvm");
        let mut cmd = Command::new(&runvm);
        cmd.env("QEMU_OPTS", opts.join(" "))
            .env("QEMU_KERNEL_PARAMS", config.kernel_params.join(" "))
            .env("QEMU_ACCEL", accel(&config.dist)?)
            .env(
                "QEMU_NIC",
                config.nic.as_deref().unwrap_or("user,model=virtio-net-pci"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(tmp.join("qemu.stderr"))?);
        if config.no_store {
            cmd.env("QEMU_NO_STORE", "1");
        }
        // runvm sizes virtiofs's shared memory as the guest's.
        cmd.env("RUNVM_MEM", config.memory_mib.to_string())
            .envs(config.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", runvm.display()))?;
        let pidfd =
            pidfd_open(Pid::from_child(&child), PidfdFlags::empty()).context("pidfd_open(QEMU)")?;

        // QEMU connects to each socket while it sets up its chardevs, before
        // the machine runs; if it fails instead, its pidfd turns readable.
        let deadline = Instant::now() + Duration::from_secs(30);
        let accept = |l: &UnixListener, what: &str| -> Result<UnixStream> {
            wait_readable(&[l.as_fd(), pidfd.as_fd()], deadline)
                .with_context(|| format!("waiting for QEMU to connect the {what} socket"))?;
            if child_exited(&pidfd)? {
                bail!("QEMU exited before connecting its {what} socket");
            }
            Ok(l.accept()?.0)
        };
        let connected = (|| -> Result<_> {
            Ok((
                accept(&serial_l, "serial")?,
                accept(&monitor_l, "monitor")?,
                accept(&backdoor_l, "backdoor")?,
            ))
        })();
        let (serial, monitor, backdoor) = match connected {
            Ok(s) => s,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = fs::read_to_string(tmp.join("qemu.stderr")).unwrap_or_default();
                return Err(e.context(format!("QEMU's stderr:\n{stderr}")));
            }
        };

        let serial_writer = serial.try_clone().context("cloning the serial socket")?;
        let shared = Arc::new(Shared::default());
        let reader = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || copy_console(serial, log, &shared))
        };
        Ok(Vm {
            child,
            pidfd,
            exit: None,
            tmp: tmp.to_path_buf(),
            shared,
            reader: Some(reader),
            serial: serial_writer,
            monitor,
            monitor_greeted: false,
            backdoor: BufReader::new(backdoor),
            backdoor_ready: false,
        })
    }

    /// Wait until a console line contains `pattern`; return that line (the
    /// first one, searching from the start of the boot). On timeout, or if
    /// QEMU exits first, the error shows the last lines of the console.
    pub fn wait_for_console(&self, pattern: &str, timeout: Duration) -> Result<String> {
        self.wait_for_console_nth(pattern, 1, timeout)
    }

    /// Wait until `pattern` is on `n` console lines (e.g. `n = 2`: again in
    /// the boot after a kexec); return the `n`-th such line. Errors as
    /// [`Vm::wait_for_console`].
    pub fn wait_for_console_nth(
        &self,
        pattern: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut console = self.shared.console.lock().expect("console lock");
        loop {
            let nth = n.checked_sub(1).and_then(|skip| {
                console
                    .text
                    .lines()
                    .filter(|l| l.contains(pattern))
                    .nth(skip)
            });
            if let Some(line) = nth {
                return Ok(line.trim_end_matches('\r').to_owned());
            }
            let now = Instant::now();
            if console.closed || now >= deadline {
                let why = if console.closed {
                    "QEMU exited"
                } else {
                    "timed out"
                };
                // When QEMU itself gave up (a lock on a disk image, say),
                // only its stderr says why.
                let stderr = if console.closed {
                    let text = fs::read_to_string(self.tmp.join("qemu.stderr")).unwrap_or_default();
                    format!("\nQEMU's stderr:\n{}", tail(&text, TAIL_LINES))
                } else {
                    String::new()
                };
                bail!(
                    "{why} after waiting {timeout:?} for {pattern:?} (occurrence {n}) on the console; last lines:\n{}{stderr}",
                    tail(&console.text, TAIL_LINES)
                );
            }
            console = self
                .shared
                .changed
                .wait_timeout(console, deadline - now)
                .expect("console lock")
                .0;
        }
    }

    /// Everything the console printed so far.
    pub fn console(&self) -> String {
        self.shared
            .console
            .lock()
            .expect("console lock")
            .text
            .clone()
    }

    /// Run `cmd` with `sh -c` in the guest, through the test backdoor; wait
    /// up to 90 s for the backdoor and the command. Returns the command's
    /// output (stdout and stderr, without the final newline) and exit status.
    pub fn run(&mut self, cmd: &str) -> Result<(String, i32)> {
        self.run_timeout(cmd, Duration::from_secs(90))
    }

    /// [`Vm::run`] with a deadline of `timeout` for the backdoor to be ready
    /// and the command to finish.
    pub fn run_timeout(&mut self, cmd: &str, timeout: Duration) -> Result<(String, i32)> {
        if cmd.contains('\n') {
            bail!("backdoor commands are one line: {cmd:?}");
        }
        let deadline = Instant::now() + timeout;
        self.wait_backdoor_ready(deadline)?;
        writeln!(self.backdoor.get_mut(), "{cmd}").context("writing to the backdoor")?;
        let mut output = String::new();
        loop {
            let line = self
                .backdoor_line(deadline)
                .with_context(|| format!("running {cmd:?}; output so far: {output:?}"))?;
            if let Some(code) = line.trim_end().strip_prefix(BACKDOOR_EXIT) {
                let code = code
                    .parse()
                    .with_context(|| format!("bad exit line {line:?}"))?;
                // The guest ends the output with a newline of its own.
                if output.ends_with('\n') {
                    output.pop();
                }
                return Ok((output, code));
            }
            output.push_str(&line);
        }
    }

    /// Run `cmd` like [`Vm::run`] when it ends this boot (a kexec, a
    /// reboot): send it without waiting for its output or exit status,
    /// which the shutdown may cut short. The next [`Vm::run`] then waits
    /// for the next boot's backdoor — the same virtio console port, opened
    /// again by the new system — to say it is ready, skipping whatever this
    /// boot's backdoor still prints.
    pub fn run_ending_boot(&mut self, cmd: &str) -> Result<()> {
        if cmd.contains('\n') {
            bail!("backdoor commands are one line: {cmd:?}");
        }
        self.wait_backdoor_ready(Instant::now() + Duration::from_secs(90))?;
        writeln!(self.backdoor.get_mut(), "{cmd}").context("writing to the backdoor")?;
        self.backdoor_ready = false;
        Ok(())
    }

    /// Read the backdoor until it says it is ready (once per boot).
    fn wait_backdoor_ready(&mut self, deadline: Instant) -> Result<()> {
        if self.backdoor_ready {
            return Ok(());
        }
        loop {
            let line = self.backdoor_line(deadline).with_context(|| {
                format!(
                    "waiting for the test backdoor (service test-backdoor on /dev/hvc0); console:\n{}",
                    tail(&self.console(), TAIL_LINES)
                )
            })?;
            // After a kexec the old boot may have left half a line.
            if line.trim_end().ends_with(BACKDOOR_READY) {
                break;
            }
        }
        self.backdoor_ready = true;
        Ok(())
    }

    /// One line from the backdoor, by `deadline`.
    fn backdoor_line(&mut self, deadline: Instant) -> Result<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("timed out");
        }
        self.backdoor.get_ref().set_read_timeout(Some(left))?;
        let mut line = String::new();
        match self.backdoor.read_line(&mut line) {
            Ok(0) => bail!("the backdoor socket closed (QEMU exited?)"),
            Ok(_) => Ok(line),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                bail!("timed out")
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Type `text` on the serial console (the guest's `/dev/console`), e.g.
    /// `"r\n"` to answer the failure menu.
    pub fn send_console(&mut self, text: &str) -> Result<()> {
        self.serial
            .write_all(text.as_bytes())
            .context("writing to the serial console")
    }

    /// Send one command to the QEMU monitor (e.g. `sendkey ctrl-alt-delete`)
    /// and return its output.
    pub fn monitor(&mut self, cmd: &str) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        if !self.monitor_greeted {
            self.monitor_until_prompt(deadline)
                .context("waiting for the monitor's greeting")?;
            self.monitor_greeted = true;
        }
        writeln!(self.monitor, "{cmd}").context("writing to the monitor")?;
        let out = self
            .monitor_until_prompt(deadline)
            .with_context(|| format!("monitor command {cmd:?}"))?;
        // The monitor echoes the command line first.
        let out = out.replace('\r', "");
        let out = match out.split_once('\n') {
            Some((first, rest)) if first.contains(cmd) => rest.to_owned(),
            _ => out,
        };
        Ok(out)
    }

    /// Read the monitor until its prompt; return what came before it.
    fn monitor_until_prompt(&mut self, deadline: Instant) -> Result<String> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("timed out; got {:?}", String::from_utf8_lossy(&got));
            }
            self.monitor.set_read_timeout(Some(left))?;
            let n = match self.monitor.read(&mut buf) {
                Ok(0) => bail!(
                    "the monitor socket closed; got {:?}",
                    String::from_utf8_lossy(&got)
                ),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(before) = text.strip_suffix(MONITOR_PROMPT) {
                return Ok(before.to_owned());
            }
        }
    }

    /// Wait for QEMU to exit by itself (e.g. the guest powered off; runvm
    /// passes `-no-reboot`, so a reboot ends QEMU too).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        let deadline = Instant::now() + timeout;
        wait_readable(&[self.pidfd.as_fd()], deadline).with_context(|| {
            format!(
                "QEMU still runs after {timeout:?}; last console lines:\n{}",
                tail(&self.console(), TAIL_LINES)
            )
        })?;
        let status = self.child.wait().context("waiting for QEMU")?;
        self.exit = Some(status);
        Ok(status)
    }

    /// The temporary directory of this VM (sockets, QEMU's stderr).
    pub fn dir(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // QEMU is gone, so the serial socket is closed and the thread ends.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let _ = fs::remove_dir_all(&self.tmp);
    }
}

/// Copy the serial console into the log file and into `shared` until QEMU
/// closes the socket; wake waiters after each read.
fn copy_console(mut serial: UnixStream, mut log: File, shared: &Shared) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match serial.read(&mut buf) {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let mut console = shared.console.lock().expect("console lock");
        if n == 0 {
            console.closed = true;
            shared.changed.notify_all();
            return;
        }
        let _ = log.write_all(&buf[..n]);
        console.text.push_str(&String::from_utf8_lossy(&buf[..n]));
        shared.changed.notify_all();
    }
}

/// Block until one of `fds` is readable, or fail at `deadline`.
fn wait_readable(fds: &[std::os::fd::BorrowedFd<'_>], deadline: Instant) -> Result<()> {
    let mut pfds: Vec<_> = fds
        .iter()
        .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN))
        .collect();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("timed out");
        }
        let ts = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        match poll(&mut pfds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(anyhow!(e).context("poll")),
        }
    }
}

/// Whether the process behind `pidfd` has exited (its pidfd is readable).
fn child_exited(pidfd: &OwnedFd) -> Result<bool> {
    let mut pfd = [PollFd::new(pidfd, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    Ok(poll(&mut pfd, Some(&zero)).context("poll(pidfd)")? > 0)
}

/// A fresh directory under the system's temporary directory.
fn make_temp_dir() -> Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = OsString::from("init-vm-");
        name.push(format!("{}-{n}", std::process::id()));
        let dir = base.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
}

/// The last `n` lines of `text`, one per line, `\r` removed.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<_> = text.lines().collect();
    let mut out = String::new();
    for l in &lines[lines.len().saturating_sub(n)..] {
        let _ = writeln!(out, "    | {}", l.trim_end_matches('\r'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines_without_cr() {
        let text = "a\r\nb\r\nc\r\nd";
        assert_eq!(tail(text, 2), "    | c\n    | d\n");
        assert_eq!(tail(text, 10).lines().count(), 4);
    }

    #[test]
    fn unavailable_names_missing_dist_files() {
        let dir = make_temp_dir().unwrap();
        fs::write(dir.join("kernel"), "").unwrap();
        let why = unavailable(&dir);
        fs::remove_dir_all(&dir).unwrap();
        // Either QEMU is missing or the dist files are; both must be said.
        let why = why.expect("an empty dist cannot boot");
        assert!(why.contains("qemu") || why.contains("initrd"), "{why}");
    }
}
