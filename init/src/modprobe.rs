//! kmod's `modprobe`, `insmod`, `rmmod` and `lsmod`, for what scripts and
//! the kernel use (argv[0], or `init modprobe …`). Stage-2 points
//! `/proc/sys/kernel/modprobe` at this applet ([`crate::devices`]), so the
//! kernel's own requests (`modprobe -q -- fs-vfat`) resolve through the
//! system's module tree.
//!
//! The resolution is stage-1's (`stage1::modules`: modprobe.d aliases,
//! module files, built-ins, modules.alias globs, softdeps, options,
//! blacklists, compressed modules); the order is kmod's probe list
//! ([`stage1::modules::probe_list`]), so `--show-depends` prints what
//! kmod's does. The tree: `-d ROOT` (`ROOT/lib/modules/RELEASE`), else
//! `$MODULE_DIR/RELEASE` (NixOS's kmod), else the booted system's
//! `kernel-modules` or `/lib/modules/RELEASE` ([`crate::devices`]).
//! Messages and exit codes are kmod's (`modprobe: FATAL: Module X not
//! found in directory D`, 1).
use std::borrow::Cow;
use std::ffi::{CString, OsString};
use std::fmt::Write as _;

use nix::errno::Errno;
use std::path::{Path, PathBuf};

use stage1::cmdline::BootParams;
use stage1::modules::{
    insert, name_from_path, normalize, probe_list, resolve, LoadOptions, ModuleConfig, ModuleIndex,
    Resolved, SysKernel,
};

/// `modprobe`'s options, as parsed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Opts {
    /// kmod's log level: 4 (warnings), each `-v` one more, `-q` 0.
    level: u8,
    blacklist: bool,
    all: bool,
    remove: bool,
    dry_run: bool,
    show_depends: bool,
    root: Option<String>,
    release: Option<String>,
    /// Module names, then (without `-a`) the first one's parameters.
    names: Vec<String>,
}

/// Runs the applet `name` with `args` (`args[0]` is its argv[0]).
pub fn main(name: &str, args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (argv0, args) = args
        .split_first()
        .map_or(("", &[][..]), |(a, r)| (a.as_str(), r));
    match name {
        "modprobe" => match parse(args) {
            Ok(o) => modprobe(&o),
            Err((text, what)) => {
                // getopt's shape: the program as it was called.
                eprintln!("{argv0}: {text}{what}'");
                1
            }
        },
        "insmod" => insmod(args),
        "rmmod" => rmmod(args),
        _ => lsmod(),
    }
}

/// getopt's way: short options cluster (`-qn`), an option's value is the
/// rest of its word or the next one, `--` ends the options, and options
/// may follow the names (parameters such as `x=-1` do not start with `-`).
/// kmod's long options and their short ones.
const LONG: [(&str, char); 10] = [
    ("quiet", 'q'),
    ("use-blacklist", 'b'),
    ("all", 'a'),
    ("remove", 'r'),
    ("dry-run", 'n'),
    ("show", 'n'),
    ("verbose", 'v'),
    ("show-depends", 'D'),
    ("dirname", 'd'),
    ("set-version", 'S'),
];

