//! `init kexec` (also as argv[0] `kexec`): load a kernel and initrd for the
//! next boot with kexec_file_load(2) — no kexec-tools — and optionally boot
//! it after a clean shutdown.
//!
//! # Interface
//!
//! ```text
//! init kexec KERNEL INITRD [--append CMDLINE | --command-line-file F] [--exec] [--carry-ssh-keys]
//! init kexec --exec
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
//! [`PROTOCOL`], the first line of the marker: every build with this applet
//! has the shutdown side too, and no other program has the string.
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
//! (`--carry-ssh-keys`), `/run/init/kexec` (the marker: [`PROTOCOL`], then
//! `kernel=`, `initrd=` lines for people), `/sys/kernel/kexec_loaded`,
//! `/proc/1/exe`, `/proc/sys/kernel/kexec_load_disabled` and
//! `/sys/kernel/security/lockdown` (quoted in an `EPERM` error).
use std::ffi::{CStr, CString, OsString};
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::power::signal_for;
use crate::shutdown::Action;

/// The marker that asks PID 1's shutdown to end in the loaded kernel.
pub const MARKER: &str = "/run/init/kexec";
/// `1` while a kexec image is loaded.
pub const KEXEC_LOADED: &str = "/sys/kernel/kexec_loaded";
/// First line of the marker; its presence in `/proc/1/exe` tells that PID 1
/// understands the marker.
pub const PROTOCOL: &str = "init-kexec-handoff-v1";
/// Where `--carry-ssh-keys` reads the keys.
const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";
/// Where the keys are in the appended archive (stage-1's
/// `stage1::handover::HANDOVER_DIR` is its first component).
pub const HANDOVER_KEYS: &str = ".init-handover/root/.ssh/authorized_keys";

const USAGE: &str = "usage: init kexec KERNEL INITRD [--append CMDLINE | --command-line-file F] [--exec] [--carry-ssh-keys]
       init kexec --exec
  load KERNEL and INITRD with kexec_file_load(2) for the next boot; the command line is
  CMDLINE, the contents of F, or this boot's /proc/cmdline.
  --carry-ssh-keys  append /root/.ssh/authorized_keys to the initrd for the new system
  --exec            then boot it: PID 1 shuts down cleanly and starts the loaded kernel
                    (without KERNEL and INITRD: boot the kernel loaded earlier)";

/// Where the new kernel's command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CmdlineSource {
    /// This boot's `/proc/cmdline`.
    Reuse,
    /// `--append`: exactly this.
    Append(OsString),
    /// `--command-line-file`.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    /// KERNEL and INITRD; `None` only with `--exec` alone.
    image: Option<(PathBuf, PathBuf)>,
    cmdline: CmdlineSource,
    exec: bool,
    carry_ssh_keys: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Help,
    Run(Args),
}

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

