//! The stage-1 plan: what will be loaded and mounted, in order, and why.
//!
//! Computing the plan reads only files (the initramfs tree, `modules.*`,
//! `/etc/modules-load.d`) and never touches the system, so `init plan` can
//! print it anywhere and the unit tests can assert on it.
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::mount::MsFlags;

use crate::cmdline::{BootParams, RootSpec, ShareFs};
use crate::devices::coldplug::{self, Decision, DeviceAlias};
use crate::modules::{self, ModuleConfig, ModuleIndex, ModulePlan, ModuleRequest};

/// Where stage-1 builds the new root before switching to it.
pub const NEW_ROOT: &str = "/mnt-root";
/// The store device when the command line names none (not-os's default).
pub const DEFAULT_STORE_DEVICE: &str = "/dev/vda";
/// `fstype` of a mount whose type is read from the device's superblock.
pub const AUTO_FSTYPE: &str = "auto";
/// How long to wait for a block device when the command line does not say.
pub const DEFAULT_ROOT_TIMEOUT_SECS: u64 = 20;
/// 9p's options for a host share. msize 128 KiB, 6.1's default, said so
/// for kernels whose default is 8 KiB: reading 96 MiB from the store
/// (`bench_9p_msize` in tests/tests/vm_shared.rs) took 0.65 s with it,
/// 0.69 s with the transport's largest (512000), 3.8 s with NixOS's 16384.
pub const NINE_P_OPTIONS: &str = "trans=virtio,version=9p2000.L,msize=131072";
/// The same for the store: nothing else changes it under the guest, so
/// it is cached without checks (`cache=loose`, as NixOS mounts its store).
const NINE_P_STORE: &str = "trans=virtio,version=9p2000.L,msize=131072,cache=loose";

/// Where a filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A block device, waited for and resolved at apply time.
    Device(RootSpec),
    /// An image file, attached to a loop device at apply time.
    LoopFile(PathBuf),
    /// A virtual filesystem: the name is only the mount source label.
    Virtual(&'static str),
    /// An image on an HTTP server (`root=http://…`), fetched into RAM by a
    /// [`Step::Fetch`] before anything mounts it.
    Http(String),
    /// A host share by its tag (`root=9p:TAG`, `boot.xchg=TAG`), waited for
    /// like a device: its mount is tried again until the tag is there.
    Share(ShareFs, String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Device(spec) => write!(f, "{spec}"),
            Source::LoopFile(p) => write!(f, "loop:{}", p.display()),
            Source::Virtual(name) => f.write_str(name),
            Source::Http(url) => f.write_str(url),
            Source::Share(fs, tag) => write!(f, "{}:{tag}", fs.fstype()),
        }
    }
}

/// One mount(2) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: Source,
    pub target: PathBuf,
    pub fstype: String,
    pub flags: MsFlags,
    pub data: String,
    pub why: &'static str,
}

/// One step of the mount plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Mkdir {
        path: PathBuf,
        mode: u32,
    },
    Mount(MountSpec),
    /// Copy an image into RAM (`copytoram`); later steps use `to`.
    CopyToRam {
        from: Source,
        to: PathBuf,
    },
    /// Download `url` into `to` (a file on the store's tmpfs), checking it
    /// fits in free RAM first and, with `sha256=`, its checksum after: a
    /// file that fails is removed, never mounted.
    Fetch {
        url: String,
        to: PathBuf,
        sha256: Option<String>,
    },
}

/// Everything stage-1 will do after the API filesystems are up.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kernel_release: String,
    pub module_dir: PathBuf,
    /// What depmod wrote, and the initramfs's modprobe.d/modules-load.d:
    /// kept for the drivers of devices that appear later (uevents).
    pub index: ModuleIndex,
    pub config: ModuleConfig,
    /// The devices found in sysfs and the modules they call for (empty
    /// with `boot.coldplug=0`, or when there is no sysfs to read).
    pub coldplug: Vec<Decision>,
    pub modules: ModulePlan,
    /// Modules a mount needs (normalized names): failing to load one is an
    /// error, while the rest are optional.
    pub required_modules: Vec<String>,
    pub steps: Vec<Step>,
    pub new_root: PathBuf,
    /// The system to boot, as a path inside the new root.
    pub toplevel: Option<PathBuf>,
}

