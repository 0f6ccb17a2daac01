//! The kernel command line as one typed value, [`BootParams`].
//!
//! Nothing else in the binary reads `/proc/cmdline`. Parsing never fails: a
//! value that does not make sense becomes a warning (see
//! [`BootParams::warnings`]) and the parameter is treated as not given.
//!
//! # Tokenizing (the kernel's rules, `lib/cmdline.c: next_arg`)
//!
//! * Whitespace (space, `\t`, `\n`, `\v`, `\f`, `\r`) separates parameters.
//! * A double quote toggles "inside quotes", where whitespace does not
//!   separate. Quotes are removed only where the kernel removes them: at the
//!   start of the value (`foo="a b"` gives `a b`) or of the whole parameter
//!   (`"foo=a b"` gives `foo`, `a b`), together with the matching last
//!   character when it is a quote. Quotes anywhere else stay
//!   (`foo=a"b c"` gives `a"b c"`), as they do for the kernel. A backslash
//!   escapes nothing.
//! * The first `=` splits name and value; `name` alone has no value (`None`),
//!   `name=` has the empty value.
//! * A bare `--` ends the kernel's and our parameters: every later word goes,
//!   unchanged, into [`BootParams::init_args`] (`k=v` words are joined back).
//!
//! # Meaning
//!
//! * Parameter names match with `-` and `_` equivalent (as the kernel and
//!   systemd do): `boot.shell-on-fail` is `boot.shell_on_fail`.
//! * The last repeat of a parameter wins, and aliases count as repeats of
//!   each other (`boot.trace debugtrace=0` leaves `trace` off), except that
//!   `toplevel=` / `systemConfig=` always win over a toplevel derived from
//!   `init=`.
//! * An empty value (`root=`) unsets an `Option` field, with a warning.
//! * Flags (`boot.shell_on_fail`, `quiet`, …): bare or `=1|y|yes|true|on` set
//!   them, `=0|n|no|false|off` clear them, anything else is a warning and is
//!   ignored. `stage1panic` is the NixOS exception: only `stage1panic=1` sets
//!   `panic_on_fail`, any other value (or none) clears it.
//! * `boot.debug_panic=stage1|stage2` (a test switch): PID 1 panics on
//!   purpose at the start of that stage, to show what a panic does (the
//!   failure menu, not a kernel panic). Any other value, or none, is a
//!   warning and is ignored.
//! * `module.param[=value]` with a dot, outside our namespaces `boot.` and
//!   `rd.`, is a module parameter for modprobe-style loading.
//! * Everything else is kept in [`BootParams::unknown`], in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `/proc/cmdline` lives.
pub const PROC_CMDLINE: &str = "/proc/cmdline";

