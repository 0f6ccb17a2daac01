//! Drivers for devices that appear while stage-1 runs.
//!
//! Loading a driver creates devices that need drivers of their own:
//! virtio_pci finds the virtio bus's devices (virtio_blk, virtio_net,
//! virtio_rng), an AHCI controller its SCSI disks (sd_mod), a USB host
//! controller its hubs and disks. The kernel announces each with a uevent
//! carrying its modalias. [`Hotplug`] reads them from the socket opened
//! before sysfs was scanned (so nothing falls between the scan and the
//! socket), loads what they call for through the same planner and parallel
//! loader as the first batch, and is what the wait for `root=` blocks on:
//! the wait wakes on events, never on a timer.
//!
//! The first batch itself ([`Hotplug::load_first`]) is loaded with a
//! listener beside it: virtio_pci announces the virtio devices while its own
//! load is still probing the rest, and their drivers start loading then,
//! not after the whole batch. A module the kernel is still loading may be
//! asked for again meanwhile: the kernel waits for the first load and
//! answers `EEXIST`, which counts as success.
//!
//! A module that fails is one warning naming it and the device (the
//! devices' drivers are optional: the wait for the root device decides
//! whether the boot can go on).
use crate::modules::NameSet;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Instant;

use super::block::{DeviceEvents, Rescan};
use super::coldplug::{self, DeviceAlias};
use super::uevent::{Uevent, UeventSocket};
use crate::cmdline::BootParams;
use crate::modules::{self, LoadOptions, SysKernel};
use crate::plan::Plan;

/// Loads drivers for new devices; see the module docs.
pub struct Hotplug<'a> {
    plan: &'a Plan,
    params: &'a BootParams,
    socket: Option<UeventSocket>,
    sys: PathBuf,
    /// Modaliases already decided on.
    seen: NameSet,
    /// Modules already asked for by a device.
    requested: NameSet,
    /// Modules of finished load rounds (loaded, present or failed): not
    /// tried again.
    done: NameSet,
    load: LoadOptions,
}

impl<'a> Hotplug<'a> {
    /// Takes over from the plan: its devices count as handled, and its
    /// modules once [`Self::load_first`] (or the caller) has loaded them.
    /// `socket` is `None` when it could not be opened; then waits rescan
    /// `sys` every 50 ms.
    pub fn new(
        plan: &'a Plan,
        params: &'a BootParams,
        socket: Option<UeventSocket>,
        sys: PathBuf,
        load: LoadOptions,
    ) -> Self {
        let mut requested = NameSet::default();
        let _ = coldplug::requests(&plan.coldplug, &mut requested);
        Hotplug {
            plan,
            params,
            socket,
            sys,
            seen: plan
                .coldplug
                .iter()
                .map(|d| d.device.modalias.clone())
                .collect(),
            requested,
            done: NameSet::default(),
            load,
        }
    }

