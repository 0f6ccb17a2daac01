//! Control bytes (`supervise/control`) through the per-service state
//! machine, `runit_compat::machine::Machine::step`, driven the way
//! `service.rs` drives it: the result of each action (a spawn that works
//! or fails) is fed back before the next control byte, and control bytes
//! wait while a `control/<c>` hook runs.
//!
//! Input: byte 0 sets the slot (log or not, `down` file, `finish` present);
//! bytes 1-2 the executable `control/<c>` hooks; then one event per byte
//! pair. Checks: signals go only to the current process, a spawn only
//! when none runs, `Unknown` only for bytes runit ignores, and every status
//! written survives the 20-byte codec.
#![no_main]
use std::collections::VecDeque;
use std::time::{Duration, Instant, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use runit_compat::machine::{Action, Ctx, Event, ExitInfo, Hooks, Machine};
use runit_compat::status::Status;

const KNOWN: &[u8] = b"udoxtkpchaiq12";

fuzz_target!(|data: &[u8]| {
    let [setup, h0, h1, events @ ..] = data else {
        return;
    };
    let (is_log, down_file, has_finish) = (setup & 1 != 0, setup & 2 != 0, setup & 4 != 0);
    let mut hooks = Hooks::default();
    let mask = u16::from_le_bytes([*h0, *h1]);
    for (i, &c) in Hooks::candidates().iter().enumerate() {
        if mask & (1 << i) != 0 {
            hooks = hooks.with(c);
        }
    }
    let start = Instant::now();
    let wall0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut elapsed = Duration::ZERO;
    let mut m = Machine::new(is_log, down_file, wall0);
    let mut next_pid = 100u32;
    let mut fail_spawn = false;
    let mut queue = VecDeque::from([Event::Begin]);
    // Control bytes wait while a hook runs (service.rs keeps them queued).
    let mut pending: VecDeque<u8> = VecDeque::new();
    let mut input = events.chunks_exact(2);
    loop {
        // Drain the feedback first, as service.rs does.
        while let Some(ev) = queue.pop_front() {
            let ctx = Ctx {
                now: start + elapsed,
                wall: wall0 + elapsed,
                hooks: if is_log { Hooks::default() } else { hooks },
                has_finish: !is_log && has_finish,
            };
            for action in m.step(ev, &ctx) {
                match action {
                    Action::WriteStatus => {
                        let st = m.status();
                        assert_eq!(Status::decode(&st.encode()), Some(st));
                        assert!(m.stat().ends_with('\n'));
                    }
                    Action::Spawn(_) => {
                        assert_eq!(m.pid, None, "spawn while a process runs");
                        if fail_spawn {
                            queue.push_back(Event::SpawnFailed);
                        } else {
                            next_pid += 1;
                            queue.push_back(Event::Spawned(next_pid));
                        }
                    }
                    Action::Signal(pid, _) => {
                        assert_eq!(m.pid, Some(pid), "signal to a process not ours");
                    }
                    Action::Hook(c) => {
                        assert!(!is_log && hooks.has(c), "hook {c} that does not exist");
                        assert!(m.hook_pending());
                    }
                    Action::WriteReady => {
                        assert!(m.pid.is_some(), "ready without a running process");
                    }
                    Action::Unknown(c) => assert!(!KNOWN.contains(&c), "known byte {c} unknown"),
                }
            }
        }
        if !m.hook_pending() {
            if let Some(c) = pending.pop_front() {
                queue.push_back(Event::Control(c));
                continue;
            }
        }
        let Some(&[op, arg]) = input.next() else {
            break;
        };
        fail_spawn = arg & 0x80 != 0;
        let ev = match op % 8 {
            0..=2 => {
                pending.push_back(arg);
                continue;
            }
            3 if m.pid.is_some() => Event::Exited(if arg & 1 == 0 {
                ExitInfo {
                    code: i32::from(arg >> 1),
                    signal: 0,
                }
            } else {
                ExitInfo {
                    code: -1,
                    signal: i32::from(arg >> 1),
                }
            }),
            4 if m.hook_pending() => Event::HookDone(arg & 1 != 0),
            5 => {
                elapsed += Duration::from_millis(u64::from(arg) * 250);
                Event::Timer
            }
            6 if is_log => Event::MainGone,
            7 => {
                // Wait for the restart deadline, as the loop does.
                if let Some(t) = m.deadline() {
                    elapsed = elapsed.max(t.saturating_duration_since(start));
                }
                Event::Timer
            }
            _ => {
                pending.push_back(arg);
                continue;
            }
        };
        queue.push_back(ev);
    }
});
