//! Unit tests for every transition of the state machine.
use super::*;
use std::time::UNIX_EPOCH;

fn ctx(now: Instant) -> Ctx {
    Ctx {
        now,
        wall: UNIX_EPOCH + Duration::from_secs(1000),
        hooks: Hooks::default(),
        has_finish: false,
    }
}

/// A machine that was started at `t0` and runs as pid 42.
fn running(t0: Instant) -> Machine {
    let mut m = Machine::new(false, false, UNIX_EPOCH);
    let a = m.step(Event::Begin, &ctx(t0));
    assert_eq!(a, vec![Action::WriteStatus, Action::Spawn(Program::Run)]);
    let a = m.step(Event::Spawned(42), &ctx(t0));
    assert_eq!(a, vec![Action::WriteStatus]);
    assert_eq!((m.state, m.pid), (RunState::Run, Some(42)));
    m
}

#[test]
fn down_file_keeps_it_down() {
    let t0 = Instant::now();
    let mut m = Machine::new(false, true, UNIX_EPOCH);
    assert_eq!(m.step(Event::Begin, &ctx(t0)), vec![Action::WriteStatus]);
    assert_eq!(m.status().want, b'd');
    assert!(m.is_idle());
    assert_eq!(
        m.step(Event::Control(b'u'), &ctx(t0)),
        vec![Action::WriteStatus, Action::Spawn(Program::Run)]
    );
}

#[test]
fn down_sends_term_then_cont() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let a = m.step(Event::Control(b'd'), &ctx(t0));
    assert_eq!(
        a,
        vec![
            Action::WriteStatus,
            Action::Signal(42, Signal::SIGTERM),
            Action::WriteStatus,
            Action::Signal(42, Signal::SIGCONT)
        ]
    );
    assert!(m.got_term);
    assert_eq!(m.stat(), "run, got TERM, want down\n");
    let a = m.step(
        Event::Exited(ExitInfo {
            code: -1,
            signal: 15,
        }),
        &ctx(t0),
    );
    assert_eq!(a, vec![Action::WriteStatus]);
    assert_eq!((m.state, m.pid, m.got_term), (RunState::Down, None, false));
    assert!(m.is_idle());
}

#[test]
fn crash_restarts_no_sooner_than_one_second() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let t1 = t0 + Duration::from_millis(100);
    let a = m.step(Event::Exited(ExitInfo { code: 1, signal: 0 }), &ctx(t1));
    assert_eq!(a, vec![Action::WriteStatus]);
    assert_eq!(m.deadline(), Some(t0 + MIN_RESTART));
    assert_eq!(m.status().want, b'u');
    assert!(m.step(Event::Timer, &ctx(t1)).is_empty());
    let a = m.step(Event::Timer, &ctx(t0 + MIN_RESTART));
    assert_eq!(a, vec![Action::Spawn(Program::Run)]);
}

#[test]
fn long_run_restarts_at_once() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let t1 = t0 + Duration::from_secs(30);
    let a = m.step(Event::Exited(ExitInfo { code: 0, signal: 0 }), &ctx(t1));
    assert_eq!(a, vec![Action::WriteStatus, Action::Spawn(Program::Run)]);
    assert_eq!(m.crashes, 0);
}

#[test]
fn crash_loop_backs_off_exponentially_and_caps() {
    assert_eq!(restart_delay(FREE_RETRIES), Duration::ZERO);
    assert_eq!(restart_delay(FREE_RETRIES + 1), Duration::from_secs(2));
    assert_eq!(restart_delay(FREE_RETRIES + 2), Duration::from_secs(4));
    assert_eq!(restart_delay(FREE_RETRIES + 30), MAX_BACKOFF);
    let mut now = Instant::now();
    let mut m = running(now);
    for i in 1..=FREE_RETRIES + 2 {
        now += Duration::from_millis(10);
        m.step(Event::Exited(ExitInfo { code: 1, signal: 0 }), &ctx(now));
        assert_eq!(m.crashes, i);
        let due = m.deadline().unwrap();
        assert!(due >= now + restart_delay(i));
        now = due;
        assert_eq!(
            m.step(Event::Timer, &ctx(now)),
            vec![Action::Spawn(Program::Run)]
        );
        m.step(Event::Spawned(100 + i), &ctx(now));
    }
    // An operator's `u` forgets the backoff.
    m.step(Event::Exited(ExitInfo { code: 1, signal: 0 }), &ctx(now));
    m.step(Event::Control(b'u'), &ctx(now));
    assert_eq!(m.crashes, 0);
    assert_eq!(m.deadline(), Some(now + MIN_RESTART));
}

