//! Carrying out a [`Plan`]'s mount steps: the only part of the mount plan
//! that makes syscalls.
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::mount::mount;

use crate::device;
use crate::plan::{MountSpec, Plan, Source, Step, AUTO_FSTYPE};

/// Options for [`apply`] that come from the command line.
pub struct ApplyOptions<'a> {
    pub device_timeout: Duration,
    /// What a wait for a device blocks on: uevents (loading the drivers
    /// they call for) when booting, [`device::Rescan`] in tests.
    pub events: &'a mut dyn device::DeviceEvents,
}

/// Run every step of the plan's mount list, in order.
pub fn apply(plan: &Plan, opts: &mut ApplyOptions<'_>) -> Result<()> {
    for step in &plan.steps {
        match step {
            Step::Mkdir { path, mode } => mkdir(path, *mode)?,
            Step::Mount(spec) => mount_one(spec, opts)?,
            Step::Fetch { url, to, sha256 } => {
                crate::fetch::fetch_store(url, to, sha256.as_deref())?;
            }
            Step::CopyToRam { from, to } => {
                let src = resolve(from, opts)?;
                log::info!("Copying {} to RAM...", src.display());
                std::fs::copy(&src, to).with_context(|| {
                    format!("copytoram: copying {} to {}", src.display(), to.display())
                })?;
            }
        }
    }
    Ok(())
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .with_context(|| format!("creating directory {}", path.display()))
}

/// The path to hand to mount(2) for a source: waits for devices, attaches
/// image files to loop devices.
fn resolve(source: &Source, opts: &mut ApplyOptions<'_>) -> Result<PathBuf> {
    match source {
        Source::Device(spec) => device::wait_for(spec, opts.device_timeout, &mut *opts.events),
        Source::LoopFile(file) => attach_loop(file),
        Source::Virtual(name) => Ok(PathBuf::from(name)),
        // The plan fetches an HTTP image into a file first and mounts that.
        Source::Http(url) => bail!("{url}: an HTTP image can only be mounted once fetched"),
    }
}

fn attach_loop(file: &Path) -> Result<PathBuf> {
    if !file.exists() {
        bail!(
            "store image {} does not exist in the initramfs; check root=",
            file.display()
        );
    }
    let control = loopdev::LoopControl::open()
        .context("opening /dev/loop-control (is the loop module loaded?)")?;
    // Another process may take the free device between our asking and our
    // attaching (EBUSY): ask again, a bounded number of times.
    let mut attempt = 0;
    let dev = loop {
        attempt += 1;
        let dev = control.next_free().context("finding a free loop device")?;
        match dev.with().read_only(true).attach(file) {
            Ok(()) => break dev,
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) && attempt < 20 => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("attaching {} to a loop device", file.display())));
            }
        }
    };
    let path = dev.path().context("loop device has no path")?;
    log::debug!("attached {} to {}", file.display(), path.display());
    Ok(path)
}

fn mount_one(spec: &MountSpec, opts: &mut ApplyOptions<'_>) -> Result<()> {
    let source = resolve(&spec.source, opts)?;
    let fstype = if spec.fstype == AUTO_FSTYPE {
        let probed = device::probe(&source)
            .with_context(|| format!("reading the superblock of {}", source.display()))?;
        match probed.fstype {
            Some(t) => t.to_owned(),
            None => bail!(
                "cannot tell the filesystem type of {} (for {}); add rootfstype=",
                source.display(),
                spec.target.display()
            ),
        }
    } else {
        spec.fstype.clone()
    };
    if fstype == "squashfs" {
        // A clear message for a corrupt or wrong image beats mount's EINVAL.
        let probed = device::probe(&source)
            .with_context(|| format!("reading the store image {}", source.display()))?;
        if probed.fstype != Some("squashfs") {
            bail!(
                "{} is not a squashfs image (no `hsqs` magic): check root= and the image",
                source.display()
            );
        }
    }
    log::debug!(
        "mount -t {} {} {} -o {}",
        fstype,
        source.display(),
        spec.target.display(),
        spec.data
    );
    let data = (!spec.data.is_empty()).then_some(spec.data.as_str());
    mount(
        Some(&source),
        &spec.target,
        Some(fstype.as_str()),
        spec.flags,
        data,
    )
    .with_context(|| {
        format!(
            "mounting {} ({}) on {}: {}",
            source.display(),
            fstype,
            spec.target.display(),
            hint(spec)
        )
    })?;
    if let Source::Device(_) = spec.source {
        link_dev_root(&source, spec);
    }
    Ok(())
}

/// `/dev/root` names the device of `/` (the `realroot=` disk), or else the
/// store image's, as NixOS's stage-1 does, for tools that look for it.
/// Best effort: logged, never fatal.
fn link_dev_root(device: &Path, spec: &MountSpec) {
    let is_root = spec.fstype != "squashfs";
    let root_link = Path::new("/dev/root");
    if !is_root && root_link.symlink_metadata().is_ok() {
        return; // the realroot= disk already has it
    }
    let _ = std::fs::remove_file(root_link);
    if let Err(e) = std::os::unix::fs::symlink(device, root_link) {
        log::warn!("cannot link /dev/root to {}: {e}", device.display());
    }
}

/// What to check when a mount fails.
fn hint(spec: &MountSpec) -> &'static str {
    match spec.fstype.as_str() {
        "squashfs" => "is it a squashfs image, and is the squashfs module loaded?",
        "overlay" => "is the overlay module loaded?",
        "tmpfs" => "is the size= valid (boot.tmpfs_size=)?",
        _ => "check the filesystem type (rootfstype=) and options (rootflags=)",
    }
}
