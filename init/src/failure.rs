//! PID 1's failure policy, in one place: what happens when a boot step
//! fails or PID 1 panics. The libraries only return errors; this module
//! alone decides between a kernel panic (`boot.panic_on_fail`), the
//! NixOS-style menu, a shell, a retry and a reboot. The answer goes back
//! to the caller as a [`Resolution`]: what starts the next stage (also
//! after the root was switched by hand) is the PID-1 flow's, never this
//! module's or the rescue prompt's.
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use runit_compat::{Exec, Fd, Session};
use stage1::cmdline::BootParams;

use crate::action::Action;
use crate::process::wait_for;
use crate::resolution::{Resolution, SwitchedByHand, SwitchedRoot};
use crate::{network, rescue, shutdown};

// A reference to PID 1's own (leaked) copy, not a clone: no BootParams
// Clone code in the binary, and an empty OnceLock of a reference puts no
// 520 bytes into the file's .data as an unboxed BootParams would.
static PARAMS: OnceLock<&'static BootParams> = OnceLock::new();
/// Set once stage-2 begins: the menu then says which stage failed.
static IN_STAGE2: AtomicBool = AtomicBool::new(false);

/// Stage-2 begins: from now on the menu speaks of stage 2.
pub fn entering_stage2() {
    IN_STAGE2.store(true, Ordering::Relaxed);
}

/// Remember the command line for the panic hook and install the hook: a
/// panic anywhere in PID 1 reaches the same menu instead of a silent kernel
/// panic (panic=abort still runs the hook first). The panicked code cannot
/// be resumed, so when the root is switched by hand from there the hook
/// goes on with `switched_root` (the PID-1 flow's stage-2).
pub fn install(params: &'static BootParams, switched_root: SwitchedByHand) {
    let _ = PARAMS.set(params);
    std::panic::set_hook(Box::new(move |info| {
        // One line: where, and what (std's own format puts a line break
        // between the two).
        // dist/init is built with -Z location-detail=none (smaller): its
        // locations are `<redacted>:0`, which say nothing.
        let at = info
            .location()
            .filter(|l| l.line() != 0)
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info.payload_as_str().unwrap_or("(no message)");
        log::error!("init panicked{at}: {}", what.replace('\n', " "));
        // A panic while services are supervised: exec again, keeping
        // every one (runit_compat::reexec); returns when that cannot be.
        let why = runit_compat::reexec::reexec_after_panic();
        log::error!("no re-exec after the panic: {why}");
        let default = BootParams::default();
        let params = PARAMS.get().copied().unwrap_or(&default);
        if params.panic_on_fail {
            log::error!("boot.panic_on_fail is set: exiting so the kernel panics");
            std::process::exit(1);
        }
        // After a panic the failed code cannot be resumed: only a shell
        // (which may finish the boot by hand) or a reboot remain.
        loop {
            if let Some(Resolution::SwitchedRoot(s)) = menu(params, "PID 1 panicked", false, false)
            {
                switched_root(params, s);
            }
        }
    }));
}

/// A step failed: log it with its context chain and apply the policy.
/// `network`: the step needs the network, so the menu shows the
/// interfaces and offers to set them up again.
pub fn handle(params: &BootParams, what: &str, err: &anyhow::Error, network: bool) -> Resolution {
    log::error!("{what} failed: {err:#}");
    if params.panic_on_fail {
        log::error!("boot.panic_on_fail is set: exiting so the kernel panics");
        std::process::exit(1);
    }
    loop {
        if let Some(r) = menu(params, what, true, network) {
            return r;
        }
    }
}

/// Several ways to go on and no way to tell which: list them on the
/// console and let the person pick one by number (`r` reboots, an empty
/// answer takes none). With `boot.panic_on_fail` there is nobody to ask:
/// PID 1 exits so the kernel panics, as for any failure.
pub fn choose(
    params: &BootParams,
    what: &str,
    options: &[std::path::PathBuf],
) -> Option<std::path::PathBuf> {
    log::error!("{what}");
    if params.panic_on_fail {
        log::error!("boot.panic_on_fail is set: exiting so the kernel panics");
        std::process::exit(1);
    }
    loop {
        let mut text = format!("\n{what}. Pick one:\n");
        for (i, o) in options.iter().enumerate() {
            let _ = writeln!(text, "  {}) {}", i + 1, o.display());
        }
        text.push_str("  r) to reboot immediately\n  (empty) to boot none of them\n> ");
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        drop(out);
        let answer = read_answer();
        match answer.as_str() {
            "" => return None,
            "r" => shutdown::reboot_now(Action::Reboot),
            n => match n.parse::<usize>() {
                Ok(i) if (1..=options.len()).contains(&i) => {
                    log::info!("picked {}", options[i - 1].display());
                    return Some(options[i - 1].clone());
                }
                _ => log::warn!("{n:?} is not one of 1-{}: pick again", options.len()),
            },
        }
    }
}

