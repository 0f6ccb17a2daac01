//! Coldplug: the drivers for the devices the kernel found before `/init`
//! ran, as udev's `udevadm trigger` would load them.
//!
//! Every device with a driver to find has a `modalias` file in sysfs
//! (`pci:v00001AF4d00001001sv…`, `virtio:d00000002v…`, `acpi:PNP0A03:`,
//! `dmi:bvn…`). Matching it against `modules.alias` (globs, as modprobe
//! matches them) names the modules; those in `modules.builtin` need nothing,
//! blacklisted ones are skipped, and a modalias that matches nothing is
//! normal (most devices need no module, or theirs is not in the initrd).
//!
//! [`scan`] reads a sysfs tree, [`decide`] is pure: `init plan --sys DIR`
//! and the tests run both on a snapshot.
use crate::modules::NameSet;
use std::ffi::CStr;
use std::fmt;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{openat, statat, AtFlags, FileType, Mode, OFlags, RawDir, CWD};

use crate::cmdline::BootParams;
use crate::modules::{self, normalize, ModuleConfig, ModuleIndex, ModuleRequest, Resolved};

/// A device and its modalias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAlias {
    /// Under `/sys`: `/devices/pci0000:00/0000:00:04.0`.
    pub devpath: String,
    pub modalias: String,
}

/// What one modalias resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// A module file to load.
    Module(String),
    /// Built into the kernel: nothing to load.
    Builtin(String),
    /// `rd.driver.blacklist=`, `module_blacklist=` or a modprobe.d
    /// `blacklist` line: not loaded.
    Blacklisted(String),
}

/// One device → module decision (what `boot.trace` logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub device: DeviceAlias,
    /// Empty: no module in the initrd claims this device.
    pub drivers: Vec<Driver>,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.device.devpath, self.device.modalias)?;
        if self.drivers.is_empty() {
            return f.write_str("no module");
        }
        for (i, d) in self.drivers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Driver::Module(m) => write!(f, "{m}")?,
                Driver::Builtin(m) => write!(f, "{m} (built in)")?,
                Driver::Blacklisted(m) => write!(f, "{m} (blacklisted, skipped)")?,
            }
        }
        Ok(())
    }
}

/// Every `modalias` under `<sys>/devices`, in path order. Symlinks are not
/// followed (sysfs links every device from several places); unreadable
/// directories are skipped.
pub fn scan(sys: &Path) -> Vec<DeviceAlias> {
    let mut out = Vec::new();
    if let Ok(fd) = open_dir(CWD, sys.join("devices")) {
        let mut walk = Walk {
            path: "/devices".into(),
            names: Vec::new(),
            buf: vec![MaybeUninit::uninit(); 16 * 1024],
            text: String::new(),
            out: &mut out,
        };
        walk.dir(&fd);
    }
    out.sort_by(|a, b| a.devpath.cmp(&b.devpath));
    out
}

fn open_dir<P: rustix::path::Arg>(dir: impl AsFd, path: P) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(dir, path, flags, Mode::empty())
}

/// The sysfs walk of [`scan`], by `openat` and `getdents64` relative to
/// each directory's descriptor: one buffer for the directory entries, one
/// for the subdirectories' names still to visit (each level's after its
/// parent's) and one growing devpath, so a directory costs no allocation
/// (sysfs has thousands; the walk was a third of `init plan`).
struct Walk<'a> {
    /// The devpath of the directory being read (`/devices/...`).
    path: String,
    /// NUL-terminated names of the subdirectories to visit.
    names: Vec<u8>,
    buf: Vec<MaybeUninit<u8>>,
    /// A `modalias` file's text.
    text: String,
    out: &'a mut Vec<DeviceAlias>,
}

