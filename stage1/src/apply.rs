//! Carrying out a [`Plan`]'s mount steps: the only part of the mount plan
//! that makes syscalls.
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::mount::mount;

use crate::devices::block;
use crate::plan::{MountSpec, Plan, Source, Step, AUTO_FSTYPE};

/// Options for [`apply`] that come from the command line.
pub struct ApplyOptions<'a> {
    pub device_timeout: Duration,
    /// What a wait for a device blocks on: uevents (loading the drivers
    /// they call for) when booting, [`block::Rescan`] in tests.
    pub events: &'a mut dyn block::DeviceEvents,
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
                crate::copy_file(&src, to).with_context(|| {
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
        Source::Device(spec) => block::wait_for(spec, opts.device_timeout, &mut *opts.events),
        Source::LoopFile(file) => attach_loop(file),
        Source::Virtual(name) => Ok(PathBuf::from(name)),
        Source::Share(_, tag) => Ok(PathBuf::from(tag)),
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
    // One read of the superblock serves both the type probe and the
    // store image's checks.
    let probed = if spec.fstype == AUTO_FSTYPE || spec.fstype == "squashfs" {
        Some(
            block::probe(&source)
                .with_context(|| format!("reading the superblock of {}", source.display()))?,
        )
    } else {
        None
    };
    let fstype = if spec.fstype == AUTO_FSTYPE {
        match probed.as_ref().and_then(|p| p.fstype) {
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
    if let (Some(probed), "squashfs") = (&probed, fstype.as_str()) {
        check_squashfs(&source, probed)?;
    }
    log::debug!(
        "mount -t {} {} {} -o {}",
        fstype,
        source.display(),
        spec.target.display(),
        spec.data
    );
    let data = (!spec.data.is_empty()).then_some(spec.data.as_str());
    // A host share is tried again after each uevent (its virtio device and
    // driver may come late) up to the device timeout while its tag is not
    // there: 9p says ENOENT then, virtiofs EINVAL.
    let deadline = Instant::now() + opts.device_timeout;
    let mut announced = false;
    while let Err(e) = mount(
        Some(source.as_path()),
        spec.target.as_path(),
        Some(fstype.as_str()),
        spec.flags,
        data,
    ) {
        let tag = match &spec.source {
            Source::Share(_, tag) if matches!(e, Errno::ENOENT | Errno::EINVAL) => tag,
            _ => {
                return Err(std::io::Error::from(e))
                    .with_context(|| mount_error(&source, &fstype, spec))
            }
        };
        if Instant::now() >= deadline {
            bail!(
                "share {tag} ({fstype}) not found after {} s; {}. Check root=/boot.xchg= and the tags the host gives (NixOS shares its store as nix-store)",
                opts.device_timeout.as_secs(),
                share_tags()
            );
        }
        if !announced {
            log::info!("Waiting for share {tag} to appear...");
            announced = true;
        }
        opts.events.wait(deadline);
    }
    if let Source::Device(_) = spec.source {
        link_dev_root(&source, spec);
    }
    Ok(())
}

fn mount_error(source: &Path, fstype: &str, spec: &MountSpec) -> String {
    format!(
        "mounting {} ({}) on {}: {}",
        source.display(),
        fstype,
        spec.target.display(),
        hint(spec)
    )
}

/// The tags of the machine's shares: `9p tags: A B; virtiofs tags: C`
/// (`none` for a kind without any). 9p's are each virtio device's
/// `mount_tag` (which ends in a NUL); virtio-fs's (device 26) are read
/// from its PCI function's config (`devices::virtiofs`), as Linux lists
/// them (`/sys/fs/virtiofs`) only from 6.10 on.
fn share_tags() -> String {
    let (mut p9, mut fs) = (String::new(), String::new());
    for d in crate::devices::coldplug::scan(Path::new("/sys")) {
        let dir = format!("/sys{}", d.devpath);
        let (tags, tag) = if d.modalias.starts_with("virtio:d00000009v") {
            let tag = std::fs::read_to_string(format!("{dir}/mount_tag"));
            (&mut p9, tag.ok())
        } else if d.modalias.starts_with("virtio:d0000001Av") {
            let pci = Path::new(&dir).parent();
            (&mut fs, pci.and_then(crate::devices::virtiofs::tag))
        } else {
            continue;
        };
        if let Some(t) = tag {
            tags.push(' ');
            tags.push_str(t.trim_end_matches('\0'));
        }
    }
    for tags in [&mut p9, &mut fs] {
        if tags.is_empty() {
            tags.push_str(" none");
        }
    }
    format!("9p tags:{p9}; virtiofs tags:{fs}")
}

/// A clear message for a corrupt, wrong or truncated store image beats
/// mount's bare EINVAL: the `hsqs` magic must be there, and the device must
/// be at least as long as the superblock's `bytes_used`.
fn check_squashfs(source: &Path, probed: &block::Probe) -> Result<()> {
    if probed.fstype != Some("squashfs") {
        bail!(
            "{} is not a squashfs image (no `hsqs` magic): check root= and the image",
            source.display()
        );
    }
    if let (Some(recorded), Some(size)) = (probed.bytes_used, probed.len) {
        if recorded > size {
            bail!(
                "the store image {} is truncated: its superblock says {recorded} bytes, the device has {size}; write or download the image again",
                source.display()
            );
        }
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
        "9p" | "virtiofs" => "is its module in the initrd (scripts/mkinitrd.sh)?",
        _ => "check the filesystem type (rootfstype=) and options (rootflags=)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file holding a squashfs superblock whose `bytes_used` is `recorded`,
    /// `len` bytes long.
    fn image(name: &str, recorded: u64, len: usize) -> PathBuf {
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(b"hsqs");
        b[40..48].copy_from_slice(&recorded.to_le_bytes());
        let p = std::env::temp_dir().join(format!("apply-{name}-{}", std::process::id()));
        std::fs::write(&p, b).unwrap();
        p
    }

    fn check(p: &Path) -> Result<()> {
        check_squashfs(p, &block::probe(p)?)
    }

    #[test]
    fn truncated_squashfs_names_both_sizes() {
        let p = image("short", 8192, 4096);
        let err = format!("{:#}", check(&p).unwrap_err());
        std::fs::remove_file(&p).unwrap();
        assert!(
            err.contains("is truncated") && err.contains("says 8192 bytes, the device has 4096"),
            "{err}"
        );
    }

    #[test]
    fn whole_squashfs_passes_the_size_check() {
        // Images are padded to 4 KiB: the device may be longer than recorded.
        let p = image("whole", 5000, 8192);
        let res = check(&p);
        std::fs::remove_file(&p).unwrap();
        res.unwrap();
    }
}
