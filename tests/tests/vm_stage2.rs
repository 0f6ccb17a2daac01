//! VM tests of stage-2 and the shutdown (issue 4): a clean power-off from
//! the guest, nothing lost on an ext4 root at power-off and ctrl-alt-del,
//! no zombie after an orphan storm, the `/etc` rules, `/etc/runit/1`
//! exiting 100, a present `/etc/runit/2`, and a not-os-shaped toplevel
//! (runsvdir as stage 2, chpst, svlogd, runit-init, stage 3's sv). Plus `bench_pid1`
//! and `bench_services` (`#[ignore]`d; run by `bench/vm-pid1.sh` and
//! `bench/vm-services.sh`).
//!
//! Variants of `dist/` (another initrd, or a store built from a modified
//! copy of `demo/` with `tests/fixtures/stage2-*/` over it) are built by
//! `scripts/variants/stage2-variant.sh` under Cargo's tmp dir, once per
//! test process. Console logs are kept under `$CARGO_TARGET_TMPDIR/vm_stage2/`.
mod common;

use common::demo::{
    console_after_exit, ensure_in_order, run_ok, BOOT, HELLO_FINISHED, HELLO_LOGGED, HELLO_STARTED,
    POWER_DOWN, RESTARTING, SHUTDOWN,
};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// Build (once per process) the dist-like directory of `name`.
fn variant(name: &str) -> Result<PathBuf> {
    common::variant::cached("stage2-variant.sh", name, &tmp_root())
}

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_stage2")
}

/// A config for `test` on `dist`, with its console log kept.
fn config(test: &str, dist: PathBuf, params: &[&str]) -> VmConfig {
    let log = tmp_root().join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    VmConfig {
        console_log: Some(log),
        dist,
        kernel_params: params.iter().map(|p| (*p).to_owned()).collect(),
        ..VmConfig::default()
    }
}

/// Boot `test` on the base dist (`None` when VMs cannot run here).
fn boot_base(test: &str, params: &[&str]) -> Result<Option<Vm>> {
    let dist = default_dist();
    if !can_boot(&dist, test) {
        return Ok(None);
    }
    Ok(Some(Vm::boot(&config(test, dist, params))?))
}

/// Boot `test` on a variant of the base dist (`None` when VMs cannot run).
fn boot_variant(
    test: &str,
    name: &str,
    params: &[&str],
    drives: Vec<PathBuf>,
) -> Result<Option<Vm>> {
    if !can_boot(&default_dist(), test) {
        return Ok(None);
    }
    let mut cfg = config(test, variant(name)?, params);
    cfg.drives = drives;
    Ok(Some(Vm::boot(&cfg)?))
}

/// Every marker appears somewhere on the console.
fn ensure_contains(console: &str, markers: &[&str]) -> Result<()> {
    let missing: Vec<_> = markers.iter().filter(|m| !console.contains(**m)).collect();
    ensure!(
        missing.is_empty(),
        "console lacks {missing:?}; console:\n{console}"
    );
    Ok(())
}

fn ensure_no_panic(console: &str) -> Result<()> {
    ensure!(
        !console.contains("Kernel panic"),
        "the kernel panicked:\n{console}"
    );
    Ok(())
}

/// Ask for a power-off through the backdoor. The backdoor may be killed
/// before it answers, so a lost answer is fine; a refusal is not.
fn poweroff_from_guest(vm: &mut Vm) -> Result<()> {
    match vm.run_timeout("poweroff", Duration::from_secs(30)) {
        Ok((out, code)) => ensure!(code == 0, "poweroff exited {code}: {out}"),
        Err(e) => eprintln!("poweroff: no answer from the backdoor ({e:#}); waiting for QEMU"),
    }
    Ok(())
}

