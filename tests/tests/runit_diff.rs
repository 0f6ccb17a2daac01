//! Differential suite: the same scenarios against Debian's runsv and ours,
//! driven by Debian's /usr/bin/sv; and by our sv against Debian's runsv.
//! Normalized outputs (pids and seconds replaced) and exit codes must match.
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use tests::runit::{
    have_debian_runit, normalize, our_bin_dir, parallel, pid, script, stat, status,
    supervisor_listening, sv_env, wait_status_older_than_now, wait_until, Impl, Super, TempDir,
};

/// A service that logs the signals it gets (one line per signal).
const RUN: &str = r#"for s in HUP ALRM INT QUIT USR1 USR2; do trap "echo $s >> sig.log" $s; done
trap 'echo TERM >> sig.log; exit 0' TERM
echo up >> run.log
while :; do sleep 1 & wait $!; done"#;

/// A service that ignores TERM.
const RUN_STUBBORN: &str = r"trap '' TERM
echo up >> run.log
while :; do sleep 1 & wait $!; done";

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Run `sv ARGS` (the service name is part of ARGS).
    Sv(&'static [&'static str]),
    /// `sv` with `$SVWAIT`.
    SvWait(&'static str, &'static [&'static str]),
    /// Wait until `run.log` has this many lines and `svc` runs.
    Up(usize),
    /// Wait until `svc` is down (state 0, no pid).
    Down,
    /// Wait until this service dir (relative) runs.
    Runs(&'static str),
    /// Wait until the status timestamp of `svc` is in an earlier second.
    Age,
    /// Remember the current pid of `svc`.
    Mark,
    /// Wait until `svc` runs with a pid other than the marked one.
    NewRun,
    /// Wait until a file has this many lines, then record it.
    Lines(&'static str, usize),
    /// Create a file.
    Touch(&'static str),
    /// Wait for the supervisor to exit and record its exit code.
    SupExit,
}

struct Scenario {
    name: &'static str,
    setup: fn(&Path),
    /// The stat to wait for before the steps.
    initial: &'static str,
    steps: &'static [Step],
}

fn plain(d: &Path) {
    script(&d.join("run"), RUN);
}
fn down_file(d: &Path) {
    plain(d);
    fs::write(d.join("down"), "").unwrap();
}
fn stubborn(d: &Path) {
    script(&d.join("run"), RUN_STUBBORN);
}
fn with_check(d: &Path) {
    down_file(d);
    script(&d.join("check"), "test -f ready");
}
fn with_log(d: &Path) {
    plain(d);
    script(&d.join("log/run"), "exec cat > out");
}
fn with_hooks(d: &Path) {
    plain(d);
    script(&d.join("control/t"), "echo t >> hook.log\nexit 0");
    script(&d.join("control/h"), "echo h >> hook.log\nexit 1");
}
fn with_finish(d: &Path) {
    script(&d.join("run"), "echo up >> run.log\nexit 3");
    script(&d.join("finish"), r#"echo "$@" >> fin.log"#);
    fs::write(d.join("down"), "").unwrap();
}

use Step::{Age, Down, Lines, Mark, NewRun, Runs, SupExit, Sv, SvWait, Touch, Up};

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "updown",
        setup: plain,
        initial: "run\n",
        steps: &[
            Up(1),
            Sv(&["status", "svc"]),
            Sv(&["up", "svc"]),
            Sv(&["-w", "3", "down", "svc"]),
            Sv(&["status", "svc"]),
            Sv(&["down", "svc"]),
            Sv(&["-w", "4", "up", "svc"]),
            Up(2),
            Sv(&["status", "svc"]),
            Sv(&["-w", "4", "stop", "svc"]),
            Sv(&["-w", "4", "start", "svc"]),
            Up(3),
            Age,
            Sv(&["-w", "4", "restart", "svc"]),
            Up(4),
            Sv(&["status", "svc"]),
            Age,
            Sv(&["-w", "4", "try-restart", "svc"]),
            Up(5),
            Sv(&["status", "svc"]),
            Lines("svc/sig.log", 4),
        ],
    },
    Scenario {
        name: "signals",
        setup: plain,
        initial: "run\n",
        steps: &[
            Up(1),
            Sv(&["hup", "svc"]),
            Lines("svc/sig.log", 1),
            Sv(&["alarm", "svc"]),
            Lines("svc/sig.log", 2),
            Sv(&["interrupt", "svc"]),
            Lines("svc/sig.log", 3),
            Sv(&["quit", "svc"]),
            Lines("svc/sig.log", 4),
            Sv(&["1", "svc"]),
            Lines("svc/sig.log", 5),
            Sv(&["-v", "2", "svc"]),
            Lines("svc/sig.log", 6),
            Sv(&["-w", "3", "reload", "svc"]),
            Lines("svc/sig.log", 7),
            Sv(&["-v", "pause", "svc"]),
            Sv(&["status", "svc"]),
            Sv(&["-v", "cont", "svc"]),
            Sv(&["status", "svc"]),
            Age,
            Sv(&["-w", "4", "term", "svc"]),
            Lines("svc/sig.log", 8),
            Up(2),
            Sv(&["status", "svc"]),
        ],
    },
    Scenario {
        name: "once",
        setup: down_file,
        initial: "down\n",
        steps: &[
            Sv(&["status", "svc"]),
            Age,
            Sv(&["-w", "3", "once", "svc"]),
            Up(1),
            Sv(&["status", "svc"]),
            Age,
            Sv(&["-w", "3", "term", "svc"]),
            Down,
            Sv(&["status", "svc"]),
            Sv(&["-w", "4", "up", "svc"]),
            Up(2),
            Sv(&["status", "svc"]),
            Sv(&["-w", "3", "once", "svc"]),
            Sv(&["status", "svc"]),
            Sv(&["-w", "3", "down", "svc"]),
            Lines("svc/sig.log", 2),
        ],
    },
    Scenario {
        name: "exit",
        setup: plain,
        initial: "run\n",
        steps: &[
            Up(1),
            Sv(&["-w", "3", "exit", "svc"]),
            SupExit,
            Sv(&["status", "svc"]),
            Sv(&["-w", "2", "up", "svc"]),
            Sv(&["exit", "svc"]),
            Sv(&["-w", "1", "shutdown", "svc"]),
            Lines("svc/sig.log", 1),
        ],
    },
    Scenario {
        name: "shutdown",
        setup: plain,
        initial: "run\n",
        steps: &[
            Up(1),
            Sv(&["-w", "3", "shutdown", "svc"]),
            SupExit,
            Lines("svc/sig.log", 1),
        ],
    },
    Scenario {
        name: "force",
        setup: stubborn,
        initial: "run\n",
        steps: &[
            Up(1),
            Age,
            Sv(&["-w", "1", "force-stop", "svc"]),
            Down,
            Sv(&["status", "svc"]),
            Sv(&["-w", "4", "start", "svc"]),
            Up(2),
            Age,
            Sv(&["-w", "1", "force-restart", "svc"]),
            Up(3),
            Age,
            Sv(&["-w", "1", "force-reload", "svc"]),
            Up(4),
            Sv(&["-w", "1", "force-shutdown", "svc"]),
            SupExit,
        ],
    },
    Scenario {
        name: "kill",
        setup: plain,
        initial: "run\n",
        steps: &[
            Up(1),
            Mark,
            Sv(&["kill", "svc"]),
            NewRun,
            Up(2),
            Sv(&["status", "svc"]),
            Age,
            Sv(&["-w", "4", "kill", "svc"]),
            Up(3),
        ],
    },
    Scenario {
        name: "check",
        setup: with_check,
        initial: "down\n",
        steps: &[
            Sv(&["-w", "1", "up", "svc"]),
            Up(1),
            Sv(&["status", "svc"]),
            Sv(&["-w", "1", "check", "svc"]),
            SvWait("1", &["-v", "start", "svc"]),
            Touch("svc/ready"),
            Sv(&["-w", "2", "check", "svc"]),
            Sv(&["-w", "2", "start", "svc"]),
            Sv(&["-w", "3", "down", "svc"]),
            Sv(&["-w", "1", "check", "svc"]),
        ],
    },
    Scenario {
        name: "log",
        setup: with_log,
        initial: "run\n",
        steps: &[
            Up(1),
            Runs("svc/log"),
            Sv(&["status", "svc"]),
            Sv(&["status", "svc/log"]),
            Sv(&["-w", "3", "down", "svc/log"]),
            Sv(&["status", "svc"]),
            Sv(&["-w", "3", "up", "svc/log"]),
            Sv(&["status", "svc", "svc/log"]),
            Sv(&["-w", "1", "exit", "svc/log"]),
            Sv(&["-w", "3", "exit", "svc"]),
            SupExit,
        ],
    },
    Scenario {
        name: "hooks",
        setup: with_hooks,
        initial: "run\n",
        steps: &[
            Up(1),
            Sv(&["term", "svc"]),
            Lines("svc/hook.log", 1),
            Sv(&["hup", "svc"]),
            Lines("svc/sig.log", 1),
            Lines("svc/hook.log", 2),
            Sv(&["status", "svc"]),
            Sv(&["-w", "3", "down", "svc"]),
            Lines("svc/hook.log", 3),
            Sv(&["status", "svc"]),
        ],
    },
    Scenario {
        name: "finish",
        setup: with_finish,
        initial: "down\n",
        steps: &[
            Sv(&["once", "svc"]),
            Lines("svc/fin.log", 1),
            Down,
            Sv(&["status", "svc"]),
            Sv(&["once", "svc"]),
            Lines("svc/fin.log", 2),
        ],
    },
];

/// Run one scenario with the given `sv` and supervisor; the transcript.
fn run(sc: &Scenario, sv_impl: Impl, sup_impl: Impl) -> String {
    let tmp = TempDir::new(&format!("{}-{sv_impl:?}-{sup_impl:?}", sc.name));
    let bindir = our_bin_dir(tmp.path());
    let svdir = tmp.path().join("service");
    let svc = svdir.join("svc");
    fs::create_dir_all(&svc).unwrap();
    (sc.setup)(&svc);
    let mut sup = Super::start(sup_impl, &bindir, "runsv", &svc);
    let mut t = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || stat(&svc) == sc.initial
            && supervisor_listening(&svc)),
        "{}: {sup_impl:?} supervisor did not reach {:?}",
        sc.name,
        sc.initial
    );
    let mut marked = None;
    for step in sc.steps {
        match *step {
            Sv(args) | SvWait(_, args) => {
                let env: &[(&str, &str)] = if let SvWait(w, _) = *step {
                    &[("SVWAIT", w)]
                } else {
                    &[]
                };
                let o = sv_env(sv_impl, &bindir, &svdir, args, env);
                let _ = write!(
                    t,
                    "$ sv {}\n{}{}rc={}\n",
                    args.join(" "),
                    normalize(&o.stdout),
                    if o.stderr.is_empty() {
                        String::new()
                    } else {
                        format!("stderr: {}", normalize(&o.stderr))
                    },
                    o.code
                );
            }
            Up(n) => {
                let log = svc.join("run.log");
                let ok = wait_until(Duration::from_secs(6), || {
                    fs::read_to_string(&log).is_ok_and(|s| s.lines().count() >= n)
                        && status(&svc).is_some_and(|(_, p, st)| p != 0 && st == 1)
                });
                let _ = writeln!(t, "up {n}: {ok}");
            }
            Down => {
                let ok = wait_until(Duration::from_secs(5), || {
                    status(&svc).is_some_and(|(_, p, st)| p == 0 && st == 0)
                });
                let _ = writeln!(t, "down: {ok}");
            }
            Runs(dir) => {
                let d = svdir.join(dir);
                let ok = wait_until(Duration::from_secs(5), || {
                    status(&d).is_some_and(|(_, p, st)| p != 0 && st == 1)
                });
                let _ = writeln!(t, "{dir} runs: {ok}");
            }
            Age => {
                assert!(
                    wait_status_older_than_now(&svc),
                    "status timestamp never aged"
                );
            }
            Mark => marked = pid(&svc),
            NewRun => {
                let ok = wait_until(Duration::from_secs(5), || {
                    stat(&svc) == "run\n" && pid(&svc).is_some() && pid(&svc) != marked
                });
                let _ = writeln!(t, "new run: {ok}");
            }
            Lines(file, n) => {
                let p = svdir.join(file);
                wait_until(Duration::from_secs(5), || {
                    fs::read_to_string(&p).is_ok_and(|s| s.lines().count() >= n)
                });
                let _ = write!(t, "{file}:\n{}", fs::read_to_string(&p).unwrap_or_default());
            }
            Touch(file) => fs::write(svdir.join(file), "").unwrap(),
            SupExit => {
                let code = sup.wait_exit(Duration::from_secs(5));
                let _ = writeln!(t, "supervisor exit: {code:?}");
            }
        }
    }
    drop(sup);
    t
}

fn differential(sv_impl: Impl, sup_impl: Impl) {
    // RUNIT_SCENARIO=name runs just that one (for debugging).
    let only = std::env::var("RUNIT_SCENARIO").ok();
    let pairs: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| only.as_deref().is_none_or(|o| o == s.name))
        .collect();
    let results = parallel(pairs, |sc| {
        let (reference, ours) = std::thread::scope(|s| {
            let r = s.spawn(|| run(sc, Impl::Debian, Impl::Debian));
            let o = s.spawn(|| run(sc, sv_impl, sup_impl));
            (r.join().unwrap(), o.join().unwrap())
        });
        (sc.name, reference, ours)
    });
    let mut failed = Vec::new();
    for (name, reference, ours) in results {
        if reference == ours {
            eprintln!("=== scenario {name}: same\n{ours}");
        } else {
            eprintln!("=== scenario {name}: MISMATCH\n--- Debian sv + Debian runsv:\n{reference}\n--- {sv_impl:?} sv + {sup_impl:?} runsv:\n{ours}");
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "scenarios differ: {failed:?}");
}

#[test]
fn debian_sv_against_our_runsv() {
    if have_debian_runit("debian_sv_against_our_runsv") {
        differential(Impl::Debian, Impl::Ours);
    }
}

#[test]
fn our_sv_against_debian_runsv() {
    if have_debian_runit("our_sv_against_debian_runsv") {
        differential(Impl::Ours, Impl::Debian);
    }
}