/// A usage error: getopt's text, and the option it names.
type Usage = (&'static str, String);

fn parse(args: &[String]) -> Result<Opts, Usage> {
    let mut o = Opts {
        level: 4,
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            o.names.extend(it.by_ref().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (key, value) = match long.split_once('=') {
                Some((k, v)) => (k, Some(v.to_owned())),
                None => (long, None),
            };
            let Some(&(_, flag)) = LONG.iter().find(|(k, _)| *k == key) else {
                return Err(("unrecognized option '", arg.clone()));
            };
            o.set(flag, value, &mut it)?;
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (i, c) in shorts.char_indices() {
                if matches!(c, 'd' | 'S') {
                    let rest = &shorts[i + 1..];
                    o.set(c, (!rest.is_empty()).then(|| rest.to_owned()), &mut it)?;
                    break;
                }
                o.set(c, None, &mut it)?;
            }
        } else {
            o.names.push(arg.clone());
        }
    }
    Ok(o)
}

impl Opts {
    /// Whether messages of kmod's priority `prio` (2 FATAL, 3 ERROR,
    /// 4 WARNING, 5 the actions) are shown.
    fn says(&self, prio: u8) -> bool {
        prio <= self.level
    }

    fn set<'a>(
        &mut self,
        flag: char,
        value: Option<String>,
        rest: &mut impl Iterator<Item = &'a String>,
    ) -> Result<(), Usage> {
        match flag {
            'q' => self.level = 0,
            'b' => self.blacklist = true,
            'a' => self.all = true,
            'r' => self.remove = true,
            'n' => self.dry_run = true,
            'v' => self.level = self.level.saturating_add(1),
            'D' => self.show_depends = true,
            'd' | 'S' => {
                let v = value
                    .or_else(|| rest.next().cloned())
                    .ok_or_else(|| ("option requires an argument -- '", flag.to_string()))?;
                *if flag == 'd' {
                    &mut self.root
                } else {
                    &mut self.release
                } = Some(v);
            }
            c => return Err(("invalid option -- '", c.to_string())),
        }
        Ok(())
    }

    /// The module directory, absolute as kmod prints it.
    fn module_dir(&self) -> PathBuf {
        let release = self.release.clone().unwrap_or_else(|| {
            rustix::system::uname()
                .release()
                .to_string_lossy()
                .into_owned()
        });
        let dir = if let Some(root) = &self.root {
            Path::new(root).join("lib/modules").join(&release)
        } else if let Some(dir) = std::env::var_os("MODULE_DIR") {
            PathBuf::from(dir).join(&release)
        } else {
            // The booted system's tree, as stage-2's coldplug finds it.
            let tried =
                crate::devices::module_trees(Some(Path::new("/run/booted-system")), &release);
            tried
                .iter()
                .find(|d| d.join("modules.dep").exists())
                .unwrap_or(&tried[tried.len() - 1])
                .clone()
        };
        std::env::current_dir().unwrap_or_default().join(dir)
    }
}

/// What one run of `modprobe` works with.
struct Modprobe<'a> {
    o: &'a Opts,
    dir: PathBuf,
    index: ModuleIndex,
    config: ModuleConfig,
    params: BootParams,
    load: LoadOptions,
}

fn modprobe(o: &Opts) -> i32 {
    if o.names.is_empty() {
        eprintln!("modprobe: ERROR: missing parameters. See -h.");
        return 1;
    }
    let dir = o.module_dir();
    // The process ends after this run: its index and configuration are
    // never dropped (no drop glue for them in dist/init).
    let mp = std::mem::ManuallyDrop::new(Modprobe {
        o,
        // A tree or configuration that cannot be read finds nothing: the
        // names are then "not found in directory DIR", as with kmod.
        index: ModuleIndex::load(&dir).unwrap_or_default(),
        config: ModuleConfig::load(Path::new("/")).unwrap_or_default(),
        params: BootParams::read().unwrap_or_default(),
        load: LoadOptions::detect(),
        dir,
    });
    let (names, extra) = if o.all {
        (&o.names[..], String::new())
    } else {
        (&o.names[..1], o.names[1..].join(" "))
    };
    let mut code = 0;
    for name in names {
        let found = resolve(&mp.index, &mp.config, name);
        if found.is_empty() {
            // kmod: fatal for the one name, a warning among `-a`'s.
            let (prio, what) = if o.all { (4, "WARNING") } else { (2, "FATAL") };
            if o.says(prio) {
                let dir = mp.dir.display().to_string();
                let (at, dir) = if o.remove {
                    (".", "")
                } else {
                    (" in directory ", &*dir)
                };
                eprintln!("modprobe: {what}: Module {name} not found{at}{dir}");
            }
            code = 1;
            continue;
        }
        for module in &found {
            let ok = if o.remove {
                mp.remove(module)
            } else {
                mp.insert(name, module, &extra)
            };
            if !ok {
                code = 1;
            }
        }
    }
    code
}

/// Whether the kernel has the module: built in, or loaded
/// (`/sys/module/NAME/initstate`).
fn in_kernel(module: &Resolved) -> bool {
    matches!(module, Resolved::Builtin(_)) || sys_module(module.name(), "initstate").exists()
}

fn sys_module(name: &str, file: &str) -> PathBuf {
    Path::new("/sys/module").join(name).join(file)
}

