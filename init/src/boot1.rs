//! Stage-1 as PID 1: plan, load modules, wait for devices, mount, and
//! switch_root; each step goes through the failure policy on error.
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stage1::apply::{apply, ApplyOptions};
use stage1::cmdline::BootParams;
use stage1::devices::block::DeviceEvents;
use stage1::devices::hotplug::Hotplug;
use stage1::devices::uevent::UeventSocket;
use stage1::plan::{Plan, DEFAULT_ROOT_TIMEOUT_SECS};
use stage1::toplevel::Found;

use crate::failure::{self, Resolution};
use crate::network;
use crate::pid1::{phase, reap_zombies};
use crate::times::BootTimes;

/// Run `f` until it works, the person at the console says to ignore the
/// failure (`None`), or the policy ends PID 1.
fn step<T>(params: &BootParams, what: &str, f: impl FnMut() -> anyhow::Result<T>) -> Option<T> {
    step_net(params, what, None, f)
}

/// [`step`] for a step that needs the network: the menu then shows the
/// interfaces and offers `n`, which sets the network up again (after a
/// cable was plugged in, say) before the step is retried.
fn step_net<T>(
    params: &BootParams,
    what: &str,
    mut network: Option<&mut dyn FnMut()>,
    mut f: impl FnMut() -> anyhow::Result<T>,
) -> Option<T> {
    loop {
        match f() {
            Ok(v) => return Some(v),
            Err(e) => match failure::handle(params, what, &e, network.is_some()) {
                Resolution::Retry => {}
                Resolution::RetryNetwork => {
                    if let Some(redo) = network.as_mut() {
                        redo();
                    }
                }
                Resolution::Ignore => return None,
            },
        }
    }
}

/// Stage-1 from the initramfs to the new root. Returns the toplevel to
/// run stage-2 for, in this process; or execs `$toplevel/init`.
pub fn run(params: &BootParams, times: &mut BootTimes) -> Option<PathBuf> {
    phase(&format!(
        "stage-1: init {} starting",
        env!("CARGO_PKG_VERSION")
    ));
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    // Listen before sysfs is scanned: a device added in between is then
    // either in the scan or in the socket's queue.
    let socket = UeventSocket::open()
        .map_err(|e| {
            log::warn!(
                "cannot listen for uevents ({e}): devices that appear later are found by rescanning /sys every 50 ms"
            );
        })
        .ok();
    let plan = step(params, "computing the boot plan", || {
        Plan::compute(params, Path::new("/"), &release)
    })?;
    stage1::devices::coldplug::log_decisions(&plan.coldplug);
    if params.debug1 {
        failure::stop_point(params, "boot.debug1");
    }
    phase(&format!(
        "stage-1: loading {} kernel modules ({} devices found)",
        plan.modules.steps.len(),
        plan.coldplug.len()
    ));
    let mut opts = stage1::modules::LoadOptions::detect();
    // A thread per CPU by default: on a quiet host the bench measured the
    // not-os set loading faster in parallel (README, `make bench`); on a
    // heavily loaded host serial won, so `boot.module_threads=1` is there.
    opts.threads = params.module_threads.unwrap_or(0);
    let mut hotplug = Hotplug::new(&plan, params, socket, PathBuf::from("/sys"), opts.clone());
    // Devices that appear while the first batch loads get their drivers
    // at once, on a second thread (see `stage1::devices::hotplug`).
    let mut first = Some(hotplug.load_first(|| load_modules(&plan, &opts)));
    step(params, "loading kernel modules", || {
        first.take().unwrap_or_else(|| load_modules(&plan, &opts))
    });
    hotplug.settle();
    times.mark("modules");
    if params.debug1devices {
        failure::stop_point(params, "boot.debug1devices");
    }
    let network = network::wanted(params);
    if network {
        phase("stage-1: configuring the network");
        // `n` here is the same as `t`: the step is the network setup.
        step_net(params, "configuring the network", Some(&mut || {}), || {
            network::setup(params, &[])
        });
        times.mark("network");
    }
    phase("stage-1: mounting the store");
    let timeout = params
        .root_timeout
        .unwrap_or(Duration::from_secs(DEFAULT_ROOT_TIMEOUT_SECS));
    let mut redo_network = || {
        if let Err(e) = network::setup(params, &[]) {
            log::error!("configuring the network failed: {e:#}");
        }
    };
    let redo: Option<&mut dyn FnMut()> = if network {
        Some(&mut redo_network)
    } else {
        None
    };
    step_net(params, "mounting filesystems", redo, || {
        apply(
            &plan,
            &mut ApplyOptions {
                device_timeout: timeout,
                events: &mut Reaping(&mut hotplug),
            },
        )
    });
    if network {
        network::carry_resolv_conf(&plan.new_root);
    }
    times.mark("mounts");
    if params.debug1mounts {
        failure::stop_point(params, "boot.debug1mounts");
    }
    let toplevel = step(params, "finding the system (toplevel=)", || {
        find_toplevel(params, &plan.new_root)
    })
    .flatten();
    // Drivers for what appeared meanwhile (a NIC behind a bus driver that
    // loaded last): stage-2 has no udev to load them.
    hotplug.settle();
    drop(hotplug);
    // What a previous system handed over through kexec (`init kexec
    // --carry-ssh-keys`) leaves the initramfs before switch_root empties it.
    if let Err(e) = stage1::handover::stash(Path::new("/"), Path::new("/run")) {
        log::warn!("stage-1: {e:#}; the previous system's handover is lost");
    }
    phase("Switching root filesystem...");
    step(params, "switching to the new root", || {
        stage1::switch_root::switch_root(&plan.new_root)
    });
    times.mark("switch_root");
    if let Some(t) = &toplevel {
        exec_foreign_init(params, t, times);
    }
    toplevel
}