/// 1. `poweroff` in the guest: services stopped (hello's `finish`), every
///    shutdown step logged, `/nix/store` unmounted, the kernel powers down
///    and QEMU exits by itself.
#[test]
fn poweroff_from_guest_stops_services_unmounts_and_powers_down() -> Result<()> {
    let test = "poweroff_from_guest_stops_services_unmounts_and_powers_down";
    let Some(mut vm) = boot_base(test, &["loglevel=6"])? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    run_ok(&mut vm, "true")?;
    poweroff_from_guest(&mut vm)?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    // With loglevel=6 the kernel echoes the phase lines (level 5); the
    // info lines (level 6) and hello's finish are written to the tty.
    ensure_in_order(
        &console,
        &[
            "init: shutdown: stopping services to power off",
            "init: shutdown: all services are down",
            "init: shutdown: sending SIGTERM to all processes",
            "init: shutdown: syncing filesystems and power off",
            POWER_DOWN,
        ],
    )?;
    ensure_contains(
        &console,
        &[
            HELLO_FINISHED,
            "shutdown: unmounted /nix/store",
            "shutdown: unmounted /run",
        ],
    )?;
    ensure!(
        !console.contains(RESTARTING),
        "poweroff restarted instead:\n{console}"
    );
    ensure_no_panic(&console)
}

/// How the ext4 test ends the guest.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Poweroff,
    CtrlAltDel,
}

const FILES: usize = 200;

/// 2. Nothing lost: 200 files written without fsync to an ext4 root
///    (`realroot=/dev/vdb`), then a shutdown; on the host the filesystem is
///    clean (`e2fsck -fn`) and every file has its content.
fn ext4_root_loses_nothing(test: &str, ending: Ending) -> Result<()> {
    if !can_boot(&default_dist(), test) {
        return Ok(());
    }
    let img = tmp_root().join(format!("{test}-{}.ext4", std::process::id()));
    fs::create_dir_all(tmp_root())?;
    common::make_ext4(&img, 64 << 20, "stage2root")?;
    let res = ext4_guest(test, &img, ending).and_then(|()| check_ext4(&img));
    if res.is_ok() {
        let _ = fs::remove_file(&img);
    } else {
        eprintln!("{test}: disk image kept at {}", img.display());
    }
    res
}

fn ext4_guest(test: &str, img: &Path, ending: Ending) -> Result<()> {
    let Some(mut vm) = boot_variant(
        test,
        "ext4",
        &["realroot=/dev/vdb", "rootfstype=ext4", "loglevel=6"],
        vec![img.to_path_buf()],
    )?
    else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let root_type = run_ok(
        &mut vm,
        "awk '$2 == \"/\" { t = $3 } END { print t }' /proc/mounts",
    )?;
    ensure!(root_type == "ext4", "/ is {root_type:?}, not ext4");
    run_ok(
        &mut vm,
        &format!("for i in $(seq {FILES}); do echo content-$i > /data-$i; done"),
    )?;
    let n = run_ok(&mut vm, "ls / | grep -c '^data-'")?;
    ensure!(n == FILES.to_string(), "the guest sees {n} data files");
    match ending {
        Ending::Poweroff => poweroff_from_guest(&mut vm)?,
        Ending::CtrlAltDel => {
            vm.monitor("sendkey ctrl-alt-delete")?;
        }
    }
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    let end = match ending {
        Ending::Poweroff => POWER_DOWN,
        Ending::CtrlAltDel => RESTARTING,
    };
    ensure_in_order(
        &console,
        &[
            "init: shutdown: sending SIGTERM to all processes",
            "init: shutdown: syncing filesystems",
            end,
        ],
    )?;
    ensure_contains(
        &console,
        &[HELLO_FINISHED, "shutdown: remounted / read-only"],
    )?;
    ensure_no_panic(&console)
}