fn parse_args(args: &[OsString]) -> Result<Parsed, String> {
    let mut positional = Vec::new();
    let mut cmdline: Option<CmdlineSource> = None;
    let (mut exec, mut carry_ssh_keys, mut only_positional) = (false, false, false);
    let mut it = args.iter().cloned();
    while let Some(arg) = it.next() {
        let bytes = arg.as_bytes();
        if only_positional || !bytes.starts_with(b"-") || bytes == b"-" {
            positional.push(PathBuf::from(arg));
            continue;
        }
        // `--name=value` or `--name value`.
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) if bytes.starts_with(b"--") => (
                String::from_utf8_lossy(&bytes[..i]).into_owned(),
                Some(OsString::from_vec(bytes[i + 1..].to_vec())),
            ),
            _ => (arg.to_string_lossy().into_owned(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        let source = match name.as_str() {
            "--" if inline.is_none() => {
                only_positional = true;
                None
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            "-e" | "--exec" if inline.is_none() => {
                exec = true;
                None
            }
            "--carry-ssh-keys" if inline.is_none() => {
                carry_ssh_keys = true;
                None
            }
            "--append" => Some(CmdlineSource::Append(value("a command line")?)),
            "--command-line-file" => Some(CmdlineSource::File(value("a file")?.into())),
            _ => return Err(format!("unknown option {}", arg.to_string_lossy())),
        };
        if let Some(s) = source {
            if cmdline.is_some() {
                return Err("give one of --append and --command-line-file, once".into());
            }
            cmdline = Some(s);
        }
    }
    let image = match <[PathBuf; 2]>::try_from(positional) {
        Ok([kernel, initrd]) => Some((kernel, initrd)),
        Err(p) if p.is_empty() && exec => None,
        Err(p) => {
            return Err(format!(
                "expected KERNEL and INITRD, got {} file argument(s)",
                p.len()
            ))
        }
    };
    if image.is_none() && (cmdline.is_some() || carry_ssh_keys) {
        return Err(
            "--append, --command-line-file and --carry-ssh-keys need KERNEL and INITRD".into(),
        );
    }
    Ok(Parsed::Run(Args {
        image,
        cmdline: cmdline.unwrap_or(CmdlineSource::Reuse),
        exec,
        carry_ssh_keys,
    }))
}

fn run(args: &Args) -> Result<()> {
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
        load(kernel, initrd, &cmdline, keys.as_deref())?;
        println!(
            "kexec: loaded {} with {}{} and command line {:?}",
            kernel.display(),
            initrd.display(),
            if keys.is_some() {
                format!(" (+ the keys of {AUTHORIZED_KEYS})")
            } else {
                String::new()
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

/// The command line for the new kernel, NUL-terminated.
fn command_line(source: &CmdlineSource) -> Result<CString> {
    let bytes = match source {
        CmdlineSource::Append(s) => s.as_bytes().to_vec(),
        CmdlineSource::Reuse => {
            let text = fs::read("/proc/cmdline").context(
                "cannot read /proc/cmdline to reuse it (or give --append or --command-line-file)",
            )?;
            one_line(&text)
        }
        CmdlineSource::File(p) => {
            let text = fs::read(p)
                .with_context(|| format!("cannot read the command line file {}", p.display()))?;
            one_line(&text)
        }
    };
    CString::new(bytes).map_err(|_| anyhow!("the command line contains a NUL byte"))
}

/// A command line file as one line: each line trimmed, empty ones dropped,
/// the rest joined by single spaces (so the trailing newline goes).
fn one_line(text: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(&b' ')
}

/// kexec_file_load(2) with the files opened; `keys`: append them as the
/// handover archive (in a memfd copy of the initrd).
fn load(kernel: &Path, initrd: &Path, cmdline: &CStr, keys: Option<&[u8]>) -> Result<()> {
    let open = |p: &Path, what: &str| -> Result<File> {
        let f = File::open(p).with_context(|| format!("cannot open the {what} {}", p.display()))?;
        if !f.metadata().is_ok_and(|m| m.is_file()) {
            bail!("the {what} {} is not a regular file", p.display());
        }
        Ok(f)
    };
    let kernel_file = open(kernel, "kernel")?;
    let mut initrd_file = open(initrd, "initrd")?;
    if let Some(keys) = keys {
        let fd = rustix::fs::memfd_create("init-kexec-initrd", rustix::fs::MemfdFlags::CLOEXEC)
            .context("memfd_create for the initrd with the handover")?;
        let mut copy = File::from(fd);
        let len = io::copy(&mut initrd_file, &mut copy)
            .with_context(|| format!("copying {} into memory", initrd.display()))?;
        copy.write_all(&handover_tail(len, keys))
            .context("appending the handover archive to the initrd copy")?;
        initrd_file = copy;
    }
    crate::sys::kexec_file_load(kernel_file.as_fd(), initrd_file.as_fd(), cmdline, 0)
        .map_err(|e| load_error(&e, kernel, cmdline.to_bytes().len()))
}

/// One line saying why kexec_file_load(2) failed and what to check.
fn load_error(err: &io::Error, kernel: &Path, cmdline_len: usize) -> anyhow::Error {
    let kernel = kernel.display();
    let why = match Errno::from_raw(err.raw_os_error().unwrap_or(0)) {
        Errno::ENOSYS => "this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE)".to_owned(),
        Errno::EPERM => format!(
            "kexec is not permitted: it needs root (CAP_SYS_BOOT), kernel.kexec_load_disabled 0 (it is {}) and no lockdown that forbids unsigned images (lockdown: {})",
            read_trimmed("/proc/sys/kernel/kexec_load_disabled"),
            read_trimmed("/sys/kernel/security/lockdown"),
        ),
        Errno::EKEYREJECTED | Errno::ENOKEY | Errno::EBADMSG | Errno::ENOPKG => format!(
            "this kernel requires a signed image (CONFIG_KEXEC_SIG_FORCE or lockdown) and the signature of {kernel} was not accepted"
        ),
        Errno::ENOEXEC => format!("{kernel} is not a kernel image this kernel can boot (on x86: a bzImage)"),
        Errno::EINVAL => format!(
            "the kernel refused the arguments: a command line of {cmdline_len} bytes (x86 takes at most 2047), or a malformed image"
        ),
        Errno::ENOMEM => "not enough memory to hold the kernel and initrd".to_owned(),
        Errno::EBUSY => "another kexec is being loaded or started".to_owned(),
        Errno::ETXTBSY => "the kernel or initrd file is open for writing by another process".to_owned(),
        _ => "unexpected error".to_owned(),
    };
    anyhow!("kexec_file_load of {kernel} failed: {err}: {why}")
}

/// A sysfs/procfs value for an error message, or `unknown`.
fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path).map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
}

/// Boot the loaded kernel: through PID 1's shutdown when PID 1 is this
/// init, else at once. `what` goes into the marker after [`PROTOCOL`].
fn exec_loaded(what: &str) -> Result<()> {
    match fs::read("/proc/1/exe") {
        Ok(exe) if contains(&exe, PROTOCOL.as_bytes()) => {
            write_marker(Path::new(MARKER), what)?;
            let sig = signal_for(Action::Reboot);
            if let Err(e) = kill(Pid::from_raw(1), sig) {
                let _ = fs::remove_file(MARKER);
                bail!("cannot signal PID 1 ({sig}): {e}");
            }
            println!("kexec: PID 1 is shutting down to start the loaded kernel");
            Ok(())
        }
        other => {
            let why = match other {
                Err(e) => format!("cannot read /proc/1/exe ({e})"),
                Ok(_) => "PID 1 is not this init".to_owned(),
            };
            eprintln!("kexec: warning: {why}: starting the loaded kernel now, without stopping services or unmounting filesystems");
            nix::unistd::sync();
            match reboot(RebootMode::RB_KEXEC) {
                Ok(never) => match never {},
                Err(e) => bail!("reboot(LINUX_REBOOT_CMD_KEXEC) failed: {e}"),
            }
        }
    }
}

/// Write the marker: [`PROTOCOL`] on the first line, then `what`.
fn write_marker(marker: &Path, what: &str) -> Result<()> {
    if let Some(dir) = marker.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(marker, format!("{PROTOCOL}\n{what}"))
        .with_context(|| format!("writing {}", marker.display()))
}

/// PID 1 at the start of its shutdown (before `/run` is unmounted): does
/// this shutdown end in the loaded kernel? Yes when it is a reboot and the
/// marker exists.
pub fn requested(action: Action, marker: &Path) -> bool {
    if !marker.exists() {
        return false;
    }
    if action != Action::Reboot {
        log::info!(
            "shutdown: {} is there, but this shutdown is to {}: not starting the loaded kernel",
            marker.display(),
            action.verb()
        );
        return false;
    }
    true
}

/// Whether `path` (`/sys/kernel/kexec_loaded`) says an image is loaded.
pub fn image_loaded(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|s| s.trim() == "1")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// What `--carry-ssh-keys` appends to an initrd of `initrd_len` bytes: NUL
/// bytes up to a multiple of 4 (the kernel skips NULs between archives, and
/// looks for a cpio header only at 4-byte offsets), then a newc archive
/// with `keys` as [`HANDOVER_KEYS`] (directories 0700, the file 0600,
/// owner root, mtime 0).
pub fn handover_tail(initrd_len: u64, keys: &[u8]) -> Vec<u8> {
    let mut out = vec![0; ((4 - initrd_len % 4) % 4) as usize];
    let dir = |name| Entry {
        name,
        mode: 0o040_700,
        data: &[],
    };
    out.extend(newc_archive(&[
        dir(".init-handover"),
        dir(".init-handover/root"),
        dir(".init-handover/root/.ssh"),
        Entry {
            name: HANDOVER_KEYS,
            mode: 0o100_600,
            data: keys,
        },
    ]));
    out
}

/// One member of a newc archive; `mode` includes the file type bits.
pub struct Entry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub data: &'a [u8],
}

/// A newc ("070701") cpio archive of `entries`, then `TRAILER!!!`; inode
/// numbers count from 1, uid/gid/mtime are 0. Its length is a multiple of 4.
pub fn newc_archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let nlink = if e.mode & 0o170_000 == 0o040_000 {
            2
        } else {
            1
        };
        newc_member(&mut out, i as u32 + 1, e.mode, nlink, e.name, e.data);
    }
    newc_member(&mut out, 0, 0, 1, "TRAILER!!!", &[]);
    out
}