impl Modprobe<'_> {
    fn is_blacklisted(&self, name: &str) -> bool {
        self.config.is_blacklisted(name) || self.params.module_blacklist.iter().any(|b| b == name)
    }

    /// Inserts `module` (what `name` resolved to) with its probe list;
    /// false when it, or a module it needs, failed.
    fn insert(&self, name: &str, module: &Resolved, extra: &str) -> bool {
        let o = self.o;
        let m = module.name();
        // kmod's blacklist: aliases always, names with -b; silently.
        if (o.blacklist || normalize(name) != m) && self.is_blacklisted(m) {
            return true;
        }
        if !o.show_depends && in_kernel(module) {
            return true;
        }
        let needed: Vec<String> = self.index.module(m).map(|e| e.deps).unwrap_or_default();
        for step in probe_list(&self.index, &self.config, module) {
            let s = step.name();
            if !o.show_depends && in_kernel(&step) {
                continue;
            }
            let (Resolved::Module(_), Some(entry)) = (&step, self.index.module(s)) else {
                if o.show_depends {
                    println!("builtin {s}");
                }
                continue;
            };
            let path = self.dir.join(&entry.path);
            // kmod's concatenation: each configured option and a space,
            // then the command line's for the module asked for.
            let mut options = String::new();
            for configured in self
                .config
                .options(s)
                .into_iter()
                .chain(self.params.module_params_for(s))
            {
                options += &configured;
                options.push(' ');
            }
            if step == *module {
                options += extra;
            }
            if o.show_depends || o.says(5) {
                println!("insmod {} {options}", path.display());
            }
            if o.show_depends || o.dry_run {
                continue;
            }
            if let Err(e) = insert(&path, options.trim_end(), &self.load, &SysKernel) {
                if step == *module || needed.iter().any(|d| d == s) {
                    if o.says(3) {
                        eprintln!("modprobe: ERROR: could not insert '{s}': {e}");
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Removes a loaded module, then its dependencies nothing else uses.
    fn remove(&self, module: &Resolved) -> bool {
        let m = module.name();
        let o = self.o;
        if let Resolved::Builtin(_) = module {
            if o.says(2) {
                eprintln!("modprobe: FATAL: Module {m} is builtin.");
            }
            return false;
        }
        if !in_kernel(module) {
            return true;
        }
        if let Err(why) = self.delete(m) {
            if o.says(2) {
                eprintln!("modprobe: FATAL: Module {m} {why}");
            }
            return false;
        }
        // Dependencies, the last loaded first; one still in use keeps the
        // ones below it.
        for dep in self.index.module(m).map(|e| e.deps).unwrap_or_default() {
            let dep = Resolved::Module(dep);
            if !in_kernel(&dep) || self.delete(dep.name()).is_err() {
                break;
            }
        }
        true
    }

    fn delete(&self, name: &str) -> Result<(), Cow<'static, str>> {
        if self.o.says(5) || self.o.show_depends {
            println!("rmmod {name}");
        }
        if self.o.dry_run || self.o.show_depends {
            return Ok(());
        }
        unload(name, false)
    }
}

/// delete_module(2) without waiting; the error as kmod words it after
/// `Module NAME `.
fn unload(name: &str, force: bool) -> Result<(), Cow<'static, str>> {
    use nix::kmod::DeleteModuleFlags as F;
    let flags = if force {
        F::O_NONBLOCK | F::O_TRUNC
    } else {
        F::O_NONBLOCK
    };
    let c = CString::new(name).map_err(|_| errno_text(Errno::EINVAL))?;
    nix::kmod::delete_module(&c, flags).map_err(|e| match e {
        Errno::ENOENT if sys_module(name, "").exists() => "is builtin.".into(),
        Errno::ENOENT => "is not currently loaded".into(),
        Errno::EWOULDBLOCK | Errno::EBUSY => "is in use".into(),
        e => errno_text(e),
    })
}

/// `e` as libc's strerror words it: io::Error's text without its
/// ` (os error N)`. Not nix's `Errno::desc`, whose table of texts (and
/// the match over every errno) would be in the binary for this alone.
fn errno_text(e: Errno) -> Cow<'static, str> {
    let text = std::io::Error::from(e).to_string();
    match text.rfind(" (os error ") {
        Some(end) => text[..end].to_owned().into(),
        None => text.into(),
    }
}

/// `insmod FILE [PARAM=VALUE…]`.
fn insmod(args: &[String]) -> i32 {
    let Some(file) = args.first() else {
        eprintln!("insmod: ERROR: missing filename.");
        return 1;
    };
    match insert(
        Path::new(file),
        &args[1..].join(" "),
        &LoadOptions::detect(),
        &SysKernel,
    ) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("insmod: ERROR: could not insert module {file}: {e}");
            1
        }
    }
}

/// `rmmod [-f] NAME…` (a name or a module's file).
fn rmmod(args: &[String]) -> i32 {
    let force = args.iter().any(|a| a == "-f" || a == "--force");
    let mut code = 0;
    let mut named = false;
    for arg in args.iter().filter(|a| !a.starts_with('-')) {
        named = true;
        let name = name_from_path(Path::new(arg));
        if let Err(why) = unload(&name, force) {
            eprintln!("rmmod: ERROR: Module {name} {why}");
            code = 1;
        }
    }
    if !named {
        eprintln!("rmmod: ERROR: missing module name.");
        code = 1;
    }
    code
}