/// The device wait of PID 1: uevents and their drivers, then the zombies
/// a failure shell may have left.
struct Reaping<'a, 'b>(&'a mut Hotplug<'b>);

impl DeviceEvents for Reaping<'_, '_> {
    fn wait(&mut self, deadline: Instant) {
        self.0.wait(deadline);
        reap_zombies();
    }
}

fn load_modules(plan: &Plan, opts: &stage1::modules::LoadOptions) -> anyhow::Result<()> {
    if !plan.modules.missing_required.is_empty() {
        anyhow::bail!(
            "required kernel modules not found in {}: {} (add them to the initrd)",
            plan.module_dir.display(),
            plan.modules.missing_required.join(", ")
        );
    }
    for w in &plan.modules.warnings {
        log::warn!("{w}");
    }
    let report = stage1::modules::load_with(
        &plan.module_dir,
        &plan.modules,
        opts,
        &stage1::modules::SysKernel,
    );
    log::debug!(
        "modules: {} loaded, {} already present, {} failed in {:?}",
        report.loaded.len(),
        report.already.len(),
        report.failed.len(),
        report.elapsed
    );
    // Optional modules that failed were each one warning already (naming
    // the device or list that wanted them); the boot goes on without them.
    let required: Vec<&(String, String)> = report
        .failed
        .iter()
        .filter(|(name, _)| plan.is_required(name))
        .collect();
    if let Some((name, err)) = required.first() {
        anyhow::bail!("kernel module {name} failed to load: {err}");
    }
    Ok(())
}

/// The toplevel inside the new root, or an error listing what the store
/// has. Without `toplevel=`, the store is searched (see
/// `stage1::toplevel`), and when it holds several systems the person at
/// the console picks one.
fn find_toplevel(params: &BootParams, new_root: &Path) -> anyhow::Result<Option<PathBuf>> {
    let store = new_root.join("nix/store");
    let Some(toplevel) = &params.toplevel else {
        return match stage1::toplevel::discover(&store) {
            Found::One(t, how) => {
                log::info!(target: crate::logger::PHASE, "stage-1: booting {} ({how}; no toplevel= given)", t.display());
                Ok(Some(t))
            }
            Found::Many(all) => Ok(failure::choose(
                params,
                "no toplevel= on the kernel command line, and the store holds several systems",
                &all,
            )),
            Found::None => {
                log::warn!("no toplevel= (or systemConfig=, init=) on the kernel command line and no system found in the store: stage-2 will set up nothing from a system");
                Ok(None)
            }
        };
    };
    if stage1::switch_root::resolve_in_root(new_root, toplevel).is_some_and(|p| p.is_dir()) {
        return Ok(Some(toplevel.clone()));
    }
    // A lookup that fails other than "not found" (EIO from a corrupt
    // image, which squashfs's readdir would hide) is the real cause.
    if let Err(e) =
        std::fs::symlink_metadata(new_root.join(toplevel.strip_prefix("/").unwrap_or(toplevel)))
    {
        if e.kind() != std::io::ErrorKind::NotFound {
            anyhow::bail!(
                "toplevel {} cannot be looked up in {}: {e}; the store image may be corrupt (see the kernel's SQUASHFS errors)",
                toplevel.display(),
                new_root.display()
            );
        }
    }
    let mut seen: Vec<String> = std::fs::read_dir(&store)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    seen.sort();
    let shown = seen.iter().take(20).cloned().collect::<Vec<_>>().join(" ");
    anyhow::bail!(
        "toplevel {} is not in the store; /nix/store has {} entries: {}{}. Check toplevel= and the store image",
        toplevel.display(),
        seen.len(),
        shown,
        if seen.len() > 20 { " …" } else { "" }
    )
}

/// The not-os/NixOS contract: when `$toplevel/init` exists, exec it with a
/// clean environment. Our own binary exec'd this way finds `/` is no
/// longer the initramfs and runs stage-2.
pub fn exec_foreign_init(params: &BootParams, toplevel: &Path, times: &BootTimes) {
    let init = toplevel.join("init");
    if !init.exists() {
        return;
    }
    times.write(Path::new(crate::boot2::BOOT_TIMES));
    phase(&format!("stage-1: executing {}", init.display()));
    runit_compat::reset_signal_state();
    let err = std::process::Command::new(&init)
        .env_clear()
        .args(&params.init_args)
        .exec();
    let e = anyhow::Error::new(err).context(format!("exec {}", init.display()));
    crate::pid1::block_signals();
    // On "ignore", go on with the built-in stage-2 instead.
    let _ = failure::handle(params, "starting the system's stage-2", &e, false);
}
