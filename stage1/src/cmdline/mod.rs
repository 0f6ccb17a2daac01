//! The kernel command line as one typed value, [`BootParams`].
//!
//! Nothing else in the binary reads `/proc/cmdline`. Parsing never fails: a
//! value that does not make sense becomes a warning (see
//! [`BootParams::warnings`]) and the parameter is treated as not given.
//! A mistake costs one line at parse time, not a wait or a cryptic mount
//! error later:
//!
//! * a `boot.*`/`rd.*` name we do not know is a warning naming the nearest
//!   one we do (`did you mean boot.shell_on_fail?`); other unknown names
//!   belong to the kernel or to other programs and pass silently;
//! * a value that can never work says what would: `boot.tmpfs_size=-5` is
//!   ignored (the default applies), while a `root=`/`realroot=` that can
//!   name nothing (`UUID=zz`, `http://` with no host) stays as given and
//!   is the error of [`BootParams::check`], which stage-1 stops at before
//!   it plans: falling back to `/dev/vda` could boot another system, or
//!   wait 20 s for nothing. (A malformed `sha256=` is refused by the fetch,
//!   before a byte is downloaded.)
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
//! * `boot.debug_panic=stage1|stage2|supervise` (a test switch): PID 1
//!   panics on purpose at the start of that stage, to show what a panic
//!   does (the failure menu, not a kernel panic), or with `supervise`
//!   inside the event loop at the first SIGHUP (a re-exec keeping every
//!   service). Any other value, or none, is a warning and is ignored.
//! * `module.param[=value]` with a dot, outside our namespaces `boot.` and
//!   `rd.`, is a module parameter for modprobe-style loading.
//! * Everything else is kept in [`BootParams::unknown`], in order.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod check;
mod root;
mod split;
#[cfg(test)]
mod tests;

use crate::modules::NameMap;
pub use root::{RootSpec, ShareFs};
use split::is_kspace;
pub use split::split;

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
    /// `boot.xchg=TAG`: the host's 9p share `TAG` mounted read-write at
    /// `/tmp/xchg` (runvm's `SHARED_DIR`, tag `shared`), as NixOS's VMs do.
    pub xchg: Option<String>,
    /// `boot.module_threads=N`: threads loading modules (`1` = serially,
    /// in plan order; default: one per CPU).
    pub module_threads: Option<usize>,
    /// `boot.stop_timeout=SECONDS`: how long services get to stop at
    /// shutdown before SIGKILL (default: runit's 7 s).
    pub stop_timeout: Option<Duration>,
    /// `boot.power_button=poweroff|reboot|ignore`: what a press of the
    /// power button does in the running system, unless
    /// `/etc/init/power-button` says otherwise (default: power off).
    pub power_button: Option<PowerButton>,
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
    /// `boot.debug_panic=stage1|stage2|supervise`: panic in PID 1 at the
    /// start of that stage, or while supervising (tests of the panic hook).
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
    /// `boot.require_sha256`: refuse to fetch a store image over the
    /// network without `sha256=` (HTTP has no other integrity check).
    pub require_sha256: bool,
    /// `boot.coldplug=0` turns off loading drivers for the devices found in
    /// `/sys` and announced by uevents; only listed and mount-implied
    /// modules load then.
    pub coldplug_off: bool,
    /// `module.param=value` as `{"module": ["param=value"]}`, module name
    /// normalized (`-` to `_`); a value with whitespace is re-quoted
    /// (`param="a b"`) so the kernel's module parameter parser groups it.
    /// Modules in command-line order (a NameMap: a BTreeMap of its own
    /// types was about 1.5 KiB of dist/init).
    pub module_params: NameMap<Vec<String>>,
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
    /// In the event loop, at the first SIGHUP.
    Supervise,
}

impl Stage {
    /// The value `boot.debug_panic=` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Stage1 => "stage1",
            Stage::Stage2 => "stage2",
            Stage::Supervise => "supervise",
        }
    }
}

/// What the power button does (see [`BootParams::power_button`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerButton {
    PowerOff,
    Reboot,
    /// Left to whoever else reads the button (acpid, a desktop).
    Ignore,
}

