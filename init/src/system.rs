//! The running system, as PID 1 (stage-2): system setup from the
//! toplevel, runit's stage 1, supervision (built-in, or `/etc/runit/2`)
//! with PID 1's side of the event loop, runit's stage 3 and the shutdown.
//! Never returns. Named for what it runs — the system — rather than
//! `stage2`, which is the library crate it calls for the setup.
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use runit_compat::{Exec, Fd, Flow, Host, Options, Session, Supervisor};
use stage1::cmdline::{BootParams, Stage};
use stage2::mountinfo::MountEntry;

use crate::action::{action_for, Action};
use crate::devices::Devices;
use crate::process::{phase, wait_for_with, Ended, SIGNALS};
use crate::times::{BootTimes, BOOT_TIMES};
use crate::{kexec, shares, shutdown};

pub const SERVICE_DIR: &str = "/etc/service";
/// The actions as a re-exec's handover numbers them ([`Pid1Host::word`]).
const ACTIONS: [Action; 3] = [Action::PowerOff, Action::Reboot, Action::Halt];
/// How long services get to stop (TERM, finish scripts) before KILL,
/// unless `boot.stop_timeout=` says otherwise.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(7);

pub fn run(params: &BootParams, toplevel: Option<&Path>, times: BootTimes) -> ! {
    serve(params, toplevel, times, false)
}

/// After a re-exec (`init reexec`, or a panic while supervising): no
/// setup again, straight back to the services handed over.
pub fn resume(params: &BootParams) -> ! {
    serve(
        params,
        params.toplevel.as_deref(),
        BootTimes::default(),
        true,
    )
}

/// The system's setup (unless `resumed`), then supervision until the
/// shutdown: one body for both, so the devices' start is inlined once.
fn serve(params: &BootParams, toplevel: Option<&Path>, mut times: BootTimes, resumed: bool) -> ! {
    if !resumed {
        setup(toplevel);
    }
    // Drivers for what stage-1 left without one, and for what comes later;
    // loading runs beside /etc/runit/1 (devices.rs).
    let mut devices = Devices::start(params, toplevel);
    let path_env = path_for(toplevel);
    let stage1_then = "skipping runit stage 1, going on to supervision";
    // The loader reaped during /etc/runit/1 must reach `devices`, or it
    // would wait for that loader forever and load nothing more.
    let mut loader_ended = |pid, status| {
        devices.reaped(pid, status);
    };
    let runit1 = resumed || {
        times.mark("stage2");
        run_stage_script("/etc/runit/1", &path_env, stage1_then, &mut loader_ended)
    };
    let (action, handover, gone) = if runit1 {
        // Stage 3 runs inside the loop, while services are supervised.
        supervise(params, &path_env, &mut times, devices)
    } else {
        phase("stage-2: /etc/runit/1 asked for stage 3 (exit 100) or crashed");
        let gone = shares::gone();
        if gone.is_empty() && Path::new(STAGE3).exists() {
            phase("shutdown: running /etc/runit/3");
            run_stage_script(STAGE3, &path_env, STAGE3_THEN, &mut |_, _| {});
        }
        (Action::PowerOff, false, gone)
    };
    shutdown::finish(action, handover, &gone)
}

/// Stage-2's setup from the toplevel and kexec's handover.
fn setup(toplevel: Option<&Path>) {
    phase("stage-2: setting up the system");
    if let Some(t) = toplevel {
        // Each failed step is logged by stage2 itself; the boot goes on.
        let failed = stage2::system::stage2_setup(t);
        if !failed.is_empty() {
            log::warn!("stage-2: {} setup step(s) failed; continuing", failed.len());
        }
    } else {
        log::warn!("stage-2: no toplevel: /etc is not set up");
        if let Err(e) = stage2::mounts::base_mounts() {
            log::error!("stage-2: base mounts: {e:#}");
        }
    }
    // What `init kexec --carry-ssh-keys` handed over, before any service.
    if let Err(e) = stage2::handover::install(Path::new("/run"), Path::new("/")) {
        log::warn!("stage-2: installing the handover of /run/init/handover: {e:#}");
    }
}

const STAGE3: &str = "/etc/runit/3";
const STAGE3_THEN: &str = "skipping runit stage 3";

/// PATH for every child: the system's profile first.
fn path_for(toplevel: Option<&Path>) -> String {
    let system = "/run/current-system/sw/bin:/bin:/sbin:/usr/bin:/usr/sbin";
    match toplevel {
        Some(t) => format!("{}/sw/bin:{system}", t.display()),
        None => system.to_owned(),
    }
}