impl Plan {
    /// Compute the plan for `params` against the initramfs tree at `root`
    /// (`/` when booting) for kernel `kernel_release`; the devices to load
    /// drivers for are read from `<root>/sys`.
    pub fn compute(params: &BootParams, root: &Path, kernel_release: &str) -> Result<Self> {
        Self::compute_at(
            params,
            root,
            kernel_release,
            Path::new(NEW_ROOT),
            &root.join("sys"),
        )
    }

    /// [`Plan::compute`] with the new root somewhere else than
    /// [`NEW_ROOT`] (namespace tests build it in a temporary directory) and
    /// the devices from the sysfs tree `sys` (`init plan --sys`).
    pub fn compute_at(
        params: &BootParams,
        root: &Path,
        kernel_release: &str,
        new_root: &Path,
        sys: &Path,
    ) -> Result<Self> {
        // A root= that can name nothing stops here, not after a 20 s wait.
        params.check()?;
        let module_dir = root.join("lib/modules").join(kernel_release);
        let store = store_source(params);
        if let (Source::Http(url), true, None) = (&store, params.require_sha256, &params.sha256) {
            anyhow::bail!(
                "root={url}: boot.require_sha256 is set but no sha256= is given: \
                 add sha256=<the image's SHA-256, as sha256sum prints it>"
            );
        }
        let devices = if params.coldplug_off {
            Vec::new()
        } else {
            coldplug::scan(sys)
        };
        let lists = Lists(true, Some(&store));
        let mut plan = Self::modules_only(params, root, module_dir, devices, lists)?;
        kernel_release.clone_into(&mut plan.kernel_release);
        plan.steps = mount_steps(params, &store, new_root);
        new_root.clone_into(&mut plan.new_root);
        Ok(plan)
    }

    /// The drivers of the running system (`init coldplug`, run by PID 1 in
    /// stage-2): the module tree `module_dir` and the modprobe.d under
    /// `root`; no mounts, none of the store's modules. `devices`: those
    /// announced since (a uevent's), or `None` for every device in `sys`
    /// and the modules-load.d and `modules_load=` lists, once at the start.
    pub fn for_system(
        params: &BootParams,
        root: &Path,
        module_dir: PathBuf,
        sys: &Path,
        devices: Option<Vec<DeviceAlias>>,
    ) -> Result<Self> {
        // The lists only once, with the scan of every device.
        let lists = devices.is_none();
        let devices = devices.unwrap_or_else(|| coldplug::scan(sys));
        let mut plan = Self::modules_only(params, root, module_dir, devices, Lists(lists, None))?;
        if let Some(release) = plan.module_dir.file_name() {
            plan.kernel_release = release.to_string_lossy().into_owned();
        }
        Ok(plan)
    }

    /// What both share: the index, the configuration, the drivers of
    /// `devices` (unless `boot.coldplug=0`) and the module plan, with the
    /// listed modules when `lists` says so.
    fn modules_only(
        params: &BootParams,
        root: &Path,
        module_dir: PathBuf,
        devices: Vec<DeviceAlias>,
        lists: Lists<'_>,
    ) -> Result<Self> {
        let index = if module_dir.join("modules.dep").exists() {
            ModuleIndex::load(&module_dir)?
        } else {
            // An initramfs with every driver built in is valid: nothing to load.
            ModuleIndex::parse("", "", "", "")
        };
        let config = ModuleConfig::load(root)
            .with_context(|| format!("reading module configuration under {}", root.display()))?;
        let coldplug = if params.coldplug_off {
            Vec::new()
        } else {
            coldplug::decide(&index, &config, params, devices)
        };
        let mut requests = coldplug::requests(&coldplug, &mut modules::NameSet::default());
        if let Lists(true, store) = lists {
            requests.extend(module_requests(params, &config, store));
        }
        let mut modules = modules::plan(&index, &config, params, &requests);
        // Lines of modules.* and modprobe.d/modules-load.d that were skipped:
        // said once, with the plan's own warnings.
        modules.warnings.splice(
            0..0,
            index.warnings().iter().chain(config.warnings()).cloned(),
        );
        let required_modules = requests
            .iter()
            .filter(|r| r.required)
            .map(|r| crate::cmdline::normalize_name(&r.name))
            .collect();
        Ok(Plan {
            kernel_release: String::new(),
            module_dir,
            index,
            config,
            coldplug,
            modules,
            required_modules,
            steps: Vec::new(),
            new_root: PathBuf::new(),
            toplevel: params.toplevel.clone(),
        })
    }

