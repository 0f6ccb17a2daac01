//! Block devices: waiting for them with a deadline, event-driven, and
//! finding them by `LABEL=`/`UUID=` from their superblocks and by
//! `PARTUUID=`/`PARTLABEL=` from the partition tables (no udev, no blkid).
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::partition::{self, Key};
use crate::cmdline::RootSpec;

/// Where the kernel lists every block device and partition.
const SYS_CLASS_BLOCK: &str = "/sys/class/block";

/// What a superblock says about a filesystem, and the device's length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub fstype: Option<&'static str>,
    pub label: Option<String>,
    pub uuid: Option<String>,
    /// squashfs: the image's length as its superblock records it
    /// (`bytes_used`, at offset 40).
    pub bytes_used: Option<u64>,
    /// The device's (or image file's) length; [`probe`] fills it in,
    /// [`probe_bytes`] cannot.
    pub len: Option<u64>,
}

/// Read the first 2 KiB of a device or image and recognise ext2/3/4 and
/// squashfs. ext* carries a label and a UUID; squashfs has neither.
pub fn probe(path: &Path) -> std::io::Result<Probe> {
    let mut buf = vec![0u8; 2048];
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(0))?;
    let mut n = 0;
    while n < buf.len() {
        let r = f.read(&mut buf[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    buf.truncate(n);
    Ok(Probe {
        len: Some(f.seek(SeekFrom::End(0))?),
        ..probe_bytes(&buf)
    })
}

/// [`probe`] on bytes already read: the parser, testable with pasted data.
pub fn probe_bytes(buf: &[u8]) -> Probe {
    if buf.len() >= 4 && &buf[..4] == b"hsqs" {
        return Probe {
            fstype: Some("squashfs"),
            bytes_used: buf
                .get(40..48)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            ..Probe::default()
        };
    }
    // ext2/3/4: superblock at 1024; magic 0xEF53 at offset 56 (LE).
    if buf.len() >= 1024 + 136 && buf[1024 + 56] == 0x53 && buf[1024 + 57] == 0xEF {
        let sb = &buf[1024..];
        let uuid = &sb[0x68..0x78];
        let label_raw = &sb[0x78..0x88];
        let end = label_raw
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(label_raw.len());
        let label = String::from_utf8_lossy(&label_raw[..end]).into_owned();
        let incompat = u32::from_le_bytes([sb[0x60], sb[0x61], sb[0x62], sb[0x63]]);
        let compat = u32::from_le_bytes([sb[0x5c], sb[0x5d], sb[0x5e], sb[0x5f]]);
        // extents (0x40) or 64bit (0x80) mean ext4; a journal (compat 0x4) ext3.
        let fstype = if incompat & 0xC0 != 0 {
            "ext4"
        } else if compat & 0x4 != 0 {
            "ext3"
        } else {
            "ext2"
        };
        return Probe {
            fstype: Some(fstype),
            label: (!label.is_empty()).then_some(label),
            uuid: Some(format_uuid(uuid)),
            ..Probe::default()
        };
    }
    Probe::default()
}

fn format_uuid(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let hex = b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The block devices the kernel knows now, as `/dev/NAME` paths.
pub fn block_devices() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(SYS_CLASS_BLOCK)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| Path::new("/dev").join(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Find the device `spec` names, once, without waiting.
pub fn find(spec: &RootSpec) -> Option<PathBuf> {
    match spec {
        RootSpec::Path(p) => p.exists().then(|| p.clone()),
        RootSpec::Label(want) => block_devices()
            .into_iter()
            .find(|d| probe(d).is_ok_and(|p| p.label.as_deref() == Some(want.as_str()))),
        RootSpec::Uuid(want) => block_devices().into_iter().find(|d| {
            probe(d).is_ok_and(|p| {
                p.uuid
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(want))
            })
        }),
        // No udev, so no /dev/disk/by-partuuid: the partition tables are
        // read here (uevents carry PARTUUID only from kernel 6.12 on).
        RootSpec::PartUuid(want) => partition::find(
            Path::new(SYS_CLASS_BLOCK),
            Path::new("/dev"),
            &Key::PartUuid(want.clone()),
        ),
        // Downloaded by the plan's fetch step, or mounted by tag: never
        // waited for as a device.
        RootSpec::Url(_) | RootSpec::Share(..) => None,
        RootSpec::PartLabel(want) => partition::find(
            Path::new(SYS_CLASS_BLOCK),
            Path::new("/dev"),
            &Key::PartLabel(want.clone()),
        ),
    }
}

/// What a device wait blocks on between two looks for the device.
pub trait DeviceEvents {
    /// Returns when devices may have changed (a uevent came, drivers were
    /// loaded for it), or at `deadline` at the latest.
    fn wait(&mut self, deadline: Instant);
}

/// The fallback when there is no uevent socket (a kernel without
/// `CONFIG_NET`, a test): look again every 50 ms.
#[derive(Debug, Default)]
pub struct Rescan;

impl DeviceEvents for Rescan {
    fn wait(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Wait until the device `spec` names exists, up to `timeout`, looking
/// again each time `events` says devices changed. The error names the
/// device, the time waited and the block devices that were seen.
pub fn wait_for(
    spec: &RootSpec,
    timeout: Duration,
    events: &mut dyn DeviceEvents,
) -> Result<PathBuf> {
    let deadline = Instant::now() + timeout;
    let mut announced = false;
    loop {
        if let Some(path) = find(spec) {
            return Ok(path);
        }
        let now = Instant::now();
        if now >= deadline {
            let seen: Vec<String> = block_devices()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            bail!(
                "device {spec} not found after {} s; block devices seen: {}. Check root=/realroot= and that the driver module is in the initrd",
                timeout.as_secs(),
                if seen.is_empty() { "none".to_owned() } else { seen.join(" ") }
            );
        }
        if !announced {
            log::info!("Waiting for device {spec} to appear...");
            announced = true;
        }
        events.wait(deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_squashfs() {
        let mut b = vec![0u8; 2048];
        b[..4].copy_from_slice(b"hsqs");
        assert_eq!(probe_bytes(&b).fstype, Some("squashfs"));
    }

    #[test]
    fn reads_ext4_label_and_uuid() {
        let mut b = vec![0u8; 2048];
        let sb = 1024;
        b[sb + 56] = 0x53;
        b[sb + 57] = 0xEF;
        b[sb + 0x60] = 0x40; // extents
        for (i, x) in (0u8..16).enumerate() {
            b[sb + 0x68 + i] = x;
        }
        b[sb + 0x78..sb + 0x78 + 4].copy_from_slice(b"data");
        let p = probe_bytes(&b);
        assert_eq!(p.fstype, Some("ext4"));
        assert_eq!(p.label.as_deref(), Some("data"));
        assert_eq!(
            p.uuid.as_deref(),
            Some("00010203-0405-0607-0809-0a0b0c0d0e0f")
        );
    }

    #[test]
    fn unknown_bytes_probe_to_nothing() {
        assert_eq!(probe_bytes(&[0u8; 100]), Probe::default());
    }
}