/// Everything stage-1 and stage-2 need from the kernel command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BootParams {
    /// `toplevel=` (alias `systemConfig=`), or the directory of `init=X/init`.
    /// Explicit `toplevel=`/`systemConfig=` win over the `init=`-derived
    /// value; among the same kind the last repeat wins.
    pub toplevel: Option<PathBuf>,
    /// The raw `init=` value.
    pub init: Option<PathBuf>,
    /// `root=`.
    pub root: Option<RootSpec>,
    /// `realroot=`: a disk for `/` instead of a tmpfs.
    pub realroot: Option<RootSpec>,
    /// `rootfstype=`.
    pub rootfstype: Option<String>,
    /// `rootflags=`.
    pub rootflags: Option<String>,
    /// `boot.root_timeout=SECONDS` or `rootdelay=SECONDS` (fractions allowed).
    pub root_timeout: Option<Duration>,
    /// `boot.tmpfs_size=` (size of the root tmpfs, e.g. `50%` or `1G`).
    pub tmpfs_size: Option<String>,
    /// `boot.module_threads=N`: threads loading modules (`1` = serially,
    /// in plan order; default: one per CPU).
    pub module_threads: Option<usize>,
    /// `boot.stop_timeout=SECONDS`: how long services get to stop at
    /// shutdown before SIGKILL (default: runit's 7 s).
    pub stop_timeout: Option<Duration>,
    /// The last `console=`, whole (`ttyS0,115200`); see [`Self::console_device`].
    pub console: Option<String>,
    /// `boot.shell_on_fail`.
    pub shell_on_fail: bool,
    /// `boot.debug1` / `debug1`.
    pub debug1: bool,
    /// `boot.debug1devices`.
    pub debug1devices: bool,
    /// `boot.debug1mounts`.
    pub debug1mounts: bool,
    /// `boot.panic_on_fail` / `stage1panic=1`.
    pub panic_on_fail: bool,
    /// `boot.debug_panic=stage1|stage2`: panic in PID 1 at the start of
    /// that stage (tests of the panic hook).
    pub debug_panic: Option<Stage>,
    /// `boot.trace` / `debugtrace`.
    pub trace: bool,
    /// `copytoram`.
    pub copytoram: bool,
    /// `quiet`.
    pub quiet: bool,
    /// `loglevel=N`, 0 to 7.
    pub loglevel: Option<u8>,
    /// `rd.modules_load=` and `modules_load=`: comma separated, accumulated
    /// over repeats, `-` normalized to `_`, each name once in first-seen order.
    pub modules_load: Vec<String>,
    /// Modules never to load for a device or a list: `rd.driver.blacklist=`,
    /// `module_blacklist=` and `modprobe.blacklist=` (comma separated,
    /// accumulated, normalized). The kernel itself also refuses the
    /// `module_blacklist=` ones.
    pub module_blacklist: Vec<String>,
    /// Every `ip=` value, in order (dracut allows one per interface); parsed
    /// by `net::config` when the network is set up, so that a bad one stops
    /// at the failure menu instead of being dropped.
    pub ip: Vec<String>,
    /// `BOOTIF=` (iPXE: the MAC of the NIC it booted from).
    pub bootif: Option<String>,
    /// Every `ifname=<name>:<mac>` (dracut).
    pub ifname: Vec<String>,
    /// `sha256=<hex>`: the checksum of a downloaded store image, verified
    /// before it is mounted.
    pub sha256: Option<String>,
    /// `boot.coldplug=0` turns off loading drivers for the devices found in
    /// `/sys` and announced by uevents; only listed and mount-implied
    /// modules load then.
    pub coldplug_off: bool,
    /// `module.param=value` as `{"module": ["param=value"]}`, module name
    /// normalized (`-` to `_`); a value with whitespace is re-quoted
    /// (`param="a b"`) so the kernel's module parameter parser groups it.
    pub module_params: BTreeMap<String, Vec<String>>,
    /// Every word after the first bare `--`.
    pub init_args: Vec<String>,
    /// Parameters we do not interpret, in order.
    pub unknown: Vec<(String, Option<String>)>,
    /// Problems found while parsing (each parameter that was ignored and why).
    pub warnings: Vec<String>,
}

/// One of PID 1's two stages (see [`BootParams::debug_panic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// In the initramfs, up to switch_root.
    Stage1,
    /// After switch_root (or as `$toplevel/init`).
    Stage2,
}

impl Stage {
    /// The value `boot.debug_panic=` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Stage1 => "stage1",
            Stage::Stage2 => "stage2",
        }
    }
}

/// What `root=` / `realroot=` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSpec {
    /// A device path; a bare name (`vda`) becomes `/dev/vda`.
    Path(PathBuf),
    /// `LABEL=x`.
    Label(String),
    /// `UUID=x`.
    Uuid(String),
    /// `PARTUUID=x`: found in the GPT/MBR partition tables.
    PartUuid(String),
    /// `PARTLABEL=x`: a GPT partition name.
    PartLabel(String),
    /// `http://host[:port]/path` (or `https://`, refused when fetched): a
    /// store image to download into RAM.
    Url(String),
}

impl RootSpec {
    /// Parses a `root=` value; `None` for the empty string.
    pub fn parse(value: &str) -> Option<Self> {
        if value.is_empty() {
            return None;
        }
        let prefixed = |prefix: &str| -> Option<String> {
            let head = value.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| value[prefix.len()..].to_owned())
        };
        if let Some(v) = prefixed("PARTUUID=") {
            return Some(Self::PartUuid(v));
        }
        if let Some(v) = prefixed("PARTLABEL=") {
            return Some(Self::PartLabel(v));
        }
        if let Some(v) = prefixed("UUID=") {
            return Some(Self::Uuid(v));
        }
        if let Some(v) = prefixed("LABEL=") {
            return Some(Self::Label(v));
        }
        if prefixed("http://").is_some() || prefixed("https://").is_some() {
            return Some(Self::Url(value.to_owned()));
        }
        if value.contains('/') {
            Some(Self::Path(PathBuf::from(value)))
        } else {
            Some(Self::Path(Path::new("/dev").join(value)))
        }
    }

    /// The device node udev would create for this spec
    /// (`/dev/disk/by-label/x`, …), or the path itself.
    pub fn device_path(&self) -> PathBuf {
        match self {
            Self::Path(p) => p.clone(),
            Self::Label(l) => Path::new("/dev/disk/by-label").join(l),
            Self::Uuid(u) => Path::new("/dev/disk/by-uuid").join(u),
            Self::PartUuid(u) => Path::new("/dev/disk/by-partuuid").join(u),
            Self::PartLabel(l) => Path::new("/dev/disk/by-partlabel").join(l),
            Self::Url(u) => PathBuf::from(u),
        }
    }
}