/// A `boot.debug1*` stop point: offer the shell, then go on. `Some` when
/// the root was switched by hand meanwhile (at the rescue prompt).
pub fn stop_point(params: &BootParams, why: &str) -> Option<SwitchedRoot> {
    log::info!(target: crate::logger::PHASE, "{why}: stopping here");
    if has_shell() {
        log::info!(target: crate::logger::PHASE, "starting /bin/sh; exit it to continue the boot");
        run_shell();
        return None;
    }
    match menu(params, why, true, false) {
        Some(Resolution::SwitchedRoot(s)) => Some(s),
        _ => None,
    }
}

fn has_shell() -> bool {
    Path::new("/bin/sh").exists()
}

/// Show the menu once and act on one answer; `None` means "show it again"
/// (after an interactive shell returned, or on an unknown key).
fn menu(params: &BootParams, what: &str, can_resume: bool, network: bool) -> Option<Resolution> {
    let shell = params.shell_on_fail && has_shell();
    let stage = if IN_STAGE2.load(Ordering::Relaxed) {
        2
    } else {
        1
    };
    let mut text = format!("\nAn error occurred in stage {stage} of the boot process ({what}).\nPress one of the following keys:\n");
    if shell {
        text.push_str("  i) to launch an interactive shell\n");
        text.push_str("  f) to start an interactive shell having pid 1 (needed if you want to\n     start stage 2's init manually)\n");
    } else if params.shell_on_fail {
        text.push_str("  i) to use the built-in rescue prompt (no /bin/sh in this initramfs)\n");
    } else {
        text.push_str("  (add boot.shell_on_fail to the kernel command line for a shell)\n");
    }
    if can_resume {
        text.push_str("  t) to try the failed step again\n");
    }
    if can_resume && network {
        text.push_str(&network::interfaces());
        text.push_str("  n) to set up the network again (after plugging a cable, say) and retry\n");
    }
    text.push_str("  r) to reboot immediately\n");
    if can_resume {
        text.push_str("  *) to ignore the error and continue\n");
    }
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}> ");
    let _ = out.flush();
    drop(out);
    let answer = read_answer();
    match answer.as_str() {
        "i" if shell => {
            run_shell();
            None
        }
        "f" if shell => exec_shell_as_pid1(),
        "i" if params.shell_on_fail => Some(rescue::prompt(params)),
        "r" => shutdown::reboot_now(Action::Reboot),
        "t" if can_resume => Some(Resolution::Retry),
        "n" if can_resume && network => Some(Resolution::RetryNetwork),
        _ if can_resume => {
            log::warn!("continuing despite the failure of: {what}");
            Some(Resolution::Ignore)
        }
        _ => None,
    }
}

/// One line from the console, trimmed. With no console input at all
/// (EOF), wait instead of spinning: a person may attach later.
fn read_answer() -> String {
    let stdin = std::io::stdin();
    loop {
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => std::thread::sleep(std::time::Duration::from_secs(1)),
            Ok(_) => return line.trim().to_owned(),
        }
    }
}

fn run_shell() {
    let env = [
        ("PATH", OsStr::new("/bin:/sbin")),
        ("PS1", OsStr::new("(initramfs) # ")),
    ];
    let inherit = [Fd::Inherit; 3];
    match Exec::new(
        Path::new("/bin/sh"),
        &[OsStr::new("/bin/sh")],
        Some(&env),
        None,
    )
    .and_then(|exec| runit_compat::spawn(&exec, inherit, Session::NewWithTty, true))
    {
        Ok(pid) => {
            wait_for(nix::unistd::Pid::from_raw(pid as i32));
        }
        Err(e) => log::error!("cannot start /bin/sh: {e}"),
    }
}

fn exec_shell_as_pid1() -> ! {
    runit_compat::reset_signal_state();
    let env = [("PATH", OsStr::new("/bin:/sbin"))];
    let err = match Exec::new(
        Path::new("/bin/sh"),
        &[OsStr::new("/bin/sh")],
        Some(&env),
        None,
    ) {
        Ok(exec) => exec.exec(),
        Err(e) => e,
    };
    log::error!("cannot exec /bin/sh as PID 1: {err}");
    shutdown::reboot_now(Action::Reboot)
}