impl PowerButton {
    /// The setting's own spelling, as `boot.power_button=` and
    /// `/etc/init/power-button` take it (surrounding whitespace ignored).
    pub fn parse(word: &str) -> Option<Self> {
        match word.trim() {
            "poweroff" => Some(Self::PowerOff),
            "reboot" => Some(Self::Reboot),
            "ignore" => Some(Self::Ignore),
            _ => None,
        }
    }
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

/// What a switch that is not one gets told (see [`BootParams::ignored`]).
const NOT_A_BOOLEAN: &str = "not a boolean (1/0, yes/no, on/off)";

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
        if !self.apply_value(&key, raw_name, val, toplevel)
            && !self.apply_switch(&key, raw_name, val)
        {
            self.apply_other(&key, raw_name, value);
        }
    }

    /// Parameters with a value of their own: paths, devices, strings,
    /// lists. `false` for a name that is none of them.
    fn apply_value(
        &mut self,
        key: &str,
        raw_name: &str,
        val: Option<&str>,
        toplevel: &mut Toplevel,
    ) -> bool {
        match key {
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
            "root" => self.root = self.root_spec(raw_name, val),
            "realroot" => self.realroot = self.root_spec(raw_name, val),
            "rootfstype" => self.rootfstype = self.string(raw_name, val),
            "rootflags" => self.rootflags = self.string(raw_name, val),
            "boot.xchg" => self.xchg = self.string(raw_name, val),
            "boot.tmpfs_size" => {
                self.tmpfs_size = self.string(raw_name, val).filter(|v| {
                    let ok = check::is_tmpfs_size(v);
                    if !ok {
                        self.ignored(raw_name, v, "not a size like 512M or 50% (of RAM)");
                    }
                    ok
                });
            }
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
            "rd.modules_load" | "modules_load" => {
                self.module_list(raw_name, val, |b| &mut b.modules_load);
            }
            "rd.driver.blacklist" | "module_blacklist" | "modprobe.blacklist" => {
                self.module_list(raw_name, val, |b| &mut b.module_blacklist);
            }
            _ => return false,
        }
        true
    }

    /// Switches, numbers and choices. `false` for a name that is none of them.
    fn apply_switch(&mut self, key: &str, raw_name: &str, val: Option<&str>) -> bool {
        match key {
            "boot.root_timeout" | "rootdelay" => self.root_timeout = self.seconds(raw_name, val),
            "boot.stop_timeout" => self.stop_timeout = self.seconds(raw_name, val),
            "boot.module_threads" => {
                self.module_threads = self.string(raw_name, val).and_then(|v| {
                    let n = v.trim().parse::<usize>().ok();
                    if n.is_none() {
                        self.ignored(raw_name, &v, "not a number of threads");
                    }
                    n
                });
            }
            "loglevel" => {
                self.loglevel = self.string(raw_name, val).and_then(|v| {
                    let n = v.trim().parse::<u8>().ok().filter(|n| *n <= 7);
                    if n.is_none() {
                        self.ignored(raw_name, &v, "not a number 0-7");
                    }
                    n
                });
            }
            "boot.shell_on_fail" => self.flag(raw_name, val, |b| &mut b.shell_on_fail),
            "boot.require_sha256" => self.flag(raw_name, val, |b| &mut b.require_sha256),
            "boot.debug1" | "debug1" => self.flag(raw_name, val, |b| &mut b.debug1),
            "boot.debug1devices" => self.flag(raw_name, val, |b| &mut b.debug1devices),
            "boot.debug1mounts" => self.flag(raw_name, val, |b| &mut b.debug1mounts),
            "boot.panic_on_fail" => self.flag(raw_name, val, |b| &mut b.panic_on_fail),
            "stage1panic" => self.panic_on_fail = val == Some("1"),
            "boot.debug_panic" => {
                self.debug_panic = self.string(raw_name, val).and_then(|v| {
                    let stage = [Stage::Stage1, Stage::Stage2, Stage::Supervise]
                        .into_iter()
                        .find(|s| s.name() == v);
                    if stage.is_none() {
                        self.ignored(raw_name, &v, "not stage1, stage2 or supervise");
                    }
                    stage
                });
            }
            "boot.trace" | "debugtrace" => self.flag(raw_name, val, |b| &mut b.trace),
            "copytoram" => self.flag(raw_name, val, |b| &mut b.copytoram),
            "quiet" => self.flag(raw_name, val, |b| &mut b.quiet),
            "boot.power_button" => {
                self.power_button = self.string(raw_name, val).and_then(|v| {
                    let choice = PowerButton::parse(&v);
                    if choice.is_none() {
                        self.ignored(raw_name, &v, "not poweroff, reboot or ignore");
                    }
                    choice
                });
            }
            "boot.coldplug" => match parse_flag(val) {
                Some(on) => self.coldplug_off = !on,
                None => self.ignored(raw_name, val.unwrap_or_default(), NOT_A_BOOLEAN),
            },
            _ => return false,
        }
        true
    }

    /// A name we do not interpret: a module's parameter, a misspelling of
    /// one of ours (a warning naming the nearest), or someone else's.
    fn apply_other(&mut self, key: &str, raw_name: &str, value: Option<String>) {
        if let Some((module, param)) = key.split_once('.') {
            let ours = matches!(module, "boot" | "rd");
            if !ours && !module.is_empty() && !param.is_empty() {
                // Keep the parameter's own spelling after the dot.
                let param = &raw_name[module.len() + 1..];
                let entry = match value {
                    None => param.to_owned(),
                    Some(v) if v.contains(is_kspace) => format!("{param}=\"{v}\""),
                    Some(v) => format!("{param}={v}"),
                };
                self.module_params.entry(module.to_owned()).push(entry);
                return;
            }
        }
        if let Some(w) = check::unknown_name(raw_name, key) {
            self.warn(w);
        }
        self.unknown.push((raw_name.to_owned(), value));
    }

    fn root_spec(&mut self, name: &str, value: Option<&str>) -> Option<RootSpec> {
        RootSpec::parse(&self.string(name, value)?)
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
                self.ignored(name, &v, "not a number of seconds");
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
            None => self.ignored(name, value.unwrap_or_default(), NOT_A_BOOLEAN),
        }
    }

    fn warn(&mut self, msg: String) {
        self.warnings.push(msg);
    }

    /// `name=value: why, ignored`: one copy of the formatting for every
    /// parameter whose value is bad (each its own `format!` cost bytes).
    #[inline(never)]
    fn ignored(&mut self, name: &str, value: &str, why: &str) {
        self.warn(format!("{name}={value}: {why}, ignored"));
    }

    /// Problems found while parsing, e.g. `loglevel=x: not a number 0-7, ignored`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether stage-1 can go on with these parameters: the first
    /// `root=`/`realroot=` that can never name anything, with what would.
    /// A default cannot stand in for it: `/dev/vda` instead could boot
    /// another system, or wait 20 s for nothing.
    pub fn check(&self) -> anyhow::Result<()> {
        for (name, spec) in [("root", &self.root), ("realroot", &self.realroot)] {
            if let Some(spec) = spec {
                if let Err(why) = spec.check(name == "realroot") {
                    anyhow::bail!("kernel command line: {name}={spec}: {why}");
                }
            }
        }
        Ok(())
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