impl std::fmt::Display for RootSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Label(l) => write!(f, "LABEL={l}"),
            Self::Uuid(u) => write!(f, "UUID={u}"),
            Self::PartUuid(u) => write!(f, "PARTUUID={u}"),
            Self::PartLabel(l) => write!(f, "PARTLABEL={l}"),
            Self::Url(u) => f.write_str(u),
        }
    }
}

/// The kernel's `isspace` on ASCII (Latin-1 NBSP is not handled: the command
/// line is UTF-8 here).
fn is_kspace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// One parameter as the kernel splits it: the name and the value after the
/// first `=`, with the kernel's quote removal.
fn next_arg(args: &str) -> ((&str, Option<&str>), &str) {
    let (quoted, args) = match args.strip_prefix('"') {
        Some(rest) => (true, rest),
        None => (false, args),
    };
    let mut in_quote = quoted;
    let mut equals = None;
    let mut end = args.len();
    for (i, c) in args.char_indices() {
        if is_kspace(c) && !in_quote {
            end = i;
            break;
        }
        if equals.is_none() && c == '=' {
            equals = Some(i);
        }
        if c == '"' {
            in_quote = !in_quote;
        }
    }
    let word = &args[..end];
    let rest = args[end..].trim_start_matches(is_kspace);
    let pair = match equals {
        None => {
            let mut param = word;
            if quoted {
                param = param.strip_suffix('"').unwrap_or(param);
            }
            (param, None)
        }
        Some(eq) => {
            let param = &word[..eq];
            let mut val = &word[eq + 1..];
            let mut strip = quoted;
            if let Some(v) = val.strip_prefix('"') {
                val = v;
                strip = true;
            }
            if strip {
                val = val.strip_suffix('"').unwrap_or(val);
            }
            (param, Some(val))
        }
    };
    (pair, rest)
}

/// Splits a command line the way the kernel does: the parameters before a
/// bare `--`, and the words after it (with `k=v` joined back).
pub fn split(cmdline: &str) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let mut params = Vec::new();
    let mut init_args = Vec::new();
    let mut rest = cmdline.trim_start_matches(is_kspace);
    let mut after_dashes = false;
    while !rest.is_empty() {
        let ((param, val), next) = next_arg(rest);
        rest = next;
        if after_dashes {
            init_args.push(match val {
                Some(v) => format!("{param}={v}"),
                None => param.to_owned(),
            });
        } else if val.is_none() && param == "--" {
            after_dashes = true;
        } else {
            params.push((param.to_owned(), val.map(str::to_owned)));
        }
    }
    (params, init_args)
}

/// Module names and parameter names treat `-` and `_` alike; we use `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// `toplevel=` / `systemConfig=` (explicit) vs. the directory of `init=X/init`
/// (derived), collected while parsing.
#[derive(Default)]
struct Toplevel {
    explicit_given: bool,
    explicit: Option<PathBuf>,
    derived: Option<PathBuf>,
}

fn parse_flag(value: Option<&str>) -> Option<bool> {
    match value {
        None => Some(true),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "" | "1" | "y" | "yes" | "true" | "on" => Some(true),
            "0" | "n" | "no" | "false" | "off" => Some(false),
            _ => None,
        },
    }
}

fn parse_seconds(v: &str) -> Option<Duration> {
    crate::decimal::parse_seconds(v.trim())
}

impl BootParams {
    /// Parses a whole command line. Never fails; see the module docs.
    pub fn parse(cmdline: &str) -> Self {
        let (params, init_args) = split(cmdline);
        let mut bp = BootParams {
            init_args,
            ..Self::default()
        };
        let mut toplevel = Toplevel::default();
        for (name, value) in params {
            bp.apply(&name, value, &mut toplevel);
        }
        bp.toplevel = if toplevel.explicit_given {
            toplevel.explicit
        } else {
            toplevel.derived
        };
        bp
    }