#[test]
fn finish_gets_code_and_signal() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let mut c = ctx(t0 + Duration::from_secs(20));
    c.has_finish = true;
    let info = ExitInfo {
        code: -1,
        signal: 9,
    };
    let a = m.step(Event::Exited(info), &c);
    assert_eq!(
        a,
        vec![Action::WriteStatus, Action::Spawn(Program::Finish(info))]
    );
    assert_eq!(m.state, RunState::Finish);
    m.step(Event::Spawned(43), &c);
    assert_eq!(m.status().state, 2);
    assert_eq!(m.status().pid, 43);
    // `d` during finish: want down, no signal.
    assert_eq!(m.step(Event::Control(b'd'), &c), vec![Action::WriteStatus]);
    let a = m.step(Event::Exited(ExitInfo::default()), &c);
    assert_eq!(a, vec![Action::WriteStatus]);
    assert!(m.is_idle());
}

#[test]
fn once_runs_once() {
    let t0 = Instant::now();
    let mut m = Machine::new(false, true, UNIX_EPOCH);
    m.step(Event::Begin, &ctx(t0));
    let a = m.step(Event::Control(b'o'), &ctx(t0));
    assert_eq!(a, vec![Action::WriteStatus, Action::Spawn(Program::Run)]);
    m.step(Event::Spawned(7), &ctx(t0));
    let a = m.step(
        Event::Exited(ExitInfo::default()),
        &ctx(t0 + Duration::from_secs(2)),
    );
    assert_eq!(a, vec![Action::WriteStatus]);
    assert!(m.is_idle());
}

#[test]
fn once_while_running_means_no_restart() {
    let t0 = Instant::now();
    let mut m = running(t0);
    assert_eq!(
        m.step(Event::Control(b'o'), &ctx(t0)),
        vec![Action::WriteStatus]
    );
    m.step(
        Event::Exited(ExitInfo::default()),
        &ctx(t0 + Duration::from_secs(2)),
    );
    assert!(m.is_idle());
}

#[test]
fn exit_stops_and_is_gone() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let a = m.step(Event::Control(b'x'), &ctx(t0));
    assert!(a.contains(&Action::Signal(42, Signal::SIGTERM)));
    assert!(a.contains(&Action::Signal(42, Signal::SIGCONT)));
    assert_eq!(m.stat(), "run, got TERM, want exit\n");
    assert_eq!(m.status().want, b'd');
    m.step(
        Event::Exited(ExitInfo {
            code: -1,
            signal: 15,
        }),
        &ctx(t0),
    );
    assert!(m.is_gone());
}

#[test]
fn log_ignores_exit_byte_and_gets_main_gone() {
    let t0 = Instant::now();
    let mut m = Machine::new(true, false, UNIX_EPOCH);
    m.step(Event::Begin, &ctx(t0));
    m.step(Event::Spawned(9), &ctx(t0));
    assert!(m.step(Event::Control(b'x'), &ctx(t0)).is_empty());
    assert_eq!(m.step(Event::MainGone, &ctx(t0)), vec![Action::WriteStatus]);
    // The logger ends on EOF; it is not restarted.
    m.step(
        Event::Exited(ExitInfo::default()),
        &ctx(t0 + Duration::from_secs(5)),
    );
    assert!(m.is_gone());
}

#[test]
fn pause_and_cont() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let a = m.step(Event::Control(b'p'), &ctx(t0));
    assert_eq!(
        a,
        vec![Action::Signal(42, Signal::SIGSTOP), Action::WriteStatus]
    );
    assert!(m.status().paused);
    let a = m.step(Event::Control(b'c'), &ctx(t0));
    assert_eq!(
        a,
        vec![Action::Signal(42, Signal::SIGCONT), Action::WriteStatus]
    );
    assert!(!m.status().paused);
}

