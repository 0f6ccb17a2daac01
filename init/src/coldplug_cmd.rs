//! `init coldplug --module-dir DIR (--all | DEVPATH…)`: the drivers of the
//! running system, loaded by a child of PID 1 (`devices.rs`) so that a
//! slow probe never holds up supervision. The resolution is stage-1's
//! (`stage1::plan::Plan::for_system`: aliases, softdeps, blacklists from
//! the kernel command line and the system's modprobe.d, compressed
//! modules); the tree is the one PID 1 found. `--all` takes every device
//! in `/sys` and the modules-load.d and `modules_load=` lists; otherwise
//! only the devices named (sysfs paths, as uevents give them). A module
//! that fails is one warning naming it and the device that wanted it.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use stage1::cmdline::BootParams;
use stage1::devices::coldplug::DeviceAlias;
use stage1::modules::{load_with, LoadOptions, SysKernel};
use stage1::plan::Plan;

use crate::logger;

const USAGE: &str = "usage: init coldplug --module-dir DIR (--all | DEVPATH...)";

pub fn main(args: &[OsString]) -> i32 {
    let mut module_dir: Option<PathBuf> = None;
    let mut all = false;
    let mut devpaths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--module-dir") => module_dir = it.next().map(PathBuf::from),
            Some("--all") => all = true,
            Some(p) if p.starts_with("/devices/") => devpaths.push(p.to_owned()),
            _ => {
                let a = a.to_string_lossy();
                eprintln!("init coldplug: {a}: not an option or a device path\n{USAGE}");
                return 100;
            }
        }
    }
    let Some(module_dir) = module_dir else {
        eprintln!("init coldplug: --module-dir is missing\n{USAGE}");
        return 100;
    };
    let params = BootParams::read().unwrap_or_default();
    logger::init(true);
    logger::set_console_level(logger::console_level_for(
        params.quiet,
        params.loglevel,
        params.trace,
    ));
    let sys = Path::new("/sys");
    let devices = (!all).then(|| {
        devpaths
            .iter()
            .filter_map(|devpath| {
                let dir = sys.join(devpath.trim_start_matches('/'));
                let alias = std::fs::read_to_string(dir.join("modalias")).ok()?;
                Some(DeviceAlias {
                    devpath: devpath.clone(),
                    modalias: alias.trim().to_owned(),
                })
            })
            .collect()
    });
    let plan = match Plan::for_system(&params, Path::new("/"), module_dir, sys, devices) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("stage-2: kernel modules: {e:#}");
            return 1;
        }
    };
    stage1::devices::coldplug::log_decisions(&plan.coldplug);
    // The tree's and the configuration's skipped lines: said once, by the
    // first run, not by every hot-plugged device's.
    for w in &plan.modules.warnings {
        if all {
            log::warn!("{w}");
        } else {
            log::debug!("{w}");
        }
    }
    if plan.modules.loadable().next().is_none() {
        return 0;
    }
    let report = load_with(
        &plan.module_dir,
        &plan.modules,
        &LoadOptions::detect(),
        &SysKernel,
    );
    let level = if report.loaded.is_empty() && report.failed.is_empty() {
        log::Level::Debug
    } else {
        log::Level::Info
    };
    log::log!(
        level,
        "stage-2: {} kernel modules loaded, {} failed ({} devices)",
        report.loaded.len(),
        report.failed.len(),
        plan.coldplug.len()
    );
    i32::from(!report.failed.is_empty())
}