fn check_ext4(img: &Path) -> Result<()> {
    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(img)
        .output()
        .context("running e2fsck")?;
    ensure!(
        fsck.status.success(),
        "e2fsck -fn {} exited {}:\n{}{}",
        img.display(),
        fsck.status,
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let mut bad = Vec::new();
    for i in 1..=FILES {
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(format!("cat /data-{i}"))
            .arg(img)
            .output()
            .context("running debugfs")?;
        let got = String::from_utf8_lossy(&out.stdout);
        if got != format!("content-{i}\n") {
            bad.push(format!(
                "/data-{i}: {got:?} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    ensure!(
        bad.is_empty(),
        "{} of {FILES} files lost or wrong after the shutdown:\n{}",
        bad.len(),
        bad.join("\n")
    );
    Ok(())
}

#[test]
fn ext4_root_loses_nothing_at_poweroff() -> Result<()> {
    ext4_root_loses_nothing("ext4_root_loses_nothing_at_poweroff", Ending::Poweroff)
}

#[test]
fn ext4_root_loses_nothing_at_ctrl_alt_del() -> Result<()> {
    ext4_root_loses_nothing(
        "ext4_root_loses_nothing_at_ctrl_alt_del",
        Ending::CtrlAltDel,
    )
}

/// Zombies in the guest, one `pid (comm)` per line. The state is the first
/// field after the *last* `)`, so command names with spaces or parentheses
/// cannot fool it.
const ZOMBIES: &str =
    "cat /proc/[0-9]*/stat 2>/dev/null | sed -n 's/^\\([0-9]*\\) \\(.*\\)) Z .*/\\1 \\2)/p'";

/// 3. Orphan storm: 1000 children that daemonize and exit are reparented
///    to PID 1 and reaped: no zombie is left, and supervision still works.
#[test]
fn orphan_storm_leaves_no_zombie() -> Result<()> {
    let test = "orphan_storm_leaves_no_zombie";
    let Some(mut vm) = boot_base(test, &[])? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let before: u64 = run_ok(&mut vm, "cat /proc/sys/kernel/ns_last_pid")?
        .trim()
        .parse()?;
    let started = Instant::now();
    let (out, code) = vm.run_timeout(
        "for i in $(seq 1000); do (sleep 0.2 &) ; done; sleep 2",
        Duration::from_mins(5),
    )?;
    ensure!(code == 0, "the storm exited {code}: {out}");
    eprintln!("{test}: the storm took {:?}", started.elapsed());
    let after: u64 = run_ok(&mut vm, "cat /proc/sys/kernel/ns_last_pid")?
        .trim()
        .parse()?;
    ensure!(
        after >= before + 2000,
        "only {} pids were used by the storm ({before} -> {after})",
        after.saturating_sub(before)
    );
    // Orphans are reaped as they exit; allow the guest a moment under TCG
    // (polled; the assertion is that they are all gone by the deadline).
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut zombies;
    loop {
        zombies = run_ok(&mut vm, ZOMBIES)?;
        if zombies.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    ensure!(
        zombies.is_empty(),
        "zombies left 60 s after the storm:\n{zombies}"
    );
    // The check itself works: a zombie of our own is seen.
    let own = run_ok(
        &mut vm,
        &format!("sh -c 'sleep 0.1 & exec sleep 2' & sleep 1; {ZOMBIES}; wait"),
    )?;
    ensure!(
        own.contains("(sleep)"),
        "the zombie check does not see a deliberate zombie: {own:?}"
    );
    let out = run_ok(&mut vm, "sv status /etc/service/hello")?;
    ensure!(
        out.starts_with("run: /etc/service/hello: (pid "),
        "hello is not supervised any more: {out:?}"
    );
    ensure_no_panic(&vm.console())
}

/// 4. The `/etc` rules in the guest: a `.mode` sidecar makes a real file
///    with that mode (the sidecar itself is not linked), other files are
///    links into `/etc/static`, service dirs are real, the hostname comes
///    from the variant, `activate` ran (its output logged), and
///    `/run/current-system` and `/run/booted-system` name the toplevel.
#[test]
fn etc_rules_hostname_activate_and_current_system() -> Result<()> {
    let test = "etc_rules_hostname_activate_and_current_system";
    let Some(mut vm) = boot_variant(test, "etc", &["loglevel=6"], Vec::new())? else {
        return Ok(());
    };
    let cmdline = fs::read_to_string(variant("etc")?.join("command-line"))?;
    let toplevel = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("toplevel="))
        .context("no toplevel= in the variant's command-line")?
        .to_owned();
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;

    let checks: &[(&str, String)] = &[
        (
            "stat -c '%F %a %u:%g' /etc/secret",
            "regular file 600 0:0".into(),
        ),
        ("cat /etc/secret", "top secret".into()),
        (
            "test -e /etc/secret.mode && echo present || echo absent",
            "absent".into(),
        ),
        ("grep -x secret /etc/.clean", "secret".into()),
        ("readlink /etc/passwd", "/etc/static/passwd".into()),
        ("readlink /etc/hostname", "/etc/static/hostname".into()),
        (
            "readlink /etc/service/hello/run",
            "/etc/static/service/hello/run".into(),
        ),
        (
            "test -d /etc/service/hello && ! test -L /etc/service/hello && echo real-dir",
            "real-dir".into(),
        ),
        ("readlink /etc/static", format!("{toplevel}/etc")),
        ("hostname", "stage2-etc-vm".into()),
        ("cat /proc/sys/kernel/hostname", "stage2-etc-vm".into()),
        (
            "cat /run/activated",
            format!("activated {toplevel}/activate"),
        ),
        ("readlink /run/current-system", toplevel.clone()),
        ("readlink /run/booted-system", toplevel.clone()),
    ];
    let mut failed = Vec::new();
    for (cmd, want) in checks {
        let (out, code) = vm.run(cmd)?;
        if code != 0 || out.trim_end() != want {
            failed.push(format!("`{cmd}`: got {out:?} (exit {code}), want {want:?}"));
        }
    }
    ensure!(
        failed.is_empty(),
        "/etc rules not met in the guest:\n{}",
        failed.join("\n")
    );
    vm.wait_for_console("activate: stage2-etc variant activating", BOOT)?;
    ensure_no_panic(&vm.console())
}

/// 5. `/etc/runit/1` exiting 100 skips supervision: stage 3 runs and the
///    machine powers off by itself; hello never starts.
#[test]
fn runit1_exit_100_goes_to_stage3_and_powers_off() -> Result<()> {
    let test = "runit1_exit_100_goes_to_stage3_and_powers_off";
    let Some(mut vm) = boot_variant(test, "runit1-exit100", &[], Vec::new())? else {
        return Ok(());
    };
    vm.wait_for_console("runit stage 3: stage2-runit1-exit100 marker", BOOT)?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    ensure_in_order(
        &console,
        &[
            "runit stage 1: exiting 100 to skip to stage 3",
            "stage-2: /etc/runit/1 asked for stage 3 (exit 100) or crashed",
            "runit stage 3: stage2-runit1-exit100 marker",
        ],
    )?;
    ensure_contains(
        &console,
        &["shutdown: syncing filesystems and power off", POWER_DOWN],
    )?;
    ensure!(
        !console.contains(HELLO_STARTED) && !console.contains("stage-2: supervising"),
        "services were started although /etc/runit/1 exited 100:\n{console}"
    );
    ensure_no_panic(&console)
}

/// 6. A present `/etc/runit/2` runs instead of the built-in supervisor
///    (no `supervising` line, hello never starts); at ctrl-alt-del it gets
///    SIGTERM and the machine goes down by itself.
#[test]
fn runit2_replaces_builtin_supervisor() -> Result<()> {
    let test = "runit2_replaces_builtin_supervisor";
    let Some(mut vm) = boot_variant(test, "runit2", &[], Vec::new())? else {
        return Ok(());
    };
    vm.wait_for_console("runit stage 2: custom /etc/runit/2 running as pid", BOOT)?;
    let console = vm.console();
    ensure_in_order(
        &console,
        &[
            "stage-2: running /etc/runit/2",
            "runit stage 2: custom /etc/runit/2 running",
        ],
    )?;
    ensure!(
        !console.contains("stage-2: supervising"),
        "the built-in supervisor ran although /etc/runit/2 exists:\n{console}"
    );
    vm.monitor("sendkey ctrl-alt-delete")?;
    vm.wait_for_console("runit stage 2: got TERM, exiting", SHUTDOWN)?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    ensure!(
        console.contains(RESTARTING) || console.contains(POWER_DOWN),
        "no restart or power-down line:\n{console}"
    );
    ensure!(
        !console.contains(HELLO_STARTED) && !console.contains("stage-2: supervising"),
        "services were supervised although /etc/runit/2 exists:\n{console}"
    );
    ensure_no_panic(&console)
}

/// 7. A toplevel shaped like not-os's `runit.nix`: `/etc/runit/2` execs
///    `runsvdir -P /etc/service`, a service's `run` drops to its own user
///    with `chpst -u` and its `log/run` is `svlogd -tt`; `runit-init 0`
///    (not-os's `poweroff`) reaches stage 3 while every service is still
///    supervised, so its `sv force-stop` and `sv exit` answer `ok:`, and
///    the machine powers off cleanly after stage 3's `umount -r -a`.
#[test]
fn notos_runit_toplevel_chpst_svlogd_and_stage3() -> Result<()> {
    let test = "notos_runit_toplevel_chpst_svlogd_and_stage3";
    let Some(mut vm) = boot_variant(test, "notos", &[], Vec::new())? else {
        return Ok(());
    };
    vm.wait_for_console("notos stage 2: exec runsvdir", BOOT)?;
    // The service reached its daemon as web:web (uid/gid 1000 from the
    // toplevel's passwd and group), and its log went through svlogd -tt.
    let mut logged = String::new();
    let deadline = Instant::now() + BOOT;
    while Instant::now() < deadline {
        let (out, _) = vm.run("cat /run/log/web/current")?;
        logged = out;
        if logged.contains("web: running as") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let line = logged
        .lines()
        .find(|l| l.contains("web: running as"))
        .with_context(|| format!("no line of web in /run/log/web/current: {logged:?}"))?;
    ensure!(
        line.ends_with("web: running as uid 1000 gid 1000 groups 1000"),
        "web does not run as web:web only: {line:?}"
    );
    // -tt: `YYYY-MM-DD_HH:MM:SS.xxxxx ` before the line.
    let stamp = line.split(' ').next().unwrap_or_default();
    ensure!(
        stamp.len() == 25
            && stamp.as_bytes()[10] == b'_'
            && stamp.as_bytes()[19] == b'.'
            && stamp.bytes().filter(u8::is_ascii_digit).count() == 19,
        "not an svlogd -tt stamp: {line:?}"
    );
    let status = run_ok(&mut vm, "sv status /etc/service/web")?;
    ensure!(
        status.starts_with("run: /etc/service/web: (pid ") && status.contains("; run: log: (pid "),
        "sv status of web: {status:?}"
    );
    // not-os's poweroff. The backdoor is stopped by stage 3's sv, so a
    // lost answer is fine.
    match vm.run_timeout("runit-init 0", Duration::from_secs(30)) {
        Ok((out, code)) => ensure!(code == 0, "runit-init 0 exited {code}: {out}"),
        Err(e) => eprintln!("runit-init 0: no answer from the backdoor ({e:#}); waiting for QEMU"),
    }
    let exit = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        exit.success(),
        "QEMU exited with {exit}; console:\n{console}"
    );
    ensure_in_order(
        &console,
        &[
            "notos stage 3: Waiting for services to stop...",
            "ok: down: /etc/service/web: ",
            "notos stage 3: Unmounting filesystems...",
            "notos stage 3: done",
        ],
    )?;
    ensure!(
        !console.contains("runsv not running") && !console.contains("fail: "),
        "stage 3's sv could not reach a supervisor:\n{console}"
    );
    ensure_contains(&console, &[POWER_DOWN])?;
    ensure!(
        !console.contains(RESTARTING),
        "runit-init 0 restarted instead:\n{console}"
    );
    ensure_no_panic(&console)
}

/// A field of `/proc/1/status` such as `VmRSS` (kB) or
/// `voluntary_ctxt_switches`, as a number.
fn status_field(status: &str, field: &str) -> Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .with_context(|| format!("no {field} in /proc/1/status:\n{status}"))?;
    line.split_whitespace()
        .nth(1)
        .context("empty field")?
        .parse()
        .with_context(|| format!("bad line {line:?}"))
}

fn ctxt_switches(status: &str) -> Result<u64> {
    Ok(status_field(status, "voluntary_ctxt_switches")?
        + status_field(status, "nonvoluntary_ctxt_switches")?)
}

/// The kernel timestamp of the first console line containing `pattern`.
fn kernel_time(console: &str, pattern: &str) -> Option<f64> {
    let line = console.lines().find(|l| l.contains(pattern))?;
    // The stamp is the `[ seconds]` right before the pattern (the line may
    // start with other output, such as a shell's escape sequences).
    let before = &line[..line.find(pattern)?];
    let inner = &before[before.rfind('[')? + 1..];
    inner.trim().trim_end_matches(']').trim().parse().ok()
}

/// A benchmark's setting from the environment: `default` when unset or
/// not a number.
fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The PID-1 bench (run by `bench/vm-pid1.sh`): PID 1's RSS after boot,
/// its context switches over `BENCH_IDLE_SECS` (default 60) at rest, and
/// the time from ctrl-alt-del to the end of QEMU (median of 3 boots,
/// host-measured; guest-measured from `/proc/uptime` just before the key
/// to the kernel's timestamp on `reboot:`). Prints a markdown table.
#[test]
#[ignore = "a benchmark: bench/vm-pid1.sh runs it"]
fn bench_pid1() -> Result<()> {
    let test = "bench_pid1";
    if !can_boot(&default_dist(), test) {
        return Ok(());
    }
    let idle = env_u64("BENCH_IDLE_SECS", 60);
    let mut rss = Vec::new();
    let mut host_s = Vec::new();
    let mut guest_s = Vec::new();
    let mut switches = None;
    for round in 0..3 {
        let name = format!("{test}-{round}");
        let mut vm = Vm::boot(&config(&name, default_dist(), &[]))?;
        vm.wait_for_console(HELLO_LOGGED, BOOT)?;
        let status = run_ok(&mut vm, "cat /proc/1/status")?;
        rss.push(status_field(&status, "VmRSS")? as f64);
        if round == 0 {
            let before = ctxt_switches(&status)?;
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(idle));
            let status = run_ok(&mut vm, "cat /proc/1/status")?;
            let after = ctxt_switches(&status)?;
            switches = Some((after - before, t0.elapsed()));
        }
        let uptime: f64 = run_ok(&mut vm, "cut -d' ' -f1 /proc/uptime")?
            .trim()
            .parse()?;
        let t0 = Instant::now();
        vm.monitor("sendkey ctrl-alt-delete")?;
        vm.wait_exit(SHUTDOWN)?;
        host_s.push(t0.elapsed().as_secs_f64());
        if let Some(t) = kernel_time(&console_after_exit(&vm), "reboot: ") {
            guest_s.push(t - uptime);
        }
    }
    let (sw, over) = switches.context("no context switch sample")?;
    let accel = std::env::var("QEMU_ACCEL").unwrap_or_else(|_| "probe".into());
    let rss_list: Vec<String> = rss.iter().map(|r| format!("{r:.0}")).collect();
    let host_list: Vec<String> = host_s.iter().map(|t| format!("{t:.2}")).collect();
    let guest_list: Vec<String> = guest_s.iter().map(|t| format!("{t:.2}")).collect();
    println!("BENCH accel={accel} idle={idle}s memory=512MiB smp=2");
    println!("| metric | value | samples |");
    println!("|---|---|---|");
    println!(
        "| PID 1 VmRSS after boot (demo services) | {:.0} kB (median) | {} |",
        median(&mut rss.clone()),
        rss_list.join(", ")
    );
    println!(
        "| PID 1 context switches at rest over {:.0} s | {sw} | voluntary+nonvoluntary, 1 boot |",
        over.as_secs_f64()
    );
    println!(
        "| ctrl-alt-del to QEMU exit (host) | {:.2} s (median of 3) | {} |",
        median(&mut host_s.clone()),
        host_list.join(", ")
    );
    if guest_s.is_empty() {
        println!("| ctrl-alt-del to `reboot:` (guest) | n/a (no timestamp) | |");
    } else {
        println!(
            "| ctrl-alt-del to `reboot:` (guest clock) | {:.2} s (median of {}) | {} |",
            median(&mut guest_s.clone()),
            guest_s.len(),
            guest_list.join(", ")
        );
    }
    Ok(())
}

/// (processes, VmRSS kB, Pss kB, context switches) summed over the guest's
/// processes `pids` (a shell word list): runit's supervisor is runsvdir
/// plus one runsv per service, ours is PID 1 alone.
fn supervisor_sample(vm: &mut Vm, pids: &str) -> Result<(u64, u64, u64, u64)> {
    let out = run_ok(
        vm,
        &format!(
            "for p in {pids}; do cat /proc/$p/status /proc/$p/smaps_rollup; done | \
             awk '/^VmRSS:/ {{ r += $2; n++ }} /^Pss:/ {{ p += $2 }} /ctxt_switches:/ {{ c += $2 }} \
             END {{ print n + 0, r + 0, p + 0, c + 0 }}'"
        ),
    )?;
    let v: Vec<u64> = out
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad sample {out:?}"))?;
    ensure!(v.len() == 4 && v[0] > 0, "no process in {pids}: {out:?}");
    Ok((v[0], v[1], v[2], v[3]))
}

/// Seconds in the guest's file `path` (written by count-up), waiting for it.
fn guest_secs(vm: &mut Vm, path: &str) -> Result<f64> {
    let out = vm
        .run_timeout(
            &format!("while [ ! -s {path} ]; do sleep 1; done; cat {path}"),
            Duration::from_mins(10),
        )
        .with_context(|| format!("waiting for {path}"))?;
    ensure!(out.1 == 0, "reading {path}: {}", out.0);
    out.0
        .trim()
        .parse()
        .with_context(|| format!("bad {path}: {:?}", out.0))
}

/// The supervisor at scale (run by `bench/vm-services.sh`): the
/// `services1000` variant boots with 1000 services, each with a `log/`.
/// Ours: PID 1's RSS, the time from the `stage2` mark of
/// `/run/init/boot-times` to all 2000 `supervise/stat` saying `run` (the
/// variant's 0-count-up service polls them), and PID 1's context switches
/// over `BENCH_IDLE_SECS` (default 60) at rest. Then, in the same boot,
/// Debian's runsvdir + runsv (copied into the store with their libc) on a
/// copy of the same 1000 directories in /run/rs: the same figures summed
/// over runsvdir and every runsv, the time from just before runsvdir
/// starts. Ours keeps running meanwhile (idle). `BENCH_SERVICES_ROUNDS`
/// boots (default 3), medians; the idle window is sampled in the first,
/// for both supervisors at once. Prints a markdown table.
#[test]
#[ignore = "a benchmark: bench/vm-services.sh runs it"]
fn bench_services() -> Result<()> {
    let test = "bench_services";
    if !can_boot(&default_dist(), test) {
        return Ok(());
    }
    let idle = env_u64("BENCH_IDLE_SECS", 60);
    let rounds = env_u64("BENCH_SERVICES_ROUNDS", 3).max(1);
    let rt = "/nix/store/00000000000000000000000000000000-bench-runit";
    let runit_pids = "$(pidof runsvdir runsv)";
    let dist = variant("services1000")?;
    // Per round, [ours, runit].
    let mut up = [Vec::new(), Vec::new()];
    let mut rss = [Vec::new(), Vec::new()];
    let mut pss = [Vec::new(), Vec::new()];
    let mut procs = 0;
    let mut switches = None;
    for round in 0..rounds {
        let mut cfg = config(&format!("{test}-{round}"), dist.clone(), &[]);
        // 2000 of ours, 2000 of runit's and 1001 runsv.
        cfg.memory_mib = 2048;
        let mut vm = Vm::boot(&cfg)?;
        let ours_up = guest_secs(&mut vm, "/run/services-up")?;
        let times = run_ok(&mut vm, "cat /run/init/boot-times")?;
        let stage2 = common::boot_mark(&times, "stage2")?;
        up[0].push(ours_up - stage2);
        // Debian's binaries name /lib64/ld-linux-x86-64.so.2 as their
        // interpreter and find libc through LD_LIBRARY_PATH.
        run_ok(
            &mut vm,
            &format!(
                "mkdir -p /lib64 && ln -sf {rt}/lib/ld-linux-x86-64.so.2 /lib64/ && \
                 cp -R {rt}/service /run/rs && chmod -R u+w /run/rs && \
                 (setsid {rt}/bin/count-up /run/rs 2000 /run/rs-up </dev/null >/dev/null 2>&1 &) && \
                 read -r t0 _ </proc/uptime && echo $t0 >/run/rs-start && \
                 (PATH={rt}/bin:$PATH LD_LIBRARY_PATH={rt}/lib setsid {rt}/bin/runsvdir /run/rs \
                 </dev/null >/dev/null 2>&1 &) && sleep 1 && pidof runsvdir"
            ),
        )
        .context("starting Debian's runsvdir in the guest")?;
        let runit_up = guest_secs(&mut vm, "/run/rs-up").map_err(|e| {
            let ps = run_ok(
                &mut vm,
                "ps | grep -c runsv; cat /run/rs/s0000/supervise/stat",
            )
            .unwrap_or_default();
            e.context(format!(
                "runit's services never all up; runsv processes, s0000's stat: {ps}"
            ))
        })?;
        let start: f64 = run_ok(&mut vm, "cat /run/rs-start")?.trim().parse()?;
        up[1].push(runit_up - start);
        let ours = supervisor_sample(&mut vm, "1")?;
        let runit = supervisor_sample(&mut vm, runit_pids)?;
        ensure!(
            runit.0 == 1001,
            "expected runsvdir and 1000 runsv, found {} processes",
            runit.0
        );
        procs = runit.0;
        for (i, s) in [ours, runit].iter().enumerate() {
            rss[i].push(s.1 as f64);
            pss[i].push(s.2 as f64);
        }
        if round == 0 {
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(idle));
            let ours_after = supervisor_sample(&mut vm, "1")?;
            let runit_after = supervisor_sample(&mut vm, runit_pids)?;
            switches = Some((ours_after.3 - ours.3, runit_after.3 - runit.3, t0.elapsed()));
        }
    }
    let (sw_ours, sw_runit, over) = switches.context("no idle sample")?;
    let accel = std::env::var("QEMU_ACCEL").unwrap_or_else(|_| "probe".into());
    // One row: the medians of both, then every sample.
    let row = |label: &str, unit: &str, v: &[Vec<f64>; 2], prec: usize| {
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.prec$}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| {label} | {:.prec$} {unit} | {:.prec$} {unit} | {}; {} |",
            median(&mut v[0].clone()),
            median(&mut v[1].clone()),
            list(&v[0]),
            list(&v[1])
        );
    };
    println!("BENCH accel={accel} idle={idle}s memory=2048MiB smp=2 rounds={rounds}; 1000 services, each with log/");
    println!(
        "| metric | init (PID 1) | runit (runsvdir + {} runsv) | samples (init; runit) |",
        procs - 1
    );
    println!("|---|---|---|---|");
    row(
        "stage-2 start (runit: runsvdir start) to all 1000 + 1000 log/ up",
        "s",
        &up,
        2,
    );
    row("VmRSS (runit: summed)", "kB", &rss, 0);
    row("Pss (shared pages split among sharers)", "kB", &pss, 0);
    println!(
        "| context switches at rest over {:.0} s | {sw_ours} | {sw_runit} | voluntary + nonvoluntary, 1 boot |",
        over.as_secs_f64()
    );
    Ok(())
}