#[test]
fn signal_bytes() {
    let t0 = Instant::now();
    let mut m = running(t0);
    for (c, s) in [
        (b'h', Signal::SIGHUP),
        (b'a', Signal::SIGALRM),
        (b'i', Signal::SIGINT),
        (b'q', Signal::SIGQUIT),
        (b'1', Signal::SIGUSR1),
        (b'2', Signal::SIGUSR2),
        (b'k', Signal::SIGKILL),
    ] {
        assert_eq!(
            m.step(Event::Control(c), &ctx(t0)),
            vec![Action::Signal(42, s)]
        );
    }
    assert_eq!(
        m.step(Event::Control(b't'), &ctx(t0))[0],
        Action::Signal(42, Signal::SIGTERM)
    );
    assert_eq!(
        m.step(Event::Control(b'Z'), &ctx(t0)),
        vec![Action::Unknown(b'Z')]
    );
}

#[test]
fn signals_ignored_when_down() {
    let t0 = Instant::now();
    let mut m = Machine::new(false, true, UNIX_EPOCH);
    m.step(Event::Begin, &ctx(t0));
    for c in *b"htkaiq12" {
        assert!(
            m.step(Event::Control(c), &ctx(t0)).is_empty(),
            "{}",
            c as char
        );
    }
}

#[test]
fn spawn_failure_is_an_exit_111_and_backs_off() {
    let t0 = Instant::now();
    let mut m = Machine::new(false, false, UNIX_EPOCH);
    m.step(Event::Begin, &ctx(t0));
    let a = m.step(Event::SpawnFailed, &ctx(t0));
    assert_eq!(a, vec![Action::WriteStatus]);
    assert_eq!(m.last_exit.code, 111);
    assert_eq!(m.state, RunState::Down);
    assert_eq!(m.deadline(), Some(t0 + MIN_RESTART));
}

#[test]
fn control_hook_handles_term() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let mut c = ctx(t0);
    c.hooks = Hooks::default().with(b't').with(b'd');
    let a = m.step(Event::Control(b'd'), &c);
    assert_eq!(a, vec![Action::WriteStatus, Action::Hook(b't')]);
    assert!(m.hook_pending());
    // Hook exited 0: no TERM, but CONT and the `d` hook.
    let a = m.step(Event::HookDone(true), &c);
    assert_eq!(
        a,
        vec![Action::Signal(42, Signal::SIGCONT), Action::Hook(b'd')]
    );
    assert!(!m.got_term);
    assert!(m.step(Event::HookDone(false), &c).is_empty());
    assert!(!m.hook_pending());
}

#[test]
fn control_hook_declines_signal() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let mut c = ctx(t0);
    c.hooks = Hooks::default().with(b'h');
    assert_eq!(m.step(Event::Control(b'h'), &c), vec![Action::Hook(b'h')]);
    assert_eq!(
        m.step(Event::HookDone(false), &c),
        vec![Action::Signal(42, Signal::SIGHUP)]
    );
}

#[test]
fn up_hook_runs_before_every_start() {
    let t0 = Instant::now();
    let mut m = Machine::new(false, false, UNIX_EPOCH);
    let mut c = ctx(t0);
    c.hooks = Hooks::default().with(b'u');
    assert_eq!(
        m.step(Event::Begin, &c),
        vec![Action::WriteStatus, Action::Hook(b'u')]
    );
    assert_eq!(
        m.step(Event::HookDone(false), &c),
        vec![Action::Spawn(Program::Run)]
    );
    assert!(Hooks::default().with(b'u').has(b'u'));
    assert!(!Hooks::default().with(b'u').has(b'd'));
    assert!(!Hooks::default().with(b'Z').has(b'Z'));
}

#[test]
fn exit_while_waiting_for_restart_cancels_it() {
    let t0 = Instant::now();
    let mut m = running(t0);
    m.step(Event::Exited(ExitInfo { code: 1, signal: 0 }), &ctx(t0));
    assert!(m.deadline().is_some());
    assert_eq!(
        m.step(Event::Control(b'x'), &ctx(t0)),
        vec![Action::WriteStatus]
    );
    assert_eq!(m.deadline(), None);
    assert!(m.is_gone());
}