fn newc_member(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) {
    let pad = |out: &mut Vec<u8>| out.resize(out.len().next_multiple_of(4), 0);
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
    // rdevminor namesize check
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{f:08X}");
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn parsed(list: &[&str]) -> Args {
        match parse_args(&args(list)) {
            Ok(Parsed::Run(a)) => a,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        let a = parsed(&[
            "k",
            "i",
            "--command-line-file",
            "f",
            "--exec",
            "--carry-ssh-keys",
        ]);
        assert_eq!(a.image, Some(("k".into(), "i".into())));
        assert_eq!(a.cmdline, CmdlineSource::File("f".into()));
        assert!(a.exec && a.carry_ssh_keys);
        let a = parsed(&["--append=console=ttyS0 quiet", "k", "i"]);
        assert_eq!(
            a.cmdline,
            CmdlineSource::Append("console=ttyS0 quiet".into())
        );
        assert!(!a.exec && !a.carry_ssh_keys);
        assert_eq!(
            parsed(&["k", "i", "--append", "a=b"]).cmdline,
            CmdlineSource::Append("a=b".into())
        );
        assert_eq!(parsed(&["k", "i"]).cmdline, CmdlineSource::Reuse);
        assert_eq!(
            parsed(&["--", "-k", "i"]).image,
            Some(("-k".into(), "i".into()))
        );
        let a = parsed(&["--exec"]);
        assert_eq!((a.image, a.exec), (None, true));
        assert_eq!(parse_args(&args(&["k", "--help"])), Ok(Parsed::Help));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        let err = |list: &[&str]| parse_args(&args(list)).expect_err("a usage error");
        assert!(err(&[]).contains("KERNEL and INITRD"));
        assert!(err(&["k"]).contains("1 file"));
        assert!(err(&["k", "i", "x"]).contains("3 file"));
        assert!(err(&["k", "i", "--append", "a", "--command-line-file", "f"]).contains("one of"));
        assert!(err(&["k", "i", "--append"]).contains("--append needs"));
        assert!(err(&["k", "i", "--bogus"]).contains("--bogus"));
        assert!(err(&["k", "i", "--exec=1"]).contains("--exec=1"));
        assert!(err(&["--exec", "--carry-ssh-keys"]).contains("need KERNEL"));
        assert_eq!(main(&args(&["k"])), 100);
    }

    #[test]
    fn command_line_file_is_one_line_without_its_newline() {
        assert_eq!(
            one_line(b"console=ttyS0 quiet panic=-1\n"),
            b"console=ttyS0 quiet panic=-1"
        );
        assert_eq!(one_line(b"  a=1 \r\n\n b=\"x y\"\n"), b"a=1 b=\"x y\"");
        assert_eq!(one_line(b"\n"), b"");
        let dir = std::env::temp_dir().join(format!("init-kexec-cmdline-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("command-line");
        fs::write(&f, "toplevel=/nix/store/x root=/dev/vda\n").unwrap();
        let line = command_line(&CmdlineSource::File(f.clone())).unwrap();
        assert_eq!(
            line.as_bytes_with_nul(),
            b"toplevel=/nix/store/x root=/dev/vda\0"
        );
        fs::write(&f, "a\0b\n").unwrap();
        assert!(format!(
            "{:#}",
            command_line(&CmdlineSource::File(f.clone())).unwrap_err()
        )
        .contains("NUL"));
        let missing = dir.join("missing");
        let e = format!(
            "{:#}",
            command_line(&CmdlineSource::File(missing.clone())).unwrap_err()
        );
        assert!(e.contains(&missing.display().to_string()), "{e}");
        fs::remove_dir_all(&dir).unwrap();
        // --append is taken as given.
        let line = command_line(&CmdlineSource::Append(" a \n".into())).unwrap();
        assert_eq!(line.as_bytes(), b" a \n");
    }

    #[test]
    fn a_missing_file_is_named_and_exits_111() {
        let e = format!(
            "{:#}",
            load(Path::new("/nonexistent/kernel"), Path::new("/"), c"x", None).unwrap_err()
        );
        assert!(e.contains("the kernel /nonexistent/kernel"), "{e}");
        let e = format!(
            "{:#}",
            load(Path::new("/proc/self/exe"), Path::new("/"), c"x", None).unwrap_err()
        );
        assert!(e.contains("the initrd / is not a regular file"), "{e}");
        let code = main(&args(&[
            "/nonexistent/kernel",
            "/nonexistent/initrd",
            "--append",
            "x",
        ]));
        assert_eq!(code, 111);
    }

    #[test]
    fn syscall_errors_say_what_the_kernel_wants() {
        let msg = |errno: Errno| {
            load_error(
                &io::Error::from_raw_os_error(errno as i32),
                Path::new("/k"),
                3000,
            )
            .to_string()
        };
        assert!(msg(Errno::ENOSYS).contains("CONFIG_KEXEC_FILE"));
        assert!(msg(Errno::EPERM).contains("kexec_load_disabled"));
        assert!(msg(Errno::EPERM).contains("lockdown"));
        assert!(msg(Errno::EKEYREJECTED).contains("signed image"));
        assert!(msg(Errno::ENOEXEC).contains("/k is not a kernel image"));
        assert!(msg(Errno::EINVAL).contains("3000 bytes"));
        assert!(msg(Errno::ENOSYS).starts_with("kexec_file_load of /k failed: "));
    }

    /// A newc member, field by field: "070701", 13 fields of 8 hex digits,
    /// the name with its NUL padded to 4, the data padded to 4.
    #[test]
    fn newc_golden_bytes() {
        let archive = newc_archive(&[Entry {
            name: "ab",
            mode: 0o100_600,
            data: b"xyz",
        }]);
        let member = concat!(
            "070701",
            "00000001", // ino
            "00008180", // mode 0100600
            "00000000", // uid
            "00000000", // gid
            "00000001", // nlink
            "00000000", // mtime
            "00000003", // filesize
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000003",   // namesize: "ab\0"
            "00000000",   // check
            "ab\0\0\0\0", // 110 + 3 -> 116 bytes
            "xyz\0",
        );
        let trailer = concat!(
            "070701",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000001",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "0000000B",
            "00000000",
            "TRAILER!!!\0\0\0\0", // 110 + 11 -> 124 bytes
        );
        assert_eq!(
            String::from_utf8(archive).unwrap(),
            format!("{member}{trailer}")
        );
    }

    #[test]
    fn handover_tail_starts_at_a_4_byte_boundary() {
        let keys = b"no-pty,command=\"true\" ssh-ed25519 AAAAC3 test@host\n";
        for len in 0..8u64 {
            let tail = handover_tail(len, keys);
            let pad = ((4 - len % 4) % 4) as usize;
            assert!(tail[..pad].iter().all(|&b| b == 0));
            assert_eq!(&tail[pad..pad + 6], b"070701");
            assert_eq!((len as usize + tail.len()) % 4, 0);
        }
        let tail = handover_tail(0, keys);
        let at = tail
            .windows(HANDOVER_KEYS.len())
            .position(|w| w == HANDOVER_KEYS.as_bytes())
            .expect("the keys' name");
        let data = (at + HANDOVER_KEYS.len() + 1).next_multiple_of(4);
        assert_eq!(&tail[data..data + keys.len()], keys);
    }

    /// GNU cpio reads the archive back: names, modes and bytes.
    #[test]
    fn gnu_cpio_extracts_the_handover() {
        let dir = std::env::temp_dir().join(format!("init-kexec-cpio-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let keys = b"from=\"10.0.0.1\" ssh-rsa AAAAB3 a@b\nssh-ed25519 AAAAC3 c@d\n";
        let cpio = std::process::Command::new("cpio")
            .args(["-idm", "--quiet"])
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .spawn();
        let Ok(mut cpio) = cpio else {
            eprintln!("SKIPPED gnu_cpio_extracts_the_handover: no cpio on PATH");
            fs::remove_dir_all(&dir).unwrap();
            return;
        };
        cpio.stdin
            .take()
            .unwrap()
            .write_all(&handover_tail(0, keys))
            .unwrap();
        assert!(cpio.wait().unwrap().success());
        let f = dir.join(HANDOVER_KEYS);
        assert_eq!(fs::read(&f).unwrap(), keys);
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        let d = dir.join(".init-handover/root/.ssh");
        assert_eq!(
            fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn marker_asks_only_a_reboot_to_kexec() {
        let dir = std::env::temp_dir().join(format!("init-kexec-marker-{}", std::process::id()));
        let marker = dir.join("init/kexec");
        assert!(!requested(Action::Reboot, &marker));
        write_marker(&marker, "kernel=/k\n").unwrap();
        let text = fs::read_to_string(&marker).unwrap();
        assert_eq!(text, format!("{PROTOCOL}\nkernel=/k\n"));
        assert!(requested(Action::Reboot, &marker));
        assert!(!requested(Action::PowerOff, &marker));
        assert!(!requested(Action::Halt, &marker));
        let loaded = dir.join("kexec_loaded");
        assert!(!image_loaded(&loaded));
        fs::write(&loaded, "0\n").unwrap();
        assert!(!image_loaded(&loaded));
        fs::write(&loaded, "1\n").unwrap();
        assert!(image_loaded(&loaded));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn protocol_search() {
        assert!(contains(
            b"xx init-kexec-handoff-v1 yy",
            PROTOCOL.as_bytes()
        ));
        assert!(!contains(b"init-kexec-handoff-v", PROTOCOL.as_bytes()));
        assert!(!contains(b"abc", b""));
    }
}