    fn apply(&mut self, raw_name: &str, value: Option<String>, toplevel: &mut Toplevel) {
        let key = normalize_name(raw_name);
        let val = value.as_deref();
        match key.as_str() {
            "toplevel" | "systemConfig" => {
                toplevel.explicit_given = true;
                toplevel.explicit = self.string(raw_name, val).map(PathBuf::from);
            }
            "init" => {
                self.init = self.string(raw_name, val).map(PathBuf::from);
                toplevel.derived = self.init.as_deref().and_then(|p| {
                    (p.file_name()? == "init")
                        .then(|| p.parent())
                        .flatten()
                        .filter(|d| !d.as_os_str().is_empty())
                        .map(Path::to_path_buf)
                });
            }
            "root" => self.root = self.string(raw_name, val).and_then(|v| RootSpec::parse(&v)),
            "realroot" => {
                self.realroot = self.string(raw_name, val).and_then(|v| RootSpec::parse(&v));
            }
            "rootfstype" => self.rootfstype = self.string(raw_name, val),
            "rootflags" => self.rootflags = self.string(raw_name, val),
            "boot.tmpfs_size" => self.tmpfs_size = self.string(raw_name, val),
            "console" => self.console = self.string(raw_name, val),
            "ip" => {
                let v = self.string(raw_name, val);
                self.ip.extend(v);
            }
            "ifname" => {
                let v = self.string(raw_name, val);
                self.ifname.extend(v);
            }
            "BOOTIF" => self.bootif = self.string(raw_name, val),
            "sha256" => self.sha256 = self.string(raw_name, val),
            "boot.root_timeout" | "rootdelay" => self.root_timeout = self.seconds(raw_name, val),
            "boot.stop_timeout" => self.stop_timeout = self.seconds(raw_name, val),
            "boot.module_threads" => {
                self.module_threads = self.string(raw_name, val).and_then(|v| {
                    let n = v.trim().parse::<usize>().ok();
                    if n.is_none() {
                        self.warn(format!("{raw_name}={v}: not a number of threads, ignored"));
                    }
                    n
                });
            }
            "loglevel" => {
                self.loglevel = self.string(raw_name, val).and_then(|v| {
                    let n = v.trim().parse::<u8>().ok().filter(|n| *n <= 7);
                    if n.is_none() {
                        self.warn(format!("{raw_name}={v}: not a number 0-7, ignored"));
                    }
                    n
                });
            }
            "boot.shell_on_fail" => self.flag(raw_name, val, |b| &mut b.shell_on_fail),
            "boot.debug1" | "debug1" => self.flag(raw_name, val, |b| &mut b.debug1),
            "boot.debug1devices" => self.flag(raw_name, val, |b| &mut b.debug1devices),
            "boot.debug1mounts" => self.flag(raw_name, val, |b| &mut b.debug1mounts),
            "boot.panic_on_fail" => self.flag(raw_name, val, |b| &mut b.panic_on_fail),
            "stage1panic" => self.panic_on_fail = val == Some("1"),
            "boot.debug_panic" => {
                self.debug_panic = self.string(raw_name, val).and_then(|v| {
                    let stage = [Stage::Stage1, Stage::Stage2]
                        .into_iter()
                        .find(|s| s.name() == v);
                    if stage.is_none() {
                        self.warn(format!("{raw_name}={v}: not stage1 or stage2, ignored"));
                    }
                    stage
                });
            }
            "boot.trace" | "debugtrace" => self.flag(raw_name, val, |b| &mut b.trace),
            "copytoram" => self.flag(raw_name, val, |b| &mut b.copytoram),
            "quiet" => self.flag(raw_name, val, |b| &mut b.quiet),
            "rd.modules_load" | "modules_load" => {
                self.module_list(raw_name, val, |b| &mut b.modules_load);
            }
            "rd.driver.blacklist" | "module_blacklist" | "modprobe.blacklist" => {
                self.module_list(raw_name, val, |b| &mut b.module_blacklist);
            }
            "boot.coldplug" => match parse_flag(val) {
                Some(on) => self.coldplug_off = !on,
                None => self.warn(format!(
                    "{raw_name}={}: not a boolean (1/0, yes/no, on/off), ignored",
                    val.unwrap_or_default()
                )),
            },
            _ => {
                if let Some((module, param)) = key.split_once('.') {
                    let ours = matches!(module, "boot" | "rd");
                    if !ours && !module.is_empty() && !param.is_empty() {
                        // Keep the parameter's own spelling after the dot.
                        let param = &raw_name[module.len() + 1..];
                        let entry = match val {
                            None => param.to_owned(),
                            Some(v) if v.contains(is_kspace) => format!("{param}=\"{v}\""),
                            Some(v) => format!("{param}={v}"),
                        };
                        self.module_params
                            .entry(module.to_owned())
                            .or_default()
                            .push(entry);
                        return;
                    }
                }
                self.unknown.push((raw_name.to_owned(), value));
            }
        }
    }

