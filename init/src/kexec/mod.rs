//! `init kexec` (also as argv[0] `kexec`): load a kernel and initrd for the
//! next boot with kexec_file_load(2) — no kexec-tools — and optionally boot
//! it after a clean shutdown.
//!
//! # Interface
//!
//! ```text
//! init kexec KERNEL INITRD [--append CMDLINE | --command-line-file F] [--exec] [--carry-ssh-keys] [--carry-network]
//! init kexec --exec
//! init kexec --carry-network --show
//! ```
//!
//! * `KERNEL`, `INITRD`: the files to load (on x86 a bzImage; the initrd as
//!   the kernel takes it: cpio archives, compressed or not, concatenated).
//! * The new kernel's command line: `--append CMDLINE` (all of it, as
//!   kexec-tools' `--append`), or `--command-line-file F` (the file's lines,
//!   trimmed and joined by spaces, so the trailing newline of
//!   `dist/command-line` goes), else this boot's `/proc/cmdline`.
//! * `--carry-ssh-keys`: what is loaded as the initrd is a copy of INITRD,
//!   NUL-padded to a multiple of 4 bytes, followed by a newc cpio holding
//!   `/.init-handover/root/.ssh/authorized_keys`: this system's
//!   `/root/.ssh/authorized_keys`, byte for byte (key options intact). The
//!   copy lives in a memfd; INITRD is not changed. In the new boot stage-1
//!   moves `/.init-handover/` to `/run/init/handover/` before switch_root
//!   (`stage1::handover`) and stage-2 adds the keys that are missing to
//!   `/root/.ssh/authorized_keys`, 0700/0600, owner root
//!   (`stage2::handover`), as nixos-images' kexec installer does.
//! * `--carry-network`: the archive also holds `/.init-handover/network`:
//!   this system's network per interface MAC (static addresses, routes, DNS
//!   servers and search domains, hostname; what is kept and dropped, and
//!   the format, are in `net::carry`), read from rtnetlink dumps,
//!   `/etc/resolv.conf` and `/proc/sys/kernel/hostname`. Stage-1 of the
//!   new boot restores it instead of DHCP unless `ip=` is given
//!   (`init/src/network.rs`). `--show` prints the file and loads nothing.
//! * `--exec`: boot what was loaded. When PID 1 is this init, it writes the
//!   marker `/run/init/kexec` and sends PID 1 SIGTERM, as `reboot` does:
//!   services stop, processes are killed, filesystems unmounted, sync, and
//!   where the shutdown would call reboot(RB_AUTOBOOT) it calls
//!   reboot(LINUX_REBOOT_CMD_KEXEC) — if the marker was there when the
//!   shutdown began and `/sys/kernel/kexec_loaded` says 1; if the kexec
//!   fails, it reboots normally after a warning. When PID 1 is another
//!   program: a warning, sync, then reboot(LINUX_REBOOT_CMD_KEXEC) at once,
//!   as `kexec -e` (nothing is stopped or unmounted). Without KERNEL and
//!   INITRD, `--exec` boots what an earlier `init kexec` loaded.
//!
//! PID 1 counts as this init when its executable (`/proc/1/exe`, which
//! still reads after switch_root freed the initramfs) contains
//! `init-kexec-handoff-v1`, the first line of the marker: every build with
//! this applet has the shutdown side too, and no other program has the
//! string.
//!
//! # Exit codes
//!
//! 0: loaded (with `--exec`: PID 1 was asked to boot it). 100: usage.
//! 111: a file that cannot be read, or a syscall that failed; one line on
//! stderr names the file or says what the kernel wants (`ENOSYS`: no
//! `CONFIG_KEXEC_FILE`; `EPERM`: not root, `kernel.kexec_load_disabled` or
//! lockdown; `EKEYREJECTED` & co.: a signed kernel is required; `ENOEXEC`:
//! not an image this kernel boots; `EINVAL`: e.g. a command line too long).
//!
//! # Files
//!
//! `/proc/cmdline` (the default command line), `/root/.ssh/authorized_keys`
//! (`--carry-ssh-keys`), `/etc/resolv.conf` and `/proc/sys/kernel/hostname`
//! (`--carry-network`), `/run/init/kexec` (the marker: `init-kexec-handoff-v1`,
//! then `kernel=`, `initrd=` lines for people), `/sys/kernel/kexec_loaded`,
//! `/proc/1/exe`, `/proc/sys/kernel/kexec_load_disabled` and
//! `/sys/kernel/security/lockdown` (quoted in an `EPERM` error).
//!
//! # Files of this module
//!
//! `args.rs` parses the command line, `load.rs` makes the syscall,
//! `cpio.rs` writes the appended archive, `handover.rs` holds both sides
//! of the marker; this file runs them in order.
mod args;
pub(crate) mod cpio;
mod handover;
mod load;

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use self::args::{command_line, parse_args, Args, Parsed, USAGE};
pub use self::handover::{announce_handover, handover_requested, start_loaded_kernel};
use self::handover::{exec_loaded, image_loaded, KEXEC_LOADED};