    /// Whether module `name` is needed by a mount.
    pub fn is_required(&self, name: &str) -> bool {
        self.required_modules
            .contains(&crate::cmdline::normalize_name(name))
    }

    /// The mount targets in the order they are mounted.
    pub fn mounts(&self) -> impl Iterator<Item = &MountSpec> {
        self.steps.iter().filter_map(|s| match s {
            Step::Mount(m) => Some(m),
            _ => None,
        })
    }
}

/// Whether a plan takes the modules-load.d and `modules_load=` lists, and
/// the store's modules (stage-1 only).
#[derive(Clone, Copy)]
struct Lists<'a>(bool, Option<&'a Source>);

/// Where the store image comes from: a path outside `/dev` is a file inside
/// the initramfs (netboot style), anything else a block device.
fn store_source(params: &BootParams) -> Source {
    match &params.root {
        Some(RootSpec::Path(p)) if !p.starts_with("/dev") => Source::LoopFile(p.clone()),
        Some(RootSpec::Url(u)) => Source::Http(u.clone()),
        Some(RootSpec::Share(fs, tag)) => Source::Share(*fs, tag.clone()),
        Some(spec) => Source::Device(spec.clone()),
        None => Source::Device(RootSpec::Path(DEFAULT_STORE_DEVICE.into())),
    }
}

fn module_requests(
    params: &BootParams,
    config: &ModuleConfig,
    store: Option<&Source>,
) -> Vec<ModuleRequest> {
    let mut out = Vec::new();
    let mut want = |name: &str, required: bool, reason: &str| {
        out.push(ModuleRequest {
            name: name.to_owned(),
            required,
            reason: reason.to_owned(),
        });
    };
    for name in config.wanted() {
        want(name, false, "listed in /etc/modules-load.d");
    }
    // The running system's drivers: its mounts are done, and stage-1 took
    // the command line's list (said once, there).
    let Some(store) = store else {
        return out;
    };
    for name in &params.modules_load {
        want(name, false, "rd.modules_load= on the command line");
    }
    let mut nine_p = params.xchg.is_some();
    match store {
        Source::Share(fs, _) => {
            nine_p |= *fs == ShareFs::NineP;
            want(
                fs.fstype(),
                true,
                "needed to mount the store shared by the host",
            );
        }
        _ => want("squashfs", true, "needed to mount the store image"),
    }
    if nine_p {
        // The filesystem needs its transport; coldplug finds it too, from
        // the device's modalias, but a mount must not depend on that.
        want("9p", true, "needed to mount a 9p share");
        want("9pnet_virtio", true, "the transport of a 9p share");
    }
    want(
        "overlay",
        true,
        "needed for the writable /nix/store overlay",
    );
    if matches!(store, Source::LoopFile(_) | Source::Http(_)) || copies_to_ram(params, store) {
        want("loop", true, "needed to mount the store image from a file");
    }
    if params.realroot.is_some() {
        // Without rootfstype= the type is probed at mount time; ext4 is the
        // one we load ahead, optionally (it is often built in).
        match params.rootfstype.as_deref() {
            Some(fstype) => want(fstype, true, "needed to mount realroot= (rootfstype=)"),
            None => want("ext4", false, "the usual filesystem of realroot="),
        }
    }
    out
}

const SHARED_STORE: &str = "the store shared by the host, read-only";

/// `copytoram` copies an image; a share is none, and stays where it is.
fn copies_to_ram(params: &BootParams, store: &Source) -> bool {
    params.copytoram && !matches!(store, Source::Share(..))
}

