//! `init plan [--cmdline STR] [--root DIR] [--kernel RELEASE] [--sys DIR]`:
//! print what stage-1 would do, touching nothing and needing no privileges.
//! The devices (and so the coldplug modules) come from `--sys`, default
//! `<root>/sys`: a snapshot of another machine's sysfs shows what it would
//! load.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use stage1::cmdline::BootParams;
use stage1::plan::{Plan, NEW_ROOT};

pub fn main(args: &[OsString]) -> i32 {
    let mut cmdline: Option<String> = None;
    let mut root = PathBuf::from("/");
    let mut kernel: Option<String> = None;
    let mut sys: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| -> Option<String> {
            let v = it.next().map(|v| v.to_string_lossy().into_owned());
            if v.is_none() {
                eprintln!("init plan: {flag} needs a value");
            }
            v
        };
        match a.to_str() {
            Some("--cmdline") => match value("--cmdline") {
                Some(v) => cmdline = Some(v),
                None => return 100,
            },
            Some("--root") => match value("--root") {
                Some(v) => root = PathBuf::from(v),
                None => return 100,
            },
            Some("--kernel") => match value("--kernel") {
                Some(v) => kernel = Some(v),
                None => return 100,
            },
            Some("--sys") => match value("--sys") {
                Some(v) => sys = Some(PathBuf::from(v)),
                None => return 100,
            },
            _ => {
                eprintln!(
                    "usage: init plan [--cmdline STR] [--root DIR] [--kernel RELEASE] [--sys DIR]"
                );
                return 100;
            }
        }
    }
    let params = match cmdline {
        Some(c) => BootParams::parse(&c),
        None => match BootParams::read() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("init plan: {e:#}");
                return 111;
            }
        },
    };
    let release = kernel.unwrap_or_else(|| {
        let from_tree = std::fs::read_dir(root.join("lib/modules"))
            .ok()
            .and_then(|mut rd| {
                rd.find_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            });
        from_tree.unwrap_or_else(|| {
            rustix::system::uname()
                .release()
                .to_string_lossy()
                .into_owned()
        })
    });
    for w in params.warnings() {
        println!("warning: kernel command line: {w}");
    }
    let sys = sys.unwrap_or_else(|| root.join("sys"));
    match Plan::compute_at(&params, &root, &release, Path::new(NEW_ROOT), &sys) {
        Ok(plan) => {
            print!("{plan}");
            0
        }
        Err(e) => {
            eprintln!("init plan: {e:#}");
            111
        }
    }
}