impl Walk<'_> {
    fn dir(&mut self, fd: &OwnedFd) {
        let start = self.names.len();
        let mut modalias = false;
        let mut entries = RawDir::new(fd, &mut self.buf);
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name();
            let mut kind = entry.file_type();
            if kind == FileType::Unknown {
                // A filesystem without d_type (sysfs has it; a copy may not).
                kind = statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |st| FileType::from_raw_mode(st.st_mode));
            }
            let bytes = name.to_bytes_with_nul();
            if kind == FileType::Directory && bytes != b".\0" && bytes != b"..\0" {
                self.names.extend_from_slice(bytes);
            } else if kind == FileType::RegularFile && bytes == b"modalias\0" {
                modalias = true;
            }
        }
        if modalias {
            self.read_modalias(fd);
        }
        let end = self.names.len();
        let mut at = start;
        while at < end {
            let len = self.names[at..end]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(end - at);
            let Ok(name) = CStr::from_bytes_with_nul(&self.names[at..=at + len]) else {
                break;
            };
            let child = open_dir(fd, name);
            let parent = self.path.len();
            self.path.push('/');
            self.path
                .push_str(&String::from_utf8_lossy(name.to_bytes()));
            if let Ok(child) = child {
                self.dir(&child);
            }
            self.path.truncate(parent);
            at += len + 1;
        }
        self.names.truncate(start);
    }

    fn read_modalias(&mut self, fd: &OwnedFd) {
        use std::io::Read as _;
        let Ok(file) = openat(
            fd,
            "modalias",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return;
        };
        self.text.clear();
        if std::fs::File::from(file)
            .read_to_string(&mut self.text)
            .is_err()
        {
            return;
        }
        let modalias = self.text.trim();
        if !modalias.is_empty() {
            self.out.push(DeviceAlias {
                devpath: self.path.clone(),
                modalias: modalias.to_owned(),
            });
        }
    }
}

/// Resolves each device's modalias as the planner resolves any name
/// ([`modules::resolve`]), with the blacklists applied.
pub fn decide(
    index: &ModuleIndex,
    config: &ModuleConfig,
    params: &BootParams,
    devices: Vec<DeviceAlias>,
) -> Vec<Decision> {
    let blacklisted =
        |m: &str| config.is_blacklisted(m) || params.module_blacklist.iter().any(|b| b == m);
    devices
        .into_iter()
        .map(|device| {
            let mut drivers: Vec<Driver> = Vec::new();
            for r in modules::resolve(index, config, &device.modalias) {
                let d = match r {
                    Resolved::Builtin(m) => Driver::Builtin(m),
                    Resolved::Module(m) if blacklisted(&m) => Driver::Blacklisted(m),
                    Resolved::Module(m) => Driver::Module(m),
                };
                if !drivers.contains(&d) {
                    drivers.push(d);
                }
            }
            Decision { device, drivers }
        })
        .collect()
}

/// One request per module the decisions want, naming the first device that
/// wants it, skipping the modules in `already` (and adding them there).
pub fn requests(decisions: &[Decision], already: &mut NameSet) -> Vec<ModuleRequest> {
    let mut out = Vec::new();
    for d in decisions {
        for driver in &d.drivers {
            if let Driver::Module(m) = driver {
                if already.insert(normalize(m)) {
                    out.push(ModuleRequest {
                        name: m.clone(),
                        required: false,
                        reason: format!("for device {} ({})", d.device.devpath, d.device.modalias),
                    });
                }
            }
        }
    }
    out
}

