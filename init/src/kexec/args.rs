//! `init kexec`'s command line: the options and files it takes, and the
//! command line the new kernel gets (`--append`, `--command-line-file` or
//! this boot's `/proc/cmdline`). Parsing only; nothing is loaded here.
use std::ffi::{CString, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

pub const USAGE: &str = "usage: init kexec KERNEL INITRD [--append CMDLINE | --command-line-file F] [--exec] [--carry-ssh-keys] [--carry-network]
       init kexec --exec
       init kexec --carry-network --show
  load KERNEL and INITRD with kexec_file_load(2) for the next boot; the command line is
  CMDLINE, the contents of F, or this boot's /proc/cmdline.
  --carry-ssh-keys  append /root/.ssh/authorized_keys to the initrd for the new system
  --carry-network   append this system's addresses, routes, DNS and hostname (per MAC)
  --show            print what --carry-network would carry; load nothing
  --exec            then boot it: PID 1 shuts down cleanly and starts the loaded kernel
                    (without KERNEL and INITRD: boot the kernel loaded earlier)";

/// Where the new kernel's command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineSource {
    /// This boot's `/proc/cmdline`.
    Reuse,
    /// `--append`: exactly this.
    Append(OsString),
    /// `--command-line-file`.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// KERNEL and INITRD; `None` only with `--exec` alone.
    pub image: Option<(PathBuf, PathBuf)>,
    pub cmdline: CmdlineSource,
    pub exec: bool,
    pub carry_ssh_keys: bool,
    pub carry_network: bool,
    /// `--show`: print the carried network, load nothing.
    pub show: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Help,
    Run(Args),
}

/// `ARGS` of `init kexec ARGS` (without the applet's name); the error is
/// one line saying what is wrong, for a usage message (exit 100).
pub fn parse_args(args: &[OsString]) -> Result<Parsed, String> {
    let mut positional = Vec::new();
    let mut cmdline: Option<CmdlineSource> = None;
    let (mut exec, mut carry_ssh_keys, mut only_positional) = (false, false, false);
    let (mut carry_network, mut show) = (false, false);
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
            "--carry-network" if inline.is_none() => {
                carry_network = true;
                None
            }
            "--show" if inline.is_none() => {
                show = true;
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
    if show && !(carry_network && positional.is_empty() && !exec && cmdline.is_none()) {
        return Err("--show goes with --carry-network alone".into());
    }
    let image = match <[PathBuf; 2]>::try_from(positional) {
        Ok([kernel, initrd]) => Some((kernel, initrd)),
        Err(p) if p.is_empty() && (exec || show) => None,
        Err(p) => {
            return Err(format!(
                "expected KERNEL and INITRD, got {} file argument(s)",
                p.len()
            ))
        }
    };
    if image.is_none() && !show && (cmdline.is_some() || carry_ssh_keys || carry_network) {
        return Err("--append, --command-line-file and --carry-* need KERNEL and INITRD".into());
    }
    Ok(Parsed::Run(Args {
        image,
        cmdline: cmdline.unwrap_or(CmdlineSource::Reuse),
        exec,
        carry_ssh_keys,
        carry_network,
        show,
    }))
}

/// The command line for the new kernel, NUL-terminated.
pub fn command_line(source: &CmdlineSource) -> Result<CString> {
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

#[cfg(test)]
mod tests {
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
        let a = parsed(&["--carry-network", "--show"]);
        assert_eq!((a.image, a.carry_network, a.show), (None, true, true));
        assert!(parsed(&["k", "i", "--carry-network"]).carry_network);
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
        assert!(err(&["--exec", "--carry-network"]).contains("need KERNEL"));
        assert!(err(&["--show"]).contains("--show goes with --carry-network"));
        assert!(err(&["k", "i", "--carry-network", "--show"]).contains("alone"));
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
}