/// Start a runit script (`/etc/runit/1`, `2`, `3`, `ctrlaltdel`) as runit
/// does: in `/`, in a session of its own, with the console as stdio and only
/// PATH in its environment. `None` (logged) when it cannot be started.
fn spawn_script(path: &str, path_env: &str) -> Option<Pid> {
    let env = [("PATH", OsStr::new(path_env))];
    let inherit = [Fd::Inherit; 3];
    match Exec::new(
        Path::new(path),
        &[OsStr::new(path)],
        Some(&env),
        Some(Path::new("/")),
    )
    .and_then(|exec| runit_compat::spawn(&exec, inherit, Session::New, true))
    {
        Ok(pid) => Some(Pid::from_raw(pid as i32)),
        Err(e) => {
            log::error!("cannot run {path}: {e}");
            None
        }
    }
}

/// Why the runit stage script `path` cannot be started, as one warning
/// line: it does not exist, or it is not executable; `then` says what the
/// boot does instead. `None` when it can be started.
fn unusable_stage_script(path: &str, then: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let in_toplevel = path.trim_start_matches('/');
    let Ok(meta) = std::fs::metadata(path) else {
        return Some(format!(
            "{path} does not exist: {then} (for one-time tasks at boot, add an executable {in_toplevel} to the toplevel)"
        ));
    };
    if rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok() {
        return None;
    }
    Some(format!(
        "{path} is not executable (mode {:04o}): {then} (make {in_toplevel} executable in the toplevel, chmod +x)",
        meta.permissions().mode() & 0o7777
    ))
}

/// Run a runit stage script on the console and wait for it. Returns false
/// when runit would skip to stage 3: exit 100, or killed by a signal. A
/// script that is missing or not executable is skipped with a warning, as
/// runit warns and goes on to the next stage when it cannot start one.
fn run_stage_script(
    path: &str,
    path_env: &str,
    then: &str,
    others: &mut dyn FnMut(Pid, WaitStatus),
) -> bool {
    if let Some(why) = unusable_stage_script(path, then) {
        log::warn!("{why}");
        return true;
    }
    phase(&format!("stage-2: running {path}"));
    let Some(pid) = spawn_script(path, path_env) else {
        return true;
    };
    match wait_for_with(pid, others) {
        Some(WaitStatus::Exited(_, 100)) => false,
        Some(WaitStatus::Exited(_, 0)) | None => true,
        Some(WaitStatus::Exited(_, code)) => {
            log::warn!("{path} exited with status {code}; continuing");
            true
        }
        Some(WaitStatus::Signaled(_, sig, _)) => {
            // runit treats a crashed stage 1 like exit 100; say so here, as
            // the caller's line speaks of exit 100.
            log::error!("{path} was killed by {sig}: going to stage 3, as runit does");
            false
        }
        Some(other) => {
            log::warn!("{path}: {}", Ended(other));
            true
        }
    }
}

/// Supervise until the shutdown is done with the services: the action,
/// whether it ends in a loaded kernel (asked when it began), and the
/// host's shares that gave no answer then.
fn supervise(
    params: &BootParams,
    path_env: &str,
    times: &mut BootTimes,
    devices: Devices,
) -> (Action, bool, Vec<MountEntry>) {
    let runit2 = PathBuf::from("/etc/runit/2");
    let own_supervisor = !runit2.exists();
    let svdir = own_supervisor.then(|| Path::new(SERVICE_DIR));
    let opts = Options {
        path_env: path_env.into(),
    };
    if own_supervisor {
        phase(&format!("stage-2: supervising {SERVICE_DIR}"));
    }
    let resumed = Supervisor::resume(svdir, opts.clone());
    let word = resumed.as_ref().map(|r| r.as_ref().map_or(0, |(_, w)| *w));
    let sup = resumed.unwrap_or_else(|| Supervisor::new(svdir, opts.clone()).map(|s| (s, 0)));
    let mut sup = match sup {
        Ok((s, _)) => s,
        Err(e) => {
            log::error!("cannot supervise {SERVICE_DIR}: {e:#}; services will not run");
            match Supervisor::new(None, opts) {
                Ok(s) => s,
                Err(e) => {
                    log::error!("cannot start the event loop: {e:#}; powering off");
                    return (Action::PowerOff, false, Vec::new());
                }
            }
        }
    };
    let mut host = Pid1Host {
        path_env: path_env.to_owned(),
        runit2: None,
        runit2_restart_at: None,
        ctrlaltdel: None,
        stage3: None,
        pending: None,
        handover: false,
        gone: Vec::new(),
        action: None,
        deadline: None,
        killed: false,
        stop_timeout: params.stop_timeout.unwrap_or(STOP_TIMEOUT),
        devices,
        ready_marked: false,
        debug_panic: params.debug_panic == Some(Stage::Supervise) && word.is_none(),
    };
    host.devices.watch(&sup);
    if let Some(word) = word {
        host.resume(word);
    } else {
        if !own_supervisor {
            host.start_runit2();
        }
        times.mark("supervise");
        times.write(Path::new(BOOT_TIMES));
    }
    if let Err(e) = runit_compat::run(&mut sup, &mut host, &SIGNALS) {
        log::error!("the event loop failed: {e:#}; shutting down");
        sup.kill_all();
    }
    let action = host.action.unwrap_or(Action::PowerOff);
    (action, host.handover, host.gone)
}