/// Logs every decision at debug level (shown with `boot.trace`).
pub fn log_decisions(decisions: &[Decision]) {
    for d in decisions {
        log::debug!("coldplug: {d}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
";
    const ALIAS: &str = "\
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000002v* virtio_blk
alias virtio:d00000001v* virtio_net
alias virtio:d00000004v* virtio_rng
alias acpi*:PNP0C0C:* button
";

    fn dev(path: &str, alias: &str) -> DeviceAlias {
        DeviceAlias {
            devpath: path.into(),
            modalias: alias.into(),
        }
    }

    fn index() -> ModuleIndex {
        ModuleIndex::parse(DEP, ALIAS, "", "kernel/drivers/acpi/button.ko\n")
    }

    #[test]
    fn devices_resolve_to_modules_builtins_or_nothing() {
        let devices = vec![
            dev(
                "/devices/pci0000:00/0000:00:04.0",
                "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
            ),
            dev(
                "/devices/pci0000:00/0000:00:04.0/virtio1",
                "virtio:d00000002v00001AF4",
            ),
            dev("/devices/LNXSYSTM:00/LNXPWRBN:00", "acpi:PNP0C0C:"),
            dev(
                "/devices/pci0000:00/0000:00:01.0",
                "pci:v00008086d00007000sv00001AF4sd00001100bc06sc01i00",
            ),
        ];
        let params = BootParams::parse("");
        let d = decide(&index(), &ModuleConfig::default(), &params, devices);
        assert_eq!(d[0].drivers, [Driver::Module("virtio_pci".into())]);
        assert_eq!(d[1].drivers, [Driver::Module("virtio_blk".into())]);
        assert_eq!(d[2].drivers, [Driver::Builtin("button".into())]);
        assert!(d[3].drivers.is_empty());
        assert_eq!(
            d[3].to_string(),
            "/devices/pci0000:00/0000:00:01.0 (pci:v00008086d00007000sv00001AF4sd00001100bc06sc01i00): no module"
        );
        let mut already = NameSet::default();
        let reqs = requests(&d, &mut already);
        let names: Vec<_> = reqs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["virtio_pci", "virtio_blk"]);
        assert_eq!(
            reqs[1].reason,
            "for device /devices/pci0000:00/0000:00:04.0/virtio1 (virtio:d00000002v00001AF4)"
        );
        assert!(requests(&d, &mut already).is_empty(), "each module once");
    }

    #[test]
    fn blacklists_from_cmdline_and_modprobe_d() {
        let devices = vec![
            dev("/devices/a/virtio0", "virtio:d00000001v00001AF4"),
            dev("/devices/a/virtio1", "virtio:d00000004v00001AF4"),
        ];
        let mut config = ModuleConfig::default();
        config.parse_modprobe_conf("blacklist virtio-rng\n", Path::new("x.conf"));
        let params = BootParams::parse("rd.driver.blacklist=virtio-net");
        let d = decide(&index(), &config, &params, devices);
        assert_eq!(d[0].drivers, [Driver::Blacklisted("virtio_net".into())]);
        assert_eq!(d[1].drivers, [Driver::Blacklisted("virtio_rng".into())]);
        assert!(d[0]
            .to_string()
            .ends_with("virtio_net (blacklisted, skipped)"));
        assert!(requests(&d, &mut NameSet::default()).is_empty());
    }

    #[test]
    fn modprobe_d_alias_wins() {
        let mut config = ModuleConfig::default();
        config.parse_modprobe_conf("alias virtio:d00000001v* virtio_rng\n", Path::new("x.conf"));
        let d = decide(
            &index(),
            &config,
            &BootParams::parse(""),
            vec![dev("/devices/a/virtio0", "virtio:d00000001v00001AF4")],
        );
        assert_eq!(d[0].drivers, [Driver::Module("virtio_rng".into())]);
    }

    #[test]
    fn scan_reads_modalias_files_without_following_links() {
        let sys = std::env::temp_dir().join(format!("coldplug-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&sys);
        let pci = sys.join("devices/pci0000:00/0000:00:04.0");
        std::fs::create_dir_all(pci.join("virtio1")).unwrap();
        std::fs::write(pci.join("modalias"), "pci:v00001AF4d00001001\n").unwrap();
        std::fs::write(pci.join("virtio1/modalias"), "virtio:d00000002v00001AF4\n").unwrap();
        std::fs::write(pci.join("vendor"), "0x1af4\n").unwrap();
        // A loop through a symlink must not be followed.
        std::os::unix::fs::symlink("../..", pci.join("virtio1/subsystem")).unwrap();
        std::fs::create_dir_all(sys.join("devices/virtual/empty")).unwrap();
        std::fs::write(sys.join("devices/virtual/empty/modalias"), "\n").unwrap();
        let found = scan(&sys);
        std::fs::remove_dir_all(&sys).unwrap();
        assert_eq!(
            found,
            [
                dev("/devices/pci0000:00/0000:00:04.0", "pci:v00001AF4d00001001"),
                dev(
                    "/devices/pci0000:00/0000:00:04.0/virtio1",
                    "virtio:d00000002v00001AF4"
                ),
            ]
        );
    }
}
