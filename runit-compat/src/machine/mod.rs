//! The per-service state machine: a pure `step(event) -> actions`.
//!
//! One `Machine` models one supervised slot (a service's `run`/`finish`, or
//! its `log/run`). It never touches the system: the driver
//! (`service.rs`) performs the returned actions and feeds the results back
//! as events (`Spawned`, `SpawnFailed`, `Exited`, `HookDone`).
//!
//! Semantics follow runsv: state down/run/finish; want up/down/exit;
//! paused; got TERM; control bytes `u d o x t k p c h a i q 1 2`, with the
//! optional `control/<c>` hooks (run asynchronously here, so one slow hook
//! never stalls the other services). Restart policy: see `restart_delay`.
//!
//! Beyond runsv: readiness (s6's `notification-fd`, see `readiness.rs`).
//! The first newline on the run process's notification pipe (`Ready`)
//! marks it ready until it ends; the driver owns the pipe and records the
//! state in `supervise/ready` (`WriteReady`), never in `status`.
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use crate::status::{stat_line, Status};
pub use crate::status::{RunState, Want};

/// runit never restarts `run` sooner than this after its previous start.
pub const MIN_RESTART: Duration = Duration::from_secs(1);
/// A run that lasted this long resets the crash counter.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);
/// Consecutive short runs restarted with only the 1 s runit delay.
pub const FREE_RETRIES: u32 = 5;
/// The longest backoff between restarts of a crashing service.
pub const MAX_BACKOFF: Duration = Duration::from_secs(crate::options::MINUTE_SECS);

/// How a process ended, in finish's terms: `code` is -1 when killed by a
/// signal, `signal` 0 when it exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ExitInfo {
    pub code: i32,
    pub signal: i32,
}

/// Which `control/<c>` hooks exist and are executable (a bit per byte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hooks(u64);

const HOOK_BYTES: &[u8] = b"udoxtkpchaiq12";

impl Hooks {
    pub fn has(self, c: u8) -> bool {
        HOOK_BYTES
            .iter()
            .position(|&b| b == c)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
    #[must_use]
    pub fn with(self, c: u8) -> Hooks {
        match HOOK_BYTES.iter().position(|&b| b == c) {
            Some(i) => Hooks(self.0 | (1 << i)),
            None => self,
        }
    }
    /// The bytes for which a hook may exist.
    pub fn candidates() -> &'static [u8] {
        HOOK_BYTES
    }
}

/// What the world looks like when an event is handled.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub now: Instant,
    pub wall: SystemTime,
    pub hooks: Hooks,
    /// `finish` exists (runsv checks with open(2) when run exits).
    pub has_finish: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Supervision begins: write the first status.
    Begin,
    Control(u8),
    Spawned(u32),
    SpawnFailed,
    /// The current process (run or finish) ended.
    Exited(ExitInfo),
    /// The pending `control/<c>` hook ended; `true` if it exited 0.
    HookDone(bool),
    /// A restart deadline may have passed.
    Timer,
    /// (log only) the main service is gone for good: want exit.
    MainGone,
    /// The run process wrote a newline on its notification pipe.
    Ready,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    Run,
    /// `./finish CODE SIGNAL`.
    Finish(ExitInfo),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Spawn(Program),
    Signal(u32, Signal),
    /// Run `control/<c>` and report `HookDone`.
    Hook(u8),
    WriteStatus,
    /// Record `ready_record()` in `supervise/ready` (remove it if `None`).
    WriteReady,
    /// A control byte that means nothing.
    Unknown(u8),
}

/// What to do once the pending hook is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cont {
    /// `control/u` ran; now start `run`.
    Start,
    /// `control/t` decides whether TERM is sent; then CONT and `d`/`x` hooks.
    Term,
    /// `control/<c>` decides whether this signal is sent.
    Decide(Signal),
    /// Result ignored.
    Ignore,
}

#[derive(Clone, Debug)]
pub struct Machine {
    pub is_log: bool,
    pub state: RunState,
    pub want: Want,
    pub paused: bool,
    pub got_term: bool,
    pub pid: Option<u32>,
    /// The status timestamp.
    pub stamp: SystemTime,
    pub last_start: Option<Instant>,
    pub last_exit: ExitInfo,
    /// Consecutive runs shorter than `STABLE_AFTER` that were not asked to stop.
    pub crashes: u32,
    /// No start of `run` before this.
    pub not_before: Option<Instant>,
    /// When the current run process said it was ready.
    pub ready: Option<SystemTime>,
    /// `o` asked for one start while down.
    once: bool,
    hook: Option<Cont>,
}