/// PID 1's side of the event loop: signals decide the shutdown, and the
/// shutdown ends the loop once services are down (or the deadline passed).
///
/// runit's stage-3 contract: a shutdown first runs `/etc/runit/3` while
/// every service (and `/etc/runit/2`) is still supervised, so its `sv
/// force-stop` and `sv exit` answer as under runit; only when it has
/// returned are the rest stopped. (runit TERMs stage 2 first — its
/// runsvdir exits and the runsv processes stay —; here `runsvdir` is the
/// supervisor itself, so stage 2 gets its TERM after stage 3.)
struct Pid1Host {
    path_env: String,
    runit2: Option<Pid>,
    runit2_restart_at: Option<Instant>,
    ctrlaltdel: Option<(Pid, Action)>,
    /// `/etc/runit/3` while it runs.
    stage3: Option<Pid>,
    /// The shutdown that waits for stage 3, and whether runit-init asked
    /// for it (then `reboot` is read again after stage 3, as runit does).
    pending: Option<(Action, bool)>,
    /// Whether the shutdown ends in a loaded kernel (kexec's marker, read
    /// when the shutdown was asked for: stage 3 may unmount /run).
    handover: bool,
    /// The host's shares that gave no answer when the shutdown was asked
    /// for ([`shares::gone`]).
    gone: Vec<MountEntry>,
    action: Option<Action>,
    deadline: Option<Instant>,
    killed: bool,
    stop_timeout: Duration,
    /// Drivers, the power button (devices.rs).
    devices: Devices,
    /// `first_service_ready` is in the boot times.
    ready_marked: bool,
    /// `boot.debug_panic=supervise`, in the first PID 1 (not after a
    /// re-exec): panic at SIGHUP.
    debug_panic: bool,
}

impl Pid1Host {
    fn spawn(&self, path: &str) -> Option<Pid> {
        spawn_script(path, &self.path_env)
    }

    /// What a re-exec must hand over of this host: the shutdown's action
    /// (bits 0–7: 0 none, else 1 + its index), whether it ends in a loaded
    /// kernel (bit 8), `/etc/runit/2`'s pid (bits 32–63).
    fn word(&self) -> u64 {
        let action = self
            .action
            .map_or(0, |a| 1 + ACTIONS.iter().position(|&b| b == a).unwrap_or(0));
        let runit2 = self.runit2.map_or(0, |p| p.as_raw() as u64);
        action as u64 | u64::from(self.handover) << 8 | runit2 << 32
    }

    /// Go on from [`Pid1Host::word`] after a re-exec: a shutdown under
    /// way keeps its action and gets its stop timeout again.
    fn resume(&mut self, word: u64) {
        self.ready_marked = true;
        self.handover = word & 0x100 != 0;
        let runit2 = (word >> 32) as i32;
        self.runit2 = (runit2 != 0).then(|| Pid::from_raw(runit2));
        if let Some(&a) = ((word & 0xff) as usize)
            .checked_sub(1)
            .and_then(|i| ACTIONS.get(i))
        {
            self.devices.stop();
            self.action = Some(a);
            self.deadline = Some(Instant::now() + self.stop_timeout);
        }
    }

    fn start_runit2(&mut self) {
        phase("stage-2: running /etc/runit/2");
        self.runit2 = self.spawn("/etc/runit/2");
        self.runit2_restart_at = None;
    }