    /// A comma-separated list of module names, added to `field` (each once,
    /// normalized, in first-seen order).
    fn module_list(
        &mut self,
        name: &str,
        value: Option<&str>,
        field: fn(&mut Self) -> &mut Vec<String>,
    ) {
        let Some(list) = value.filter(|v| !v.is_empty()) else {
            self.warn(format!("{name}: no module names, ignored"));
            return;
        };
        for m in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let m = normalize_name(m);
            let names = field(self);
            if !names.contains(&m) {
                names.push(m);
            }
        }
    }

    /// A duration in (possibly fractional) seconds; a bad value is a warning.
    fn seconds(&mut self, name: &str, value: Option<&str>) -> Option<Duration> {
        self.string(name, value).and_then(|v| {
            let d = parse_seconds(&v);
            if d.is_none() {
                self.warn(format!("{name}={v}: not a number of seconds, ignored"));
            }
            d
        })
    }

    fn string(&mut self, name: &str, value: Option<&str>) -> Option<String> {
        match value {
            Some(v) if !v.is_empty() => Some(v.to_owned()),
            Some(_) => {
                self.warn(format!("{name}=: empty value, unset"));
                None
            }
            None => {
                self.warn(format!("{name}: needs a value ({name}=...), ignored"));
                None
            }
        }
    }

    fn flag(&mut self, name: &str, value: Option<&str>, field: fn(&mut Self) -> &mut bool) {
        match parse_flag(value) {
            Some(b) => *field(self) = b,
            None => self.warn(format!(
                "{name}={}: not a boolean (1/0, yes/no, on/off), ignored",
                value.unwrap_or_default()
            )),
        }
    }

    fn warn(&mut self, msg: String) {
        self.warnings.push(msg);
    }

    /// Problems found while parsing, e.g. `loglevel=x: not a number 0-7, ignored`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The console device without options or `/dev/`: `ttyS0,115200n8` gives `ttyS0`.
    pub fn console_device(&self) -> Option<String> {
        let c = self.console.as_deref()?;
        let dev = c.split(',').next().unwrap_or(c);
        let dev = dev.strip_prefix("/dev/").unwrap_or(dev);
        (!dev.is_empty()).then(|| dev.to_owned())
    }

    /// Parameters for `module` from the command line, joined by spaces.
    pub fn module_params_for(&self, module: &str) -> Option<String> {
        self.module_params
            .get(&normalize_name(module))
            .map(|v| v.join(" "))
    }

    /// Reads and parses `/proc/cmdline`.
    pub fn read() -> anyhow::Result<Self> {
        Self::read_from(Path::new(PROC_CMDLINE))
    }

    /// Reads and parses a command line from `path`.
    pub fn read_from(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read(path)
            .with_context(|| format!("reading the kernel command line from {}", path.display()))?;
        Ok(Self::parse(&String::from_utf8_lossy(&text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> BootParams {
        BootParams::parse(s)
    }

    fn pair(name: &str, val: Option<&str>) -> (String, Option<String>) {
        (name.to_owned(), val.map(str::to_owned))
    }

    #[test]
    fn network_parameters() {
        let b = BootParams::parse(
            "ip=eth0:dhcp ip=eth1:dhcp BOOTIF=01-52-54-00-12-34-56 ifname=lan:52:54:00:12:34:56 sha256=AB12",
        );
        assert_eq!(b.ip, ["eth0:dhcp", "eth1:dhcp"]);
        assert_eq!(b.bootif.as_deref(), Some("01-52-54-00-12-34-56"));
        assert_eq!(b.ifname, ["lan:52:54:00:12:34:56"]);
        assert_eq!(b.sha256.as_deref(), Some("AB12"));
        assert!(b.unknown.is_empty(), "{:?}", b.unknown);
        let b = BootParams::parse("ip=");
        assert!(b.ip.is_empty());
        assert_eq!(b.warnings().len(), 1);
    }

    #[test]
    fn split_follows_kernel_quoting() {
        let (params, init) = split("  a b=1 c=\"x y\" \"d=e f\" g=h\"i j\" \"k l\" m=\"\" n= \t\n");
        assert_eq!(
            params,
            vec![
                pair("a", None),
                pair("b", Some("1")),
                pair("c", Some("x y")),
                pair("d", Some("e f")),
                pair("g", Some("h\"i j\"")),
                pair("k l", None),
                pair("m", Some("")),
                pair("n", Some("")),
            ]
        );
        assert!(init.is_empty());
    }

    #[test]
    fn split_unbalanced_quote_runs_to_the_end() {
        let (params, _) = split("a=\"b c d");
        assert_eq!(params, vec![pair("a", Some("b c d"))]);
        let (params, _) = split("\"");
        assert_eq!(params, vec![pair("", None)]);
    }

    #[test]
    fn real_not_os_cmdline() {
        let b = p("console=ttyS0 systemConfig=/nix/store/abc-not-os quiet panic=-1\n");
        assert_eq!(b.console.as_deref(), Some("ttyS0"));
        assert_eq!(b.toplevel, Some(PathBuf::from("/nix/store/abc-not-os")));
        assert!(b.quiet);
        assert_eq!(b.unknown, vec![pair("panic", Some("-1"))]);
        assert!(b.warnings().is_empty());
        assert!(b.module_params.is_empty());
    }

    #[test]
    fn nixos_cmdline() {
        let b = p(
            "BOOT_IMAGE=(hd0,gpt2)/kernel init=/nix/store/xyz-nixos-system-foo/init \
             root=LABEL=nixos loglevel=4 boot.shell_on_fail",
        );
        assert_eq!(
            b.init,
            Some(PathBuf::from("/nix/store/xyz-nixos-system-foo/init"))
        );
        assert_eq!(
            b.toplevel,
            Some(PathBuf::from("/nix/store/xyz-nixos-system-foo"))
        );
        assert_eq!(b.root, Some(RootSpec::Label("nixos".into())));
        assert_eq!(b.loglevel, Some(4));
        assert!(b.shell_on_fail);
        assert_eq!(
            b.unknown,
            vec![pair("BOOT_IMAGE", Some("(hd0,gpt2)/kernel"))]
        );
    }

    #[test]
    fn toplevel_precedence() {
        // explicit beats init-derived, whatever the order
        let b = p("toplevel=/a init=/b/init");
        assert_eq!(b.toplevel, Some(PathBuf::from("/a")));
        assert_eq!(b.init, Some(PathBuf::from("/b/init")));
        let b = p("init=/b/init systemConfig=/c toplevel=/a");
        assert_eq!(b.toplevel, Some(PathBuf::from("/a")));
        let b = p("toplevel=/a systemConfig=/c");
        assert_eq!(b.toplevel, Some(PathBuf::from("/c")));
        // last init= wins
        let b = p("init=/b/init init=/d/init");
        assert_eq!(b.toplevel, Some(PathBuf::from("/d")));
        // init= not named init: no toplevel
        let b = p("init=/bin/sh");
        assert_eq!(b.toplevel, None);
        assert_eq!(b.init, Some(PathBuf::from("/bin/sh")));
        let b = p("init=/init");
        assert_eq!(b.toplevel, Some(PathBuf::from("/")));
        let b = p("init=init");
        assert_eq!(b.toplevel, None);
        // explicit empty unsets, and still beats init=
        let b = p("init=/b/init toplevel=");
        assert_eq!(b.toplevel, None);
        assert_eq!(b.warnings().len(), 1);
    }

    #[test]
    fn last_repeat_wins_and_empty_unsets() {
        let b = p("root=/dev/vda root=/dev/vdb console=tty0 console=ttyS0,115200n8");
        assert_eq!(b.root, Some(RootSpec::Path("/dev/vdb".into())));
        assert_eq!(b.console.as_deref(), Some("ttyS0,115200n8"));
        assert_eq!(b.console_device().as_deref(), Some("ttyS0"));
        let b = p("root=/dev/vda root=");
        assert_eq!(b.root, None);
        assert_eq!(b.warnings(), ["root=: empty value, unset"]);
        let b = p("root");
        assert_eq!(b.root, None);
        assert_eq!(b.warnings().len(), 1);
    }

    #[test]
    fn root_specs() {
        assert_eq!(RootSpec::parse(""), None);
        assert_eq!(
            RootSpec::parse("vda"),
            Some(RootSpec::Path("/dev/vda".into()))
        );
        assert_eq!(
            RootSpec::parse("/dev/sda1"),
            Some(RootSpec::Path("/dev/sda1".into()))
        );
        assert_eq!(
            RootSpec::parse("UUID=12-34"),
            Some(RootSpec::Uuid("12-34".into()))
        );
        assert_eq!(
            RootSpec::parse("uuid=ab"),
            Some(RootSpec::Uuid("ab".into()))
        );
        assert_eq!(
            RootSpec::parse("PARTUUID=ab-01"),
            Some(RootSpec::PartUuid("ab-01".into()))
        );
        assert_eq!(
            RootSpec::parse("PARTLABEL=nixstore"),
            Some(RootSpec::PartLabel("nixstore".into()))
        );
        assert_eq!(
            RootSpec::parse("http://10.0.2.100/nix-store.squashfs"),
            Some(RootSpec::Url("http://10.0.2.100/nix-store.squashfs".into()))
        );
        assert_eq!(
            RootSpec::parse("HTTPS://h/x"),
            Some(RootSpec::Url("HTTPS://h/x".into()))
        );
        assert_eq!(
            RootSpec::parse("LABEL=my root"),
            Some(RootSpec::Label("my root".into()))
        );
        let b = p("root=\"LABEL=my root\" realroot=/dev/vdb rootfstype=ext4 rootflags=ro,noatime");
        assert_eq!(b.root, Some(RootSpec::Label("my root".into())));
        assert_eq!(b.realroot, Some(RootSpec::Path("/dev/vdb".into())));
        assert_eq!(b.rootfstype.as_deref(), Some("ext4"));
        assert_eq!(b.rootflags.as_deref(), Some("ro,noatime"));
        assert_eq!(
            RootSpec::Label("x".into()).device_path(),
            PathBuf::from("/dev/disk/by-label/x")
        );
        for s in [
            "/dev/vda",
            "LABEL=a",
            "UUID=b",
            "PARTUUID=c",
            "PARTLABEL=d",
            "http://h:8080/p",
        ] {
            assert_eq!(RootSpec::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn flags_and_aliases() {
        let b = p("boot.debug1 boot.debug1devices boot.debug1mounts boot.trace copytoram");
        assert!(b.debug1 && b.debug1devices && b.debug1mounts && b.trace && b.copytoram);
        assert!(p("debug1").debug1);
        assert!(p("debugtrace").trace);
        assert!(!p("boot.trace debugtrace=0").trace);
        assert!(p("boot.panic_on_fail").panic_on_fail);
        assert!(p("stage1panic=1").panic_on_fail);
        assert!(!p("stage1panic=0").panic_on_fail);
        assert!(!p("stage1panic=yes").panic_on_fail);
        assert!(!p("stage1panic").panic_on_fail);
        assert!(!p("boot.panic_on_fail stage1panic=0").panic_on_fail);
        assert!(p("boot.shell-on-fail").shell_on_fail);
        assert!(!p("quiet quiet=off").quiet);
        let b = p("quiet=maybe");
        assert!(!b.quiet);
        assert_eq!(b.warnings().len(), 1);
        assert!(
            b.warnings()[0].starts_with("quiet=maybe"),
            "{:?}",
            b.warnings()
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(p("loglevel=7").loglevel, Some(7));
        let b = p("loglevel=4 loglevel=x");
        assert_eq!(b.loglevel, None);
        assert_eq!(b.warnings(), ["loglevel=x: not a number 0-7, ignored"]);
        assert_eq!(p("loglevel=8").loglevel, None);
        assert_eq!(p("loglevel=-1").loglevel, None);
        assert_eq!(
            p("boot.root_timeout=10").root_timeout,
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            p("rootdelay=1.5").root_timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            p("boot.root_timeout=3 rootdelay=5").root_timeout,
            Some(Duration::from_secs(5))
        );
        let b = p("rootdelay=-1");
        assert_eq!(b.root_timeout, None);
        assert_eq!(b.warnings().len(), 1);
        assert_eq!(p("rootdelay=inf").root_timeout, None);
        assert_eq!(p("boot.tmpfs_size=50%").tmpfs_size.as_deref(), Some("50%"));
        assert_eq!(p("boot.module_threads=1").module_threads, Some(1));
        assert_eq!(
            p("boot.stop_timeout=2").stop_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(p("boot.module_threads=x").module_threads, None);
    }

    #[test]
    fn debug_panic_names_a_stage() {
        assert_eq!(
            p("boot.debug_panic=stage1").debug_panic,
            Some(Stage::Stage1)
        );
        assert_eq!(
            p("boot.debug-panic=stage2").debug_panic,
            Some(Stage::Stage2)
        );
        assert_eq!(p("").debug_panic, None);
        assert_eq!(
            p("boot.debug_panic=stage3").warnings(),
            ["boot.debug_panic=stage3: not stage1 or stage2, ignored"]
        );
        for bad in [
            "boot.debug_panic",
            "boot.debug_panic=",
            "boot.debug_panic=stage3",
        ] {
            let b = p(&format!("boot.debug_panic=stage1 {bad}"));
            assert_eq!(b.debug_panic, None, "{bad}");
            assert_eq!(b.warnings().len(), 1, "{bad}: {:?}", b.warnings());
            assert!(
                b.warnings()[0].starts_with("boot.debug_panic"),
                "{bad}: {:?}",
                b.warnings()
            );
            assert!(b.unknown.is_empty(), "{bad}: {:?}", b.unknown);
        }
    }

    #[test]
    fn modules_load_accumulates() {
        let b =
            p("rd.modules_load=virtio-blk,dm_mod modules_load=dm-mod,,loop rd.modules-load=tun");
        assert_eq!(b.modules_load, ["virtio_blk", "dm_mod", "loop", "tun"]);
        assert!(b.module_params.is_empty());
        let b = p("modules_load=");
        assert!(b.modules_load.is_empty());
        assert_eq!(b.warnings().len(), 1);
    }

    #[test]
    fn module_params() {
        let b = p("virtio-net.napi_tx=1 dm_mod.use_blk_mq virtio_net.csum=0 \
             foo.bar=\"a b\" boot.unknown=1 rd.driver.pre=x .x=1 y.=2");
        assert_eq!(
            b.module_params.get("virtio_net").unwrap(),
            &["napi_tx=1", "csum=0"]
        );
        assert_eq!(b.module_params.get("dm_mod").unwrap(), &["use_blk_mq"]);
        assert_eq!(b.module_params.get("foo").unwrap(), &["bar=\"a b\""]);
        assert_eq!(
            b.module_params_for("virtio-net").as_deref(),
            Some("napi_tx=1 csum=0")
        );
        assert_eq!(b.module_params.len(), 3);
        assert_eq!(
            b.unknown,
            vec![
                pair("boot.unknown", Some("1")),
                pair("rd.driver.pre", Some("x")),
                pair(".x", Some("1")),
                pair("y.", Some("2")),
            ]
        );
    }

    #[test]
    fn dashes_end_our_params() {
        let b = p("quiet -- single foo=\"b c\" -- root=/dev/x");
        assert!(b.quiet);
        assert_eq!(b.init_args, ["single", "foo=b c", "--", "root=/dev/x"]);
        assert_eq!(b.root, None);
        // a valued -- does not end anything; a quoted one does (the kernel
        // removes the quotes before comparing)
        let b = p("--=1 x");
        assert!(b.init_args.is_empty());
        assert_eq!(b.unknown.len(), 2);
        assert_eq!(p("\"--\" x").init_args, ["x"]);
        assert!(p("--").init_args.is_empty());
    }

    #[test]
    fn console_device() {
        let mut b = BootParams::default();
        assert_eq!(b.console_device(), None);
        b.console = Some("/dev/ttyS1".into());
        assert_eq!(b.console_device().as_deref(), Some("ttyS1"));
        b.console = Some(",115200".into());
        assert_eq!(b.console_device(), None);
    }

    #[test]
    fn read_from_file() {
        let dir = std::env::temp_dir().join(format!("stage1-cmdline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("cmdline");
        std::fs::write(&f, b"root=/dev/vda quiet\n").unwrap();
        let b = BootParams::read_from(&f).unwrap();
        assert!(b.quiet);
        let err = BootParams::read_from(&dir.join("nope")).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = BootParams::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_cmdline_alphabet(s in "[a-z._= \"\\-\t,0-9/]{0,80}") {
            let b = BootParams::parse(&s);
            for w in b.warnings() {
                prop_assert!(!w.is_empty());
            }
        }

        /// Rendering parameters with quoted values and splitting them again
        /// gives them back.
        #[test]
        fn split_round_trips(
            params in proptest::collection::vec(
                ("[a-zA-Z_.][a-zA-Z0-9_.\\-]{0,12}", proptest::option::of("[^\"]{0,12}")),
                0..8,
            ),
            init in proptest::collection::vec("[a-z0-9=/]{1,8}", 0..4),
        ) {
            let mut line = String::new();
            for (k, v) in &params {
                line.push_str(k);
                if let Some(v) = v {
                    line.push_str("=\"");
                    line.push_str(v);
                    line.push('"');
                }
                line.push(' ');
            }
            if !init.is_empty() {
                line.push_str("-- ");
                line.push_str(&init.join(" "));
            }
            let (got, got_init) = split(&line);
            prop_assert_eq!(got, params);
            prop_assert_eq!(got_init, init);
        }
    }
}