/// Extra wait after `crashes` consecutive short runs.
pub fn restart_delay(crashes: u32) -> Duration {
    if crashes <= FREE_RETRIES {
        return Duration::ZERO;
    }
    let exp = (crashes - FREE_RETRIES).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

impl Machine {
    pub fn new(is_log: bool, down_file: bool, wall: SystemTime) -> Machine {
        Machine {
            is_log,
            state: RunState::Down,
            want: if down_file { Want::Down } else { Want::Up },
            paused: false,
            got_term: false,
            pid: None,
            stamp: wall,
            last_start: None,
            last_exit: ExitInfo::default(),
            crashes: 0,
            not_before: None,
            ready: None,
            once: false,
            hook: None,
        }
    }

    /// The machine as numbers for a re-exec's handover (`reexec.rs`): the
    /// last start as nanoseconds before `now`, the next start as
    /// nanoseconds after it (0: due), wall times as nanoseconds since
    /// 1970; -1 for none.
    pub fn words(&self, now: Instant) -> [i64; 14] {
        let ns = |d: Duration| d.as_nanos() as i64;
        let wall = |t: SystemTime| ns(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default());
        let hook = match self.hook {
            None => 0,
            Some(Cont::Start) => 1,
            Some(Cont::Term) => 2,
            Some(Cont::Ignore) => 3,
            Some(Cont::Decide(sig)) => 100 + sig as i64,
        };
        [
            self.state as i64,
            self.want as i64,
            i64::from(self.paused),
            i64::from(self.got_term),
            i64::from(self.pid.unwrap_or(0)),
            wall(self.stamp),
            self.last_start.map_or(-1, |t| ns(now.duration_since(t))),
            i64::from(self.last_exit.code),
            i64::from(self.last_exit.signal),
            i64::from(self.crashes),
            self.not_before
                .map_or(-1, |t| ns(t.saturating_duration_since(now))),
            self.ready.map_or(-1, wall),
            i64::from(self.once),
            hook,
        ]
    }

    /// The machine [`Machine::words`] wrote; `None` for a state, want or
    /// hook out of range.
    pub fn from_words(is_log: bool, w: &[i64; 14], now: Instant) -> Option<Machine> {
        let ns = |n: i64| (n >= 0).then(|| Duration::from_nanos(n as u64));
        let wall = |n| ns(n).map(|d| SystemTime::UNIX_EPOCH + d);
        let hook = w[13];
        Some(Machine {
            is_log,
            state: *[RunState::Down, RunState::Run, RunState::Finish].get(w[0] as usize)?,
            want: *[Want::Up, Want::Down, Want::Exit].get(w[1] as usize)?,
            paused: w[2] != 0,
            got_term: w[3] != 0,
            pid: Some(w[4] as u32).filter(|&p| p != 0),
            stamp: wall(w[5])?,
            last_start: ns(w[6]).and_then(|d| now.checked_sub(d)),
            last_exit: ExitInfo {
                code: w[7] as i32,
                signal: w[8] as i32,
            },
            crashes: w[9] as u32,
            not_before: ns(w[10]).and_then(|d| now.checked_add(d)),
            ready: wall(w[11]),
            once: w[12] != 0,
            hook: match hook {
                0 => None,
                1 => Some(Cont::Start),
                2 => Some(Cont::Term),
                3 => Some(Cont::Ignore),
                _ => Some(Cont::Decide(Signal::try_from(hook as i32 - 100).ok()?)),
            },
        })
    }

    pub fn status(&self) -> Status {
        Status {
            stamp: self.stamp,
            pid: self.pid.unwrap_or(0),
            paused: self.paused,
            want: if self.want == Want::Up { b'u' } else { b'd' },
            got_term: self.got_term,
            state: self.state as u8,
        }
    }

    /// What `supervise/ready` holds: the stamp and pid of a ready run.
    pub fn ready_record(&self) -> Option<[u8; 16]> {
        Some(crate::readiness::record(self.ready?, self.running()?))
    }

    pub fn stat(&self) -> String {
        stat_line(self.state, self.paused, self.got_term, self.want)
    }

    pub fn hook_pending(&self) -> bool {
        self.hook.is_some()
    }

    /// Nothing running, nothing pending, and nothing will start.
    pub fn is_idle(&self) -> bool {
        self.pid.is_none()
            && self.hook.is_none()
            && self.state == RunState::Down
            && !self.wants_start()
    }

    /// Down for good with want exit (the supervisor may go).
    pub fn is_gone(&self) -> bool {
        self.want == Want::Exit && self.is_idle()
    }

    fn wants_start(&self) -> bool {
        self.want == Want::Up || self.once
    }

    /// When the driver must wake us with `Timer` (a start is waiting).
    pub fn deadline(&self) -> Option<Instant> {
        if self.pid.is_none()
            && self.hook.is_none()
            && self.state == RunState::Down
            && self.wants_start()
        {
            self.not_before
        } else {
            None
        }
    }

    pub fn step(&mut self, ev: Event, ctx: &Ctx) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            Event::Begin => {
                self.stamp = ctx.wall;
                out.push(Action::WriteStatus);
            }
            Event::Control(c) => self.control(c, ctx, &mut out),
            Event::Spawned(pid) => {
                self.pid = Some(pid);
                self.paused = false;
                self.got_term = false;
                out.push(Action::WriteStatus);
            }
            Event::SpawnFailed => self.exited(
                ExitInfo {
                    code: 111,
                    signal: 0,
                },
                ctx,
                &mut out,
            ),
            Event::Exited(info) => self.exited(info, ctx, &mut out),
            Event::HookDone(handled) => self.hook_done(handled, ctx, &mut out),
            Event::Timer => {}
            Event::MainGone => {
                if self.want != Want::Exit {
                    self.want = Want::Exit;
                    self.once = false;
                    out.push(Action::WriteStatus);
                }
            }
            // Only the first newline of a run counts; finish has no pipe.
            Event::Ready => {
                if self.running().is_some() && self.ready.is_none() {
                    self.ready = Some(ctx.wall);
                    out.push(Action::WriteReady);
                }
            }
        }
        self.reconcile(ctx, &mut out);
        out
    }

    fn running(&self) -> Option<u32> {
        if self.state == RunState::Run {
            self.pid
        } else {
            None
        }
    }

    fn control(&mut self, c: u8, ctx: &Ctx, out: &mut Vec<Action>) {
        match c {
            b'd' => {
                self.want = Want::Down;
                self.once = false;
                out.push(Action::WriteStatus);
                if self.running().is_some() {
                    self.stop(ctx, out);
                }
            }
            b'u' => {
                self.want = Want::Up;
                self.explicit_start();
                out.push(Action::WriteStatus);
            }
            b'x' => {
                if self.is_log {
                    return;
                }
                self.want = Want::Exit;
                self.once = false;
                out.push(Action::WriteStatus);
                if self.running().is_some() {
                    self.stop(ctx, out);
                }
            }
            b't' => {
                if self.running().is_some() {
                    self.stop(ctx, out);
                }
            }
            b'o' => {
                self.want = Want::Down;
                out.push(Action::WriteStatus);
                if self.state == RunState::Down && self.pid.is_none() {
                    self.once = true;
                    self.explicit_start();
                }
            }
            b'p' => {
                self.decide(c, Signal::SIGSTOP, ctx, out);
                self.paused = true;
                out.push(Action::WriteStatus);
            }
            b'c' => {
                self.decide(c, Signal::SIGCONT, ctx, out);
                self.paused = false;
                out.push(Action::WriteStatus);
            }
            b'k' => self.decide(c, Signal::SIGKILL, ctx, out),
            b'a' => self.decide(c, Signal::SIGALRM, ctx, out),
            b'h' => self.decide(c, Signal::SIGHUP, ctx, out),
            b'i' => self.decide(c, Signal::SIGINT, ctx, out),
            b'q' => self.decide(c, Signal::SIGQUIT, ctx, out),
            b'1' => self.decide(c, Signal::SIGUSR1, ctx, out),
            b'2' => self.decide(c, Signal::SIGUSR2, ctx, out),
            _ => out.push(Action::Unknown(c)),
        }
    }

    /// An operator asked for a start: forget the crash backoff, keep
    /// runit's one second after the previous start.
    fn explicit_start(&mut self) {
        self.crashes = 0;
        self.not_before = self.last_start.map(|t| t + MIN_RESTART);
    }

    fn decide(&mut self, c: u8, sig: Signal, ctx: &Ctx, out: &mut Vec<Action>) {
        let Some(pid) = self.running() else { return };
        if !self.is_log && ctx.hooks.has(c) {
            self.hook = Some(Cont::Decide(sig));
            out.push(Action::Hook(c));
        } else {
            out.push(Action::Signal(pid, sig));
        }
    }

    fn stop(&mut self, ctx: &Ctx, out: &mut Vec<Action>) {
        if !self.is_log && ctx.hooks.has(b't') {
            self.hook = Some(Cont::Term);
            out.push(Action::Hook(b't'));
        } else {
            self.after_term(false, ctx, out);
        }
    }

    fn after_term(&mut self, handled: bool, ctx: &Ctx, out: &mut Vec<Action>) {
        if let Some(pid) = self.running() {
            if !handled {
                out.push(Action::Signal(pid, Signal::SIGTERM));
                self.got_term = true;
                out.push(Action::WriteStatus);
            }
        }
        let after = match self.want {
            Want::Down => b'd',
            Want::Exit => b'x',
            Want::Up => return,
        };
        if let Some(pid) = self.pid {
            out.push(Action::Signal(pid, Signal::SIGCONT));
        }
        if !self.is_log && ctx.hooks.has(after) {
            self.hook = Some(Cont::Ignore);
            out.push(Action::Hook(after));
        }
    }

    fn hook_done(&mut self, handled: bool, ctx: &Ctx, out: &mut Vec<Action>) {
        match self.hook.take() {
            Some(Cont::Start) => {
                if self.pid.is_none() && self.state == RunState::Down && self.wants_start() {
                    self.spawn_run(ctx, out);
                }
            }
            Some(Cont::Term) => self.after_term(handled, ctx, out),
            Some(Cont::Decide(sig)) => {
                if let (false, Some(pid)) = (handled, self.running()) {
                    out.push(Action::Signal(pid, sig));
                }
            }
            Some(Cont::Ignore) | None => {}
        }
    }

    fn exited(&mut self, info: ExitInfo, ctx: &Ctx, out: &mut Vec<Action>) {
        self.pid = None;
        if self.ready.take().is_some() {
            out.push(Action::WriteReady);
        }
        let asked = self.got_term;
        self.got_term = false;
        if self.state == RunState::Run {
            self.last_exit = info;
            let ran = self
                .last_start
                .map_or(Duration::ZERO, |t| ctx.now.saturating_duration_since(t));
            if ran >= STABLE_AFTER {
                self.crashes = 0;
            } else if !asked && self.want == Want::Up {
                self.crashes = self.crashes.saturating_add(1);
            }
            if !self.is_log && ctx.has_finish {
                self.state = RunState::Finish;
                out.push(Action::WriteStatus);
                return;
            }
        }
        self.state = RunState::Down;
        self.stamp = ctx.wall;
        let min = self.last_start.map_or(ctx.now, |t| t + MIN_RESTART);
        let backoff = ctx.now + restart_delay(self.crashes);
        self.not_before = Some(min.max(backoff));
        out.push(Action::WriteStatus);
    }

    fn reconcile(&mut self, ctx: &Ctx, out: &mut Vec<Action>) {
        if self.hook.is_some() || self.pid.is_some() {
            return;
        }
        match self.state {
            RunState::Finish => out.push(Action::Spawn(Program::Finish(self.last_exit))),
            RunState::Down if self.wants_start() => {
                if !matches!(self.not_before, Some(t) if t > ctx.now) {
                    if !self.is_log && ctx.hooks.has(b'u') {
                        self.hook = Some(Cont::Start);
                        out.push(Action::Hook(b'u'));
                    } else {
                        self.spawn_run(ctx, out);
                    }
                }
            }
            RunState::Down | RunState::Run => {}
        }
    }

    fn spawn_run(&mut self, ctx: &Ctx, out: &mut Vec<Action>) {
        self.state = RunState::Run;
        self.stamp = ctx.wall;
        self.last_start = Some(ctx.now);
        self.once = false;
        self.not_before = None;
        out.push(Action::Spawn(Program::Run));
    }
}

#[cfg(test)]
mod tests;