    /// A shutdown was asked for: run stage 3 first if there is one.
    /// `Stop` when a share is gone ([`Self::share_gone`]).
    fn request(&mut self, sup: &mut Supervisor, action: Action, from_stopit: bool) -> Flow {
        if let Some((current, _)) = self.pending {
            log::info!("already shutting down to {}", current.verb());
            return Flow::Continue;
        }
        self.devices.stop();
        if self.action.is_none() {
            self.handover = kexec::handover_requested(action);
            if self.share_gone(action) {
                return Flow::Stop;
            }
            if Path::new(STAGE3).exists() {
                if let Some(why) = unusable_stage_script(STAGE3, STAGE3_THEN) {
                    log::warn!("{why}");
                } else {
                    phase("shutdown: running /etc/runit/3");
                    self.stage3 = self.spawn(STAGE3);
                    if self.stage3.is_some() {
                        self.pending = Some((action, from_stopit));
                        return Flow::Continue;
                    }
                }
            }
        }
        self.begin_shutdown(sup, action);
        Flow::Continue
    }

    /// Whether a host share gave no answer ([`shares::gone`]): then the
    /// shutdown goes straight to `action` through [`shutdown::finish`]
    /// (SIGTERM, SIGKILL to all), the loop ends, and neither stage 3 nor
    /// the services' stop runs: the scripts, a service's `finish` and
    /// `control/` are looked up in `/etc`, which links into the store, and
    /// a lookup on a gone share never returns.
    fn share_gone(&mut self, action: Action) -> bool {
        self.gone = shares::gone();
        if self.gone.is_empty() {
            return false;
        }
        phase(&format!(
            "shutdown: a share is gone: not running /etc/runit/3 or the services' finish; signalling every process to {}",
            action.verb()
        ));
        self.action = Some(action);
        true
    }

    /// Stage 3 is done: stop what still runs.
    fn after_stage3(&mut self, sup: &mut Supervisor, status: WaitStatus) {
        self.stage3 = None;
        if !matches!(status, WaitStatus::Exited(_, 0)) {
            log::warn!(
                "/etc/runit/3 ended with {}; going on with the shutdown",
                Ended(status)
            );
        }
        let Some((mut action, from_stopit)) = self.pending.take() else {
            return;
        };
        if from_stopit {
            action = Self::stopit_reboot();
        }
        self.handover &= action == Action::Reboot;
        self.begin_shutdown(sup, action);
    }

    fn begin_shutdown(&mut self, sup: &mut Supervisor, action: Action) {
        if let Some(current) = self.action {
            log::info!("already shutting down to {}", current.verb());
            return;
        }
        phase(&format!("shutdown: stopping services to {}", action.verb()));
        self.action = Some(action);
        self.deadline = Some(Instant::now() + self.stop_timeout);
        sup.begin_shutdown();
        if let Some(pid) = self.runit2 {
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
            let _ = nix::sys::signal::kill(pid, Signal::SIGCONT);
        }
    }

    /// runit-init's SIGCONT: shut down if `/etc/runit/stopit` (or Debian's
    /// `/run/runit.stopit`) is owner-executable; reboot if `reboot` is too.
    /// As runit, the flag is cleared once taken, so a later stray SIGCONT
    /// (or the next boot, with a persistent /etc) does not shut down.
    fn stopit_action() -> Option<Action> {
        let stopit = ["/etc/runit/stopit", "/run/runit.stopit"]
            .into_iter()
            .find(|p| owner_exec(p))?;
        if let Err(e) = rustix::fs::chmod(stopit, rustix::fs::Mode::empty()) {
            log::warn!("cannot clear {stopit}: {e}");
        }
        Some(Self::stopit_reboot())
    }

    /// runit-init 6 (owner-executable `reboot`) or 0.
    fn stopit_reboot() -> Action {
        if owner_exec("/etc/runit/reboot") || owner_exec("/run/runit.reboot") {
            Action::Reboot
        } else {
            Action::PowerOff
        }
    }
}

impl Host for Pid1Host {
    fn on_signal(&mut self, sup: &mut Supervisor, signal: Signal) -> Flow {
        log::debug!("PID 1 got {signal}");
        assert!(
            !(self.debug_panic && signal == Signal::SIGHUP),
            "boot.debug_panic=supervise: panicking on purpose"
        );
        if signal == Signal::SIGINT && self.action.is_none() && self.pending.is_none() {
            if self.share_gone(Action::Reboot) {
                return Flow::Stop;
            }
            if Path::new("/etc/runit/ctrlaltdel").exists() {
                phase("ctrl-alt-del: running /etc/runit/ctrlaltdel");
                if let Some(pid) = self.spawn("/etc/runit/ctrlaltdel") {
                    self.ctrlaltdel = Some((pid, Action::Reboot));
                    return Flow::Continue;
                }
            }
        }
        let action = match signal {
            Signal::SIGCONT => Self::stopit_action(),
            Signal::SIGINT => {
                phase("ctrl-alt-del pressed");
                action_for(signal)
            }
            other => action_for(other),
        };
        match action {
            Some(a) => self.request(sup, a, signal == Signal::SIGCONT),
            None => Flow::Continue,
        }
    }

