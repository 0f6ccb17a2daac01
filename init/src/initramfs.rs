//! Stage-1 as PID 1, in the kernel's initramfs: plan, load modules, wait
//! for devices, mount, and switch_root; each step goes through the failure
//! menu on error and acts on the answer. Named for where it runs: the
//! crate `stage1` is the library it calls (plan, devices, mounts), this is
//! PID 1's flow through it. It ends with the new root as `/`; what runs
//! there is `pid1.rs`'s to start.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stage1::apply::{apply, ApplyOptions};
use stage1::cmdline::BootParams;
use stage1::devices::block::DeviceEvents;
use stage1::devices::hotplug::Hotplug;
use stage1::devices::uevent::UeventSocket;
use stage1::plan::{Plan, DEFAULT_ROOT_TIMEOUT_SECS};
use stage1::toplevel::Found;

use crate::failure;
use crate::network;
use crate::process::{phase, reap_zombies};
use crate::resolution::{Resolution, SwitchedByHand};
use crate::times::BootTimes;

/// How stage-1's steps meet a failure: the menu, and what to do when the
/// person at the console switched root by hand instead of answering.
struct Steps<'a> {
    params: &'a BootParams,
    /// The PID-1 flow's way on after a root switched by hand: stage-1 is
    /// over then, whatever step failed, so this never returns (what
    /// stage-1 holds is not needed any more).
    by_hand: SwitchedByHand,
}

impl Steps<'_> {
    /// Run `f` until it works (`Some`), the person at the console says to
    /// ignore the failure (`None`), or the policy ends PID 1.
    fn step<T>(&self, what: &str, f: impl FnMut() -> anyhow::Result<T>) -> Option<T> {
        self.step_net(what, None, f)
    }

    /// [`Steps::step`] for a step that needs the network: the menu then
    /// shows the interfaces and offers `n`, which sets the network up
    /// again (after a cable was plugged in, say) before the step is
    /// retried.
    fn step_net<T>(
        &self,
        what: &str,
        mut network: Option<&mut dyn FnMut()>,
        mut f: impl FnMut() -> anyhow::Result<T>,
    ) -> Option<T> {
        loop {
            match f() {
                Ok(v) => return Some(v),
                Err(e) if self.retry(what, &e, &mut network) => {}
                Err(_) => return None,
            }
        }
    }

    /// The menu's answer to a failed step, acted on: true to run the step
    /// again (after setting the network up again when asked), false to go
    /// on without it. Not generic, so each step's code stays small.
    fn retry(&self, what: &str, e: &anyhow::Error, network: &mut Option<&mut dyn FnMut()>) -> bool {
        match failure::handle(self.params, what, e, network.is_some()) {
            Resolution::Retry => true,
            Resolution::RetryNetwork => {
                if let Some(redo) = network.as_mut() {
                    redo();
                }
                true
            }
            Resolution::Ignore => false,
            Resolution::SwitchedRoot(s) => (self.by_hand)(self.params, s),
        }
    }

    /// A `boot.debug1*` stop point when `on`.
    fn stop_point(&self, on: bool, why: &str) {
        if on {
            if let Some(s) = failure::stop_point(self.params, why) {
                (self.by_hand)(self.params, s);
            }
        }
    }
}

/// Stage-1 from the initramfs to the new root. Returns the toplevel the
/// system is (`None`: none was given or found) once the new root is `/`;
/// a root switched by hand goes to `by_hand` instead.
pub fn run(params: &BootParams, times: &mut BootTimes, by_hand: SwitchedByHand) -> Option<PathBuf> {
    let steps = Steps { params, by_hand };
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
    let plan = steps.step("computing the boot plan", || {
        Plan::compute(params, Path::new("/"), &release)
    })?;
    stage1::devices::coldplug::log_decisions(&plan.coldplug);
    steps.stop_point(params.debug1, "boot.debug1");
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
    steps.step("loading kernel modules", || {
        first.take().unwrap_or_else(|| load_modules(&plan, &opts))
    });
    hotplug.settle();
    times.mark("modules");
    steps.stop_point(params.debug1devices, "boot.debug1devices");
    let network = network::wanted(params);
    if network {
        phase("stage-1: configuring the network");
        // `n` here is the same as `t`: the step is the network setup.
        steps.step_net("configuring the network", Some(&mut || {}), || {
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
    steps.step_net("mounting filesystems", redo, || {
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
    steps.stop_point(params.debug1mounts, "boot.debug1mounts");
    let toplevel = steps
        .step("finding the system (toplevel=)", || {
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
    steps.step("switching to the new root", || {
        stage1::switch_root::switch_root(&plan.new_root)
    });
    times.mark("switch_root");
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
        "modules: {} loaded, {} already present, {} failed in {}",
        report.loaded.len(),
        report.already.len(),
        report.failed.len(),
        stage1::decimal::Seconds(report.elapsed)
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
    // Naming the store's source says which image or share was looked in.
    let root = params.root.as_ref().map(ToString::to_string);
    anyhow::bail!(
        "toplevel {} is not in the store; /nix/store has {} entries: {}{}. Check toplevel= and the store (root={})",
        toplevel.display(),
        seen.len(),
        shown,
        if seen.len() > 20 { " …" } else { "" },
        root.as_deref().unwrap_or(stage1::plan::DEFAULT_STORE_DEVICE)
    )
}