/// `lsmod`: `/proc/modules` in kmod's columns.
fn lsmod() -> i32 {
    match std::fs::read_to_string("/proc/modules") {
        Ok(text) => {
            print!("{}", lsmod_table(&text));
            0
        }
        Err(e) => {
            eprintln!("Error: could not get list of modules: {e}");
            1
        }
    }
}

/// kmod's table of `/proc/modules` lines (`name size refs holders,
/// state address`): the name left in 19 columns, the size right in 8, the
/// use count, and the holders joined by commas (in `/proc/modules`'
/// order; kmod lists `/sys/module/NAME/holders/`, the same names).
fn lsmod_table(proc_modules: &str) -> String {
    let mut out = String::from("Module                  Size  Used by\n");
    for line in proc_modules.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(size), Some(refs), Some(holders)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let holders = holders.trim_end_matches(['-', ',']);
        let sep = if holders.is_empty() { "" } else { " " };
        let _ = writeln!(out, "{name:<19} {size:>8}  {refs}{sep}{holders}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Opts, Usage> {
        assert!(parse(&[]).unwrap().says(4) && !parse(&[]).unwrap().says(5));
        parse(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn an_errno_reads_as_strerror_without_the_os_error_number() {
        assert_eq!(errno_text(Errno::EPERM), "Operation not permitted");
        assert_eq!(errno_text(Errno::EINVAL), "Invalid argument");
    }

    #[test]
    fn options_cluster_take_values_and_end_at_double_dash() {
        let o = p(&[
            "-qbn",
            "-v",
            "-dROOT",
            "--set-version",
            "6.1",
            "vfat",
            "x=-1",
        ])
        .unwrap();
        // -q then -v: kmod's level 1, still quiet.
        assert!(o.blacklist && o.dry_run && !o.says(2) && o.says(1));
        assert!(!o.all && !o.remove && !o.show_depends);
        assert_eq!(o.root.as_deref(), Some("ROOT"));
        assert_eq!(o.release.as_deref(), Some("6.1"));
        assert_eq!(o.names, ["vfat", "x=-1"]);
        // The kernel's call.
        let o = p(&["-q", "--", "fs-vfat"]).unwrap();
        assert!(!o.says(2));
        assert_eq!(o.names, ["fs-vfat"]);
        let o = p(&[
            "-d",
            "/r",
            "--show-depends",
            "-ar",
            "a",
            "--dirname=/s",
            "b",
            "--",
            "-c",
        ])
        .unwrap();
        assert!(o.show_depends && o.all && o.remove);
        assert_eq!(o.root.as_deref(), Some("/s"));
        assert_eq!(o.names, ["a", "b", "-c"]);
        let o = p(&[
            "--quiet",
            "--use-blacklist",
            "--all",
            "--remove",
            "--dry-run",
            "--verbose",
        ])
        .unwrap();
        assert!(o.blacklist && o.all && o.remove && o.dry_run && o.says(1) && !o.says(2));
        let o = p(&["-v", "-q", "x"]).unwrap();
        assert!(!o.says(2), "-q after -v is quiet");
        assert!(p(&["--show", "x"]).unwrap().dry_run);
    }

    #[test]
    fn bad_options_are_named_as_getopt_does() {
        assert_eq!(p(&["-Z", "x"]), Err(("invalid option -- '", "Z".into())));
        assert_eq!(
            p(&["-d"]),
            Err(("option requires an argument -- '", "d".into()))
        );
        assert_eq!(
            p(&["--frob"]),
            Err(("unrecognized option '", "--frob".into()))
        );
    }

    #[test]
    fn module_dir_from_root_or_module_dir() {
        let o = p(&["-d", "/r", "-S", "6.1.0"]).unwrap();
        assert_eq!(o.module_dir(), Path::new("/r/lib/modules/6.1.0"));
    }

    #[test]
    fn lsmod_columns_are_kmods() {
        let proc = "vfat 24576 1 - Live 0x0000000000000000\n\
                    fat 90112 1 vfat, Live 0x0000000000000000\n\
                    a_module_with_a_long_name 8192 0 - Live 0x0\n\
                    usbcore 348160 3 ehci_pci,ehci_hcd,uhci_hcd, Live 0x0\n";
        assert_eq!(
            lsmod_table(proc),
            "Module                  Size  Used by\n\
             vfat                   24576  1\n\
             fat                    90112  1 vfat\n\
             a_module_with_a_long_name     8192  0\n\
             usbcore               348160  3 ehci_pci,ehci_hcd,uhci_hcd\n"
        );
    }
}