    fn on_ready(&mut self, sup: &mut Supervisor, token: u64) -> Flow {
        match self.devices.ready(sup, token) {
            Some(action) => self.request(sup, action, false),
            None => Flow::Continue,
        }
    }

    fn on_reaped(&mut self, sup: &mut Supervisor, pid: Pid, status: WaitStatus) -> Flow {
        if self.devices.reaped(pid, status) {
            return Flow::Continue;
        }
        if self.ctrlaltdel.is_some_and(|(p, _)| p == pid) {
            let (_, action) = self.ctrlaltdel.take().unwrap_or((pid, Action::Reboot));
            return self.request(sup, action, false);
        } else if self.stage3 == Some(pid) {
            self.after_stage3(sup, status);
        } else if self.runit2 == Some(pid) {
            self.runit2 = None;
            if self.action.is_none() {
                let crashed = matches!(
                    status,
                    WaitStatus::Signaled(..) | WaitStatus::Exited(_, 111)
                );
                if crashed {
                    log::warn!(
                        "/etc/runit/2 ended ({}); restarting it in 1 s",
                        Ended(status)
                    );
                    self.runit2_restart_at = Some(Instant::now() + Duration::from_secs(1));
                } else {
                    phase("stage-2: /etc/runit/2 exited; going to stage 3");
                    return self.request(sup, Action::PowerOff, false);
                }
            }
        }
        Flow::Continue
    }

    fn deadline(&self) -> Option<Instant> {
        match (self.deadline, self.runit2_restart_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_tick(&mut self, sup: &mut Supervisor, now: Instant) -> Flow {
        sup.set_host_word(self.word());

        // Appended on its own: the earlier marks are in the file already.
        if !self.ready_marked && sup.any_ready() {
            self.ready_marked = true;
            let mut t = BootTimes::default();
            t.mark("first_service_ready");
            t.write(Path::new(BOOT_TIMES));
        }
        if self.runit2_restart_at.is_some_and(|t| now >= t) && self.action.is_none() {
            self.start_runit2();
        }
        if self.action.is_none() {
            return Flow::Continue;
        }
        if sup.all_down() && self.runit2.is_none() {
            phase("shutdown: all services are down");
            return Flow::Stop;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            if self.killed {
                return Flow::Stop;
            }
            let mut running = sup.running();
            if self.runit2.is_some() {
                running.push("/etc/runit/2".into());
            }
            log::warn!(
                "shutdown: services still running after {}: sending SIGKILL to {}",
                stage1::decimal::Seconds(self.stop_timeout),
                running.join(", ")
            );
            sup.kill_all();
            if let Some(pid) = self.runit2 {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            }
            self.killed = true;
            self.deadline = Some(now + Duration::from_secs(1));
        }
        Flow::Continue
    }
}

/// Whether `path` exists with the owner's execute bit (runit's flags).
fn owner_exec(path: &str) -> bool {
    rustix::fs::stat(path).is_ok_and(|st| st.st_mode & 0o100 != 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::unusable_stage_script;

    /// A missing and a non-executable stage script each give one line that
    /// names the file, what happens instead and the fix; an executable one
    /// none.
    #[test]
    fn unusable_stage_script_names_the_file_and_the_fix() {
        let dir = std::env::temp_dir().join(format!("init-system-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("1");
        let path = script.to_str().unwrap();
        let then = "skipping runit stage 1, going on to supervision";
        let missing = unusable_stage_script(path, then).unwrap();
        assert_eq!(
            missing,
            format!(
                "{path} does not exist: {then} (for one-time tasks at boot, add an executable {} to the toplevel)",
                path.trim_start_matches('/')
            )
        );
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        let noexec = unusable_stage_script(path, then).unwrap();
        assert!(
            noexec.starts_with(&format!("{path} is not executable (mode 0644): {then} (")),
            "{noexec}"
        );
        assert!(
            noexec.ends_with("executable in the toplevel, chmod +x)"),
            "{noexec}"
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(unusable_stage_script(path, then), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