/// The first newline makes the run process ready, recorded with the
/// wall-clock stamp and its pid; the status (runit's 20 bytes) does not
/// change; a second newline changes nothing.
#[test]
fn ready_once_per_run_and_status_unchanged() {
    let t0 = Instant::now();
    let mut m = running(t0);
    assert_eq!(m.ready_record(), None);
    let before = m.status();
    let mut c = ctx(t0 + Duration::from_secs(2));
    c.wall = UNIX_EPOCH + Duration::from_secs(1002);
    assert_eq!(m.step(Event::Ready, &c), vec![Action::WriteReady]);
    assert_eq!(m.status(), before);
    assert_eq!(m.stat(), "run\n");
    assert_eq!(m.ready, Some(c.wall));
    assert_eq!(m.ready_record(), Some(crate::readiness::record(c.wall, 42)));
    c.wall += Duration::from_secs(5);
    assert!(m.step(Event::Ready, &c).is_empty());
    assert_eq!(m.ready, Some(UNIX_EPOCH + Duration::from_secs(1002)));
}

/// Readiness ends with the process: the record goes before the restart,
/// and the next process starts not ready.
#[test]
fn exit_clears_readiness_and_the_restart_starts_not_ready() {
    let t0 = Instant::now();
    let mut m = running(t0);
    m.step(Event::Ready, &ctx(t0));
    let t1 = t0 + Duration::from_secs(30);
    let a = m.step(Event::Exited(ExitInfo { code: 0, signal: 0 }), &ctx(t1));
    assert_eq!(
        a,
        vec![
            Action::WriteReady,
            Action::WriteStatus,
            Action::Spawn(Program::Run)
        ]
    );
    assert_eq!((m.ready, m.ready_record()), (None, None));
    m.step(Event::Spawned(43), &ctx(t1));
    assert_eq!(m.ready_record(), None);
    m.step(Event::Ready, &ctx(t1));
    assert_eq!(
        m.ready_record(),
        Some(crate::readiness::record(ctx(t1).wall, 43))
    );
}

/// `d` (TERM) keeps the process ready until it is gone; a process that
/// ends without a newline (EOF: the driver just closes the pipe) leaves
/// nothing to clear.
#[test]
fn readiness_lasts_until_the_process_is_gone() {
    let t0 = Instant::now();
    let mut m = running(t0);
    m.step(Event::Ready, &ctx(t0));
    m.step(Event::Control(b'd'), &ctx(t0));
    assert!(m.ready_record().is_some());
    let a = m.step(Event::Exited(ExitInfo::default()), &ctx(t0));
    assert_eq!(a, vec![Action::WriteReady, Action::WriteStatus]);
    assert_eq!(m.ready, None);
    let mut m = running(t0);
    let a = m.step(Event::Exited(ExitInfo::default()), &ctx(t0));
    assert!(!a.contains(&Action::WriteReady), "{a:?}");
}

/// `finish` and a down service never become ready: only `run` has a pipe,
/// and a newline that arrives after it was reaped counts for nothing.
#[test]
fn ready_only_while_run_runs() {
    let t0 = Instant::now();
    let mut m = running(t0);
    let mut c = ctx(t0);
    c.has_finish = true;
    m.step(Event::Exited(ExitInfo::default()), &c);
    m.step(Event::Spawned(43), &c);
    assert_eq!(m.state, RunState::Finish);
    assert!(m.step(Event::Ready, &c).is_empty());
    assert_eq!(m.ready, None);
    let mut m = Machine::new(false, true, UNIX_EPOCH);
    m.step(Event::Begin, &ctx(t0));
    assert!(m.step(Event::Ready, &ctx(t0)).is_empty());
    assert_eq!(m.ready_record(), None);
}

/// The log slot has readiness of its own (its `log/notification-fd`).
#[test]
fn log_slot_gets_ready_too() {
    let t0 = Instant::now();
    let mut m = Machine::new(true, false, UNIX_EPOCH);
    m.step(Event::Begin, &ctx(t0));
    m.step(Event::Spawned(9), &ctx(t0));
    assert_eq!(m.step(Event::Ready, &ctx(t0)), vec![Action::WriteReady]);
    assert_eq!(
        m.ready_record(),
        Some(crate::readiness::record(ctx(t0).wall, 9))
    );
}