/// Where `--carry-ssh-keys` reads the keys.
const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";

/// `init kexec ARGS` (ARGS without the applet's name). Returns the exit code.
pub fn main(args: &[OsString]) -> i32 {
    let args = match parse_args(args) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("kexec: {e}\n{USAGE}");
            return 100;
        }
    };
    match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kexec: {e:#}");
            111
        }
    }
}

/// `--carry-network`: this system's network as the handover file's text
/// (`net::carry`).
#[cfg(feature = "net")]
fn carried_network() -> Result<String> {
    let mut rtnl = net::rtnl::Rtnl::open().context("--carry-network: opening rtnetlink")?;
    let links = rtnl.links().context("--carry-network: listing the links")?;
    let addresses = rtnl
        .addresses()
        .context("--carry-network: listing the addresses")?;
    let routes = rtnl
        .routes()
        .context("--carry-network: listing the routes")?;
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let resolv = net::dns::ResolvConf::parse(&resolv);
    Ok(net::carry::capture(
        &links, &addresses, &routes, &resolv, &hostname,
    ))
}

#[cfg(not(feature = "net"))]
fn carried_network() -> Result<String> {
    bail!("--carry-network: {}", stage1::NO_NETWORK)
}

fn run(args: &Args) -> Result<()> {
    if args.show {
        print!("{}", carried_network()?);
        return Ok(());
    }
    let what = if let Some((kernel, initrd)) = &args.image {
        let cmdline = command_line(&args.cmdline)?;
        let keys = if args.carry_ssh_keys {
            Some(
                fs::read(AUTHORIZED_KEYS)
                    .with_context(|| format!("--carry-ssh-keys: cannot read {AUTHORIZED_KEYS}"))?,
            )
        } else {
            None
        };
        let network = if args.carry_network {
            Some(carried_network()?)
        } else {
            None
        };
        let bytes = network.as_deref().map(str::as_bytes);
        load::load(kernel, initrd, &cmdline, keys.as_deref(), bytes)?;
        println!(
            "kexec: loaded {} with {}{}{} and command line {:?}",
            kernel.display(),
            initrd.display(),
            if keys.is_some() {
                format!(" (+ the keys of {AUTHORIZED_KEYS})")
            } else {
                String::new()
            },
            if network.is_some() {
                " (+ this system's network)"
            } else {
                ""
            },
            cmdline.to_string_lossy()
        );
        format!("kernel={}\ninitrd={}\n", kernel.display(), initrd.display())
    } else if image_loaded(Path::new(KEXEC_LOADED)) {
        String::new()
    } else {
        bail!("no kernel is loaded ({KEXEC_LOADED} is not 1): give KERNEL and INITRD");
    };
    if args.exec {
        exec_loaded(&what)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_usage_error_exits_100() {
        assert_eq!(main(&args(&["k"])), 100);
    }

    #[test]
    fn a_missing_file_exits_111() {
        let code = main(&args(&[
            "/nonexistent/kernel",
            "/nonexistent/initrd",
            "--append",
            "x",
        ]));
        assert_eq!(code, 111);
    }
}