fn mount_steps(params: &BootParams, store: &Source, new_root: &Path) -> Vec<Step> {
    let mut steps = vec![Step::Mkdir {
        path: new_root.to_owned(),
        mode: 0o755,
    }];
    if let Some(realroot) = &params.realroot {
        steps.push(Step::Mount(MountSpec {
            source: Source::Device(realroot.clone()),
            target: new_root.to_owned(),
            fstype: params
                .rootfstype
                .clone()
                .unwrap_or_else(|| AUTO_FSTYPE.into()),
            flags: MsFlags::empty(),
            data: params.rootflags.clone().unwrap_or_default(),
            why: "realroot=: a disk for / instead of tmpfs",
        }));
    } else {
        let size = params.tmpfs_size.as_deref().unwrap_or("50%");
        steps.push(Step::Mount(MountSpec {
            source: Source::Virtual("tmpfs"),
            target: new_root.to_owned(),
            fstype: "tmpfs".into(),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            data: format!("mode=0755,size={size}"),
            why: "the root filesystem lives in RAM",
        }));
    }
    let nix = new_root.join("nix");
    let ro = nix.join(".ro-store");
    let rw = nix.join(".rw-store");
    for dir in [&nix, &ro, &rw, &nix.join("store")] {
        steps.push(Step::Mkdir {
            path: dir.clone(),
            mode: 0o755,
        });
    }
    steps.push(Step::Mount(MountSpec {
        source: Source::Virtual("tmpfs"),
        target: rw.clone(),
        fstype: "tmpfs".into(),
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        data: "mode=0755".into(),
        why: "the writable upper layer of /nix/store",
    }));
    let image = if let Source::Http(url) = store {
        let to = rw.join("nix-store.squashfs");
        steps.push(Step::Fetch {
            url: url.clone(),
            to: to.clone(),
            sha256: params.sha256.clone(),
        });
        Source::LoopFile(to)
    } else if copies_to_ram(params, store) {
        let to = rw.join("nix-store.squashfs");
        steps.push(Step::CopyToRam {
            from: store.clone(),
            to: to.clone(),
        });
        Source::LoopFile(to)
    } else {
        store.clone()
    };
    let (fstype, data, why) = match store {
        Source::Share(ShareFs::NineP, _) => ("9p", NINE_P_STORE, SHARED_STORE),
        Source::Share(ShareFs::Virtiofs, _) => ("virtiofs", "", SHARED_STORE),
        _ => ("squashfs", "", "the read-only store image"),
    };
    steps.push(Step::Mount(MountSpec {
        source: image,
        target: ro.clone(),
        fstype: fstype.into(),
        flags: MsFlags::MS_RDONLY,
        data: data.into(),
        why,
    }));
    for dir in ["store", "work"] {
        steps.push(Step::Mkdir {
            path: rw.join(dir),
            mode: 0o755,
        });
    }
    steps.push(Step::Mount(MountSpec {
        source: Source::Virtual("overlay"),
        target: nix.join("store"),
        fstype: "overlay".into(),
        flags: MsFlags::empty(),
        data: format!(
            "lowerdir={},upperdir={},workdir={}",
            ro.display(),
            rw.join("store").display(),
            rw.join("work").display()
        ),
        why: "a writable /nix/store over the image",
    }));
    if let Some(tag) = &params.xchg {
        xchg_steps(&mut steps, tag, new_root, params.realroot.is_some());
    }
    steps
}

/// `boot.xchg=TAG`: the host's share at `/tmp/xchg`. On a disk root, a
/// tmpfs `/tmp` first: stage-2 would mount one over the share (it keeps a
/// `/tmp` that is already mounted).
fn xchg_steps(steps: &mut Vec<Step>, tag: &str, new_root: &Path, disk_root: bool) {
    let tmp = new_root.join("tmp");
    let xchg = tmp.join("xchg");
    if disk_root {
        steps.push(Step::Mkdir {
            path: tmp.clone(),
            mode: 0o1777,
        });
        steps.push(Step::Mount(MountSpec {
            source: Source::Virtual("tmpfs"),
            target: tmp,
            fstype: "tmpfs".into(),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            data: "mode=1777".into(),
            why: "/tmp, under the shared directory",
        }));
    }
    steps.push(Step::Mkdir {
        path: xchg.clone(),
        mode: 0o755,
    });
    steps.push(Step::Mount(MountSpec {
        source: Source::Share(ShareFs::NineP, tag.to_owned()),
        target: xchg,
        fstype: "9p".into(),
        flags: MsFlags::empty(),
        data: NINE_P_OPTIONS.into(),
        why: "boot.xchg=: the host's shared directory",
    }));
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kernel {} (modules from {})",
            self.kernel_release,
            self.module_dir.display()
        )?;
        if !self.coldplug.is_empty() {
            writeln!(f, "devices:")?;
            for d in &self.coldplug {
                writeln!(f, "  {d}")?;
            }
        }
        writeln!(f, "modules:")?;
        write!(f, "{}", self.modules)?;
        writeln!(f, "mounts:")?;
        for step in &self.steps {
            match step {
                Step::Mkdir { path, mode } => {
                    writeln!(f, "  mkdir {} (mode {mode:o})", path.display())?;
                }
                Step::Mount(m) => writeln!(
                    f,
                    "  mount -t {} {} {}{}{}  # {}",
                    m.fstype,
                    m.source,
                    m.target.display(),
                    flags_text(m.flags),
                    if m.data.is_empty() {
                        String::new()
                    } else {
                        format!(" -o {}", m.data)
                    },
                    m.why
                )?,
                Step::CopyToRam { from, to } => {
                    writeln!(f, "  copy {from} to {} (copytoram)", to.display())?;
                }
                Step::Fetch { url, to, sha256 } => {
                    write!(f, "  fetch {url} to {}", to.display())?;
                    match sha256 {
                        Some(h) => writeln!(f, " (sha256 {h})")?,
                        None => writeln!(f, " (no sha256= given: not verified)")?,
                    }
                    #[cfg(not(feature = "net"))]
                    writeln!(f, "  the fetch will fail: {}", crate::NO_NETWORK)?;
                }
            }
        }
        match &self.toplevel {
            Some(t) => writeln!(
                f,
                "switch_root {} then stage-2 of {}",
                self.new_root.display(),
                t.display()
            ),
            None => writeln!(
                f,
                "switch_root {} (no toplevel= given: the boot will stop here)",
                self.new_root.display()
            ),
        }
    }
}