    /// Runs `load` (the plan's first batch) while a second thread loads the
    /// drivers of devices announced meanwhile; returns what `load` returns
    /// once both are done. Serial loading (`boot.module_threads=1`),
    /// `boot.coldplug=0` or no uevent socket: just `load`.
    pub fn load_first<T: Send>(&mut self, load: impl FnOnce() -> T + Send) -> T {
        let concurrent =
            self.socket.is_some() && !self.params.coldplug_off && self.load.threads != 1;
        let pipe = if concurrent {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| log::debug!("no pipe for the uevent listener ({e}): loading first"))
                .ok()
        } else {
            None
        };
        let out = match pipe {
            None => load(),
            Some((stop_rx, stop_tx)) => std::thread::scope(|scope| {
                let listener = scope.spawn(|| self.listen_until(stop_rx.as_fd()));
                let out = load();
                if let Err(e) = rustix::io::write(&stop_tx, b"x") {
                    log::warn!("stopping the uevent listener: {e}");
                }
                let _ = listener.join();
                out
            }),
        };
        let plan = self.plan;
        self.done
            .extend(plan.modules.steps.iter().map(|s| s.name.clone()));
        out
    }

    /// Loads drivers for announced devices until `stop` is readable.
    fn listen_until(&mut self, stop: std::os::fd::BorrowedFd<'_>) {
        loop {
            let Some(socket) = &self.socket else { return };
            match socket.wait_either(stop) {
                Ok((_, true)) => return,
                Ok((true, false)) => {
                    let devices = self.new_devices();
                    if !devices.is_empty() {
                        self.load_for(devices);
                    }
                }
                Ok((false, false)) => {}
                Err(e) => {
                    log::warn!("waiting for uevents: {e}; rescanning /sys from now on");
                    self.socket = None;
                    return;
                }
            }
        }
    }

    /// Loads the drivers of every device announced so far, round after
    /// round, until a round brings no new module. Never blocks on the socket.
    /// With `boot.coldplug=0` the events are read and dropped (they still
    /// wake the wait for the root device).
    pub fn settle(&mut self) {
        loop {
            let devices = self.new_devices();
            if devices.is_empty() || self.params.coldplug_off {
                return;
            }
            self.load_for(devices);
        }
    }

    /// Devices with a modalias not seen before: from queued uevents, or
    /// from a rescan of sysfs when events were lost or there is no socket.
    fn new_devices(&mut self) -> Vec<DeviceAlias> {
        let mut out = Vec::new();
        let seen = &mut self.seen;
        let mut rescan = self.socket.is_none();
        if let Some(socket) = self.socket.as_mut() {
            let drained = socket.drain(&mut |ev| out.extend(admit(seen, ev)));
            match drained {
                Ok(false) => {}
                Ok(true) => {
                    log::warn!("uevents were lost (too many at once): rescanning /sys");
                    rescan = true;
                }
                Err(e) => {
                    log::warn!("reading uevents: {e}; rescanning /sys from now on");
                    self.socket = None;
                    rescan = true;
                }
            }
        }
        if rescan {
            for d in coldplug::scan(&self.sys) {
                if self.seen.insert(d.modalias.clone()) {
                    out.push(d);
                }
            }
        }
        out
    }

    fn load_for(&mut self, devices: Vec<DeviceAlias>) {
        let plan = self.plan;
        let count = devices.len();
        let decisions = coldplug::decide(&plan.index, &plan.config, self.params, devices);
        coldplug::log_decisions(&decisions);
        let requests = coldplug::requests(&decisions, &mut self.requested);
        if requests.is_empty() {
            return;
        }
        // What the kernel has already, or an earlier round tried, is left
        // out; what it is still loading (`coming`) stays, see the module doc.
        let round = modules::plan(&plan.index, &plan.config, self.params, &requests);
        let skip: NameSet = round
            .steps
            .iter()
            .filter(|s| self.done.contains(&s.name) || is_live(&s.name))
            .map(|s| s.name.clone())
            .collect();
        let round = round.without(&skip);
        for w in &round.warnings {
            log::debug!("{w}");
        }
        self.done.extend(round.steps.iter().map(|s| s.name.clone()));
        if round.loadable().next().is_none() {
            return;
        }
        let report = modules::load_with(&plan.module_dir, &round, &self.load, &SysKernel);
        log::info!(
            "new devices: {count}; kernel modules: {} loaded, {} failed",
            report.loaded.len(),
            report.failed.len()
        );
    }
}

/// Whether the kernel has module `name` loaded and initialized.
fn is_live(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/module/{name}/initstate"))
        .is_ok_and(|s| s.trim() == "live")
}

/// The device of an event, if it is new: an add with a modalias not seen
/// before. What is kept is one string per distinct modalias, so a storm of
/// events (re-adds, removes, children without drivers) costs no memory.
fn admit(seen: &mut NameSet, ev: Uevent) -> Option<DeviceAlias> {
    if !ev.is_add() {
        return None;
    }
    let modalias = ev.modalias?;
    if !seen.insert(modalias.clone()) {
        return None;
    }
    Some(DeviceAlias {
        devpath: ev.devpath,
        modalias,
    })
}

impl DeviceEvents for Hotplug<'_> {
    /// Blocks until a uevent comes (or `deadline`), then loads what the new
    /// devices need.
    fn wait(&mut self, deadline: Instant) {
        match &self.socket {
            Some(socket) => {
                if let Err(e) = socket.wait(deadline) {
                    log::warn!("waiting for uevents: {e}; rescanning /sys from now on");
                    self.socket = None;
                }
            }
            None => Rescan.wait(deadline),
        }
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, n: usize, modalias: Option<String>) -> Uevent {
        Uevent {
            action: action.into(),
            devpath: format!("/devices/virtual/storm/dev{n}"),
            subsystem: Some("storm".into()),
            modalias,
            devname: None,
        }
    }

    #[test]
    fn a_storm_of_events_keeps_one_entry_per_modalias() {
        let mut seen = NameSet::default();
        let mut admitted = Vec::new();
        // 100,000 events over 1,001 distinct modaliases (odd, so each
        // comes as an add, a remove and without modalias), with removes
        // and events that carry none.
        for n in 0..100_000 {
            let alias = Some(format!("storm:d{:04}", n % 1001));
            let ev = match n % 4 {
                0 | 1 => event("add", n, alias),
                2 => event("remove", n, alias),
                _ => event("add", n, None),
            };
            admitted.extend(admit(&mut seen, ev));
        }
        assert_eq!(admitted.len(), 1001);
        assert_eq!(seen.len(), 1001);
        assert_eq!(admitted[0].devpath, "/devices/virtual/storm/dev0");
        assert_eq!(admitted[1].modalias, "storm:d0001");
    }
}
