//! One static binary from `/init` to the last sync: dispatch on argv[0]
//! (`sv`, `runsv`, `runsvdir`, `poweroff`, `reboot`, `halt`, `kexec`,
//! `modprobe`, `insmod`, `rmmod`, `lsmod`) or on the first argument
//! (`init plan`, `init sv …`, `init kexec …`, `init modprobe …`), and
//! become the system's PID 1 when the kernel (or a stage-1) starts us as
//! process 1.
//!
//! The modules, each importing only those below it (no cycles:
//! `scripts/check-import-cycles`): `pid1` (the flow as PID 1) runs
//! `initramfs` (stage-1) and `system` (stage-2, supervision) and acts on
//! the `resolution` that `failure` (the menu, the panic hook) and `rescue`
//! (the built-in prompt) return; `shutdown`, `power` (the applet), `kexec`
//! (applet and handover) share `action`, and `shares` (the host's shares
//! and the shutdown's bounded waits); `process` (signals, reaping),
//! `network`, `logger`, `times`, `sys` sit below them all; `devices`
//! (stage-2's drivers, the power button, the kernel's modprobe helper)
//! sits below `system`, and `modprobe` (kmod's applets) uses its tree.
mod action;
mod coldplug_cmd;
mod devices;
mod failure;
mod initramfs;
mod kernel_fs;
mod kexec;
#[cfg(init_link_stubs)]
mod link_stubs;
mod logger;
mod modprobe;
mod network;
mod pid1;
mod plan_cmd;
mod power;
mod process;
mod reexec;
mod rescue;
mod resolution;
mod shares;
mod shutdown;
mod sys;
mod system;
mod times;

use std::ffi::OsString;
use std::path::Path;

const USAGE: &str = "usage: init [plan|sv|runsv|runsvdir|poweroff|reboot|halt|kexec] ARGS...
  As process 1 (the kernel's /init, or $toplevel/init) it boots the system.
  init plan [--cmdline STR] [--root DIR] [--kernel RELEASE] [--sys DIR]   print what stage-1 would do
  init coldplug --module-dir DIR (--all | DEVPATH...)   load drivers (PID 1 runs it in stage-2)
  init sv COMMAND SERVICES...          control services (runit's sv)
  init runsvdir [-P] DIR               supervise every service in DIR
  init runsv DIR                       supervise one service
  init reexec                          PID 1 execs its binary again, every service kept (live upgrade)
  init poweroff|reboot|halt [-f]       ask PID 1 to shut down (-f: now, without stopping services)
  init modprobe|insmod|rmmod|lsmod ARGS...   kernel modules (kmod's)
  init kexec KERNEL INITRD [--append CMDLINE | --command-line-file F] [--exec] [--carry-ssh-keys]
                                       load a kernel for the next boot (--exec: shut down and boot it)";

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if rustix::process::getpid().is_init() {
        pid1::main();
    }
    std::process::exit(dispatch(&args));
}

fn applet_name(arg0: &OsString) -> String {
    Path::new(arg0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn dispatch(args: &[OsString]) -> i32 {
    let name = args.first().map(applet_name).unwrap_or_default();
    if let Some(code) = applet(&name, args) {
        return code;
    }
    let Some(sub) = args.get(1).map(|a| a.to_string_lossy().into_owned()) else {
        // No command means "boot", which only the kernel's PID 1 does: say
        // so in one line, without touching anything.
        eprintln!(
            "init: stage-1 runs only as PID 1 of the initramfs (this is PID {}); nothing was done (`init help` lists the commands)",
            std::process::id()
        );
        return 100;
    };
    let rest: Vec<OsString> = args[1..].to_vec();
    if let Some(code) = applet(&sub, &rest) {
        return code;
    }
    match sub.as_str() {
        "plan" => plan_cmd::main(&rest[1..]),
        "reexec" => reexec::main(&rest[1..]),
        "coldplug" => coldplug_cmd::main(&rest[1..]),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            0
        }
        "--version" | "version" => {
            println!("init {}", env!("CARGO_PKG_VERSION"));
            0
        }
        other => {
            eprintln!("init: unknown command {other:?}\n{USAGE}");
            100
        }
    }
}

/// Run the applet `name` with `args` (args[0] is the applet's name): our
/// own (`poweroff`, `kexec`, …) or one of runit's programs.
fn applet(name: &str, args: &[OsString]) -> Option<i32> {
    let args = args.to_vec();
    match name {
        // A link in an init.d directory is sv's LSB mode, whatever its name.
        _ if runit_compat::is_init_script(&args) => runit_compat::dispatch(args),
        // The supervisors log through init's logger, to stderr.
        "runsv" | "runsvdir" => with_stderr_logger(|| runit_compat::dispatch(args)),
        "poweroff" | "reboot" | "halt" => Some(power::main(name, &args[1..])),
        "kexec" => Some(kexec::main(&args[1..])),
        "modprobe" | "insmod" | "rmmod" | "lsmod" => Some(modprobe::main(name, &args)),
        _ => runit_compat::dispatch(args),
    }
}

fn with_stderr_logger(f: impl FnOnce() -> Option<i32>) -> Option<i32> {
    process::raise_fd_limit();
    logger::init(false);
    logger::set_console_level(6);
    f()
}