fn flags_text(flags: MsFlags) -> String {
    let names = [
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!(" [{}]", set.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_for(cmdline: &str) -> Plan {
        let dir = std::env::temp_dir().join(format!("plan-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Plan::compute(&BootParams::parse(cmdline), &dir, "6.1.0-test").unwrap()
    }

    #[test]
    fn default_plan_is_tmpfs_root_with_store_overlay() {
        let plan = plan_for("toplevel=/nix/store/abc-toplevel");
        let targets: Vec<String> = plan
            .mounts()
            .map(|m| m.target.display().to_string())
            .collect();
        assert_eq!(
            targets,
            [
                "/mnt-root",
                "/mnt-root/nix/.rw-store",
                "/mnt-root/nix/.ro-store",
                "/mnt-root/nix/store"
            ]
        );
        let ro = plan.mounts().nth(2).unwrap();
        assert_eq!(ro.source, Source::Device(RootSpec::Path("/dev/vda".into())));
        assert!(ro.flags.contains(MsFlags::MS_RDONLY));
        let overlay = plan.mounts().last().unwrap();
        assert!(overlay
            .data
            .contains("upperdir=/mnt-root/nix/.rw-store/store"));
    }

    #[test]
    fn file_root_goes_through_loop_and_requires_loop_module() {
        let plan = plan_for("root=/nix-store.squashfs");
        let ro = plan.mounts().find(|m| m.fstype == "squashfs").unwrap();
        assert_eq!(ro.source, Source::LoopFile("/nix-store.squashfs".into()));
    }

    #[test]
    fn realroot_replaces_tmpfs() {
        let plan = plan_for("realroot=/dev/vdb rootfstype=ext4 rootflags=noatime");
        let first = plan.mounts().next().unwrap();
        assert_eq!(
            first.source,
            Source::Device(RootSpec::Path("/dev/vdb".into()))
        );
        assert_eq!(first.fstype, "ext4");
        let auto = plan_for("realroot=LABEL=data");
        assert_eq!(auto.mounts().next().unwrap().fstype, AUTO_FSTYPE);
        assert_eq!(first.data, "noatime");
    }

    #[test]
    fn copytoram_copies_before_the_squashfs_mount() {
        let plan = plan_for("copytoram");
        let copy = plan
            .steps
            .iter()
            .position(|s| matches!(s, Step::CopyToRam { .. }))
            .unwrap();
        let sq = plan
            .steps
            .iter()
            .position(|s| matches!(s, Step::Mount(m) if m.fstype == "squashfs"))
            .unwrap();
        assert!(copy < sq);
    }

    #[test]
    fn an_http_store_is_fetched_and_a_build_without_net_says_it_cannot() {
        let text = plan_for("root=http://10.0.2.2/store.squashfs").to_string();
        let fetch = "  fetch http://10.0.2.2/store.squashfs to \
                     /mnt-root/nix/.rw-store/nix-store.squashfs (no sha256= given: not verified)\n";
        assert!(text.contains(fetch), "{text}");
        let note = "  the fetch will fail: this init was built without network support";
        assert_eq!(text.contains(note), cfg!(not(feature = "net")), "{text}");
    }

    /// A store shared over 9p: mounted read-only by its tag with 9p's
    /// options at /nix/.ro-store, under the same tmpfs + overlay as an
    /// image; 9p and its virtio transport are required, squashfs is not.
    #[test]
    fn a_9p_store_is_mounted_by_tag_under_the_overlay() {
        let plan = plan_for("root=virtfs:nix-store copytoram");
        let text = plan.to_string();
        let ro = "  mount -t 9p 9p:nix-store /mnt-root/nix/.ro-store [ro] -o \
                  trans=virtio,version=9p2000.L,msize=131072,cache=loose  # the store shared by the host, read-only\n";
        assert!(text.contains(ro), "{text}");
        let fstypes: Vec<&str> = plan.mounts().map(|m| m.fstype.as_str()).collect();
        assert_eq!(fstypes, ["tmpfs", "tmpfs", "9p", "overlay"]);
        // Nothing to copy: a share is no image.
        assert!(!plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::CopyToRam { .. })));
        for m in ["9p", "9pnet_virtio", "overlay"] {
            assert!(plan.is_required(m), "{m}: {:?}", plan.required_modules);
        }
        assert!(!plan.is_required("squashfs") && !plan.is_required("loop"));
    }

    #[test]
    fn a_virtiofs_store_needs_virtiofs_only() {
        let plan = plan_for("root=virtiofs:nix-store");
        let ro = plan.mounts().nth(2).unwrap();
        assert_eq!(
            ro.source,
            Source::Share(ShareFs::Virtiofs, "nix-store".into())
        );
        assert_eq!((ro.fstype.as_str(), ro.data.as_str()), ("virtiofs", ""));
        assert!(ro.flags.contains(MsFlags::MS_RDONLY));
        assert!(plan.is_required("virtiofs") && !plan.is_required("9p"));
    }

    /// `boot.xchg=TAG`: the share at /tmp/xchg, read-write, last; on a
    /// disk root over a tmpfs /tmp of its own.
    #[test]
    fn xchg_mounts_the_shared_directory_at_tmp_xchg() {
        let plan = plan_for("boot.xchg=shared");
        let last = plan.mounts().last().unwrap();
        assert_eq!(last.source, Source::Share(ShareFs::NineP, "shared".into()));
        assert_eq!(last.target, Path::new("/mnt-root/tmp/xchg"));
        assert_eq!(
            (last.flags, last.data.as_str()),
            (MsFlags::empty(), NINE_P_OPTIONS)
        );
        assert!(plan.is_required("9p") && plan.is_required("squashfs"));
        let targets = |p: &Plan| -> Vec<PathBuf> { p.mounts().map(|m| m.target.clone()).collect() };
        assert!(!targets(&plan).contains(&PathBuf::from("/mnt-root/tmp")));
        let disk = plan_for("boot.xchg=shared realroot=LABEL=nixos");
        let t = targets(&disk);
        assert_eq!(
            t[t.len() - 2..],
            [
                PathBuf::from("/mnt-root/tmp"),
                PathBuf::from("/mnt-root/tmp/xchg")
            ]
        );
    }

    #[test]
    fn require_sha256_refuses_an_unverified_network_image() {
        let url = "root=http://10.0.2.2/s.img boot.require_sha256";
        let dir = std::env::temp_dir().join(format!("plan-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = Plan::compute(&BootParams::parse(url), &dir, "6.1.0-test").unwrap_err();
        assert_eq!(
            err.to_string(),
            "root=http://10.0.2.2/s.img: boot.require_sha256 is set but no sha256= is given: \
             add sha256=<the image's SHA-256, as sha256sum prints it>"
        );
        let verified = format!("{url} sha256={}", "ab".repeat(32));
        let text = plan_for(&verified).to_string();
        assert!(text.contains(" (sha256 abab"), "{text}");
    }

    #[test]
    fn a_root_that_can_name_nothing_is_refused_before_planning() {
        let dir = std::env::temp_dir().join(format!("plan-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let params = BootParams::parse("root=UUID=zz");
        let err = Plan::compute(&params, &dir, "6.1.0-test").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("kernel command line: root=UUID=zz: not a UUID"),
            "{err:#}"
        );
    }
}
