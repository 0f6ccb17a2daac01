//! The tag of a virtio-fs device on PCI, for the message of a share that
//! was not found: Linux lists virtiofs tags only from 6.10 on
//! (`/sys/fs/virtiofs`). The tag is the first field of the device's
//! config (`struct virtio_fs_config { u8 tag[36]; le32
//! num_request_queues; }`), which lives in a memory BAR: its sysfs
//! `resourceN` cannot be read (only mapped, and with
//! `CONFIG_IO_STRICT_DEVMEM` not even that while virtio_pci holds it). The
//! virtio PCI configuration access capability (`VIRTIO_PCI_CAP_PCI_CFG`,
//! virtio 1.x §4.1.4.9) is the way in: a window in PCI config space that
//! reads the BAR at the offset written into it.
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A vendor-specific capability: virtio's are all of this kind.
const VENDOR_CAP: u8 = 0x09;
/// `cfg_type` of the device-specific config, and of the access window.
const DEVICE_CFG: u8 = 4;
const PCI_CFG: u8 = 5;
/// Bytes of `virtio_fs_config.tag` (NUL-padded when shorter).
const TAG_LEN: u32 = 36;

/// From PCI config space: the BAR and offset of the device config, and
/// where the access window's capability starts. `None` without either.
pub fn locate(config: &[u8]) -> Option<(u8, u32, u64)> {
    // Status bit 4: the function has a capability list.
    if config.get(6)? & 0x10 == 0 {
        return None;
    }
    let (mut device, mut window) = (None, None);
    let mut pos = usize::from(*config.get(0x34)? & 0xfc);
    // At most 48 capabilities fit after the header: a loop ends there.
    for _ in 0..48 {
        if pos < 0x40 {
            break;
        }
        let cap = config.get(pos..pos + 12)?;
        if cap[0] == VENDOR_CAP && cap[3] == DEVICE_CFG {
            device = Some((
                cap[4],
                u32::from_le_bytes([cap[8], cap[9], cap[10], cap[11]]),
            ));
        } else if cap[0] == VENDOR_CAP && cap[3] == PCI_CFG {
            window = Some(pos as u64);
        }
        pos = usize::from(cap[1] & 0xfc);
    }
    let (bar, offset) = device?;
    Some((bar, offset, window?))
}

/// The tag of the virtio-fs device whose PCI function is the sysfs
/// directory `pci`, read four bytes at a time through the window (written
/// `bar`, then `offset` and `length`; read `pci_cfg_data`). Root only.
pub fn tag(pci: &Path) -> Option<String> {
    let config = OpenOptions::new()
        .read(true)
        .write(true)
        .open(pci.join("config"))
        .ok()?;
    let mut head = [0u8; 256];
    config.read_exact_at(&mut head, 0).ok()?;
    let (bar, offset, window) = locate(&head)?;
    config.write_all_at(&[bar], window + 4).ok()?;
    let mut tag = Vec::new();
    for at in (offset..offset + TAG_LEN).step_by(4) {
        let mut ask = [0u8, 0, 0, 0, 4, 0, 0, 0];
        ask[..4].copy_from_slice(&at.to_le_bytes());
        config.write_all_at(&ask, window + 8).ok()?;
        let mut word = [0u8; 4];
        config.read_exact_at(&mut word, window + 16).ok()?;
        tag.extend_from_slice(&word);
    }
    let end = tag.iter().position(|&b| b == 0).unwrap_or(tag.len());
    Some(String::from_utf8_lossy(&tag[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU 7.2's vhost-user-fs-pci, as `od` showed its config space in
    /// the guest: the device config in BAR 4 at 0x2000 (capability at
    /// 0x60), the access window's capability at 0x84.
    #[test]
    fn locate_finds_the_device_config_and_the_window() {
        let mut config = [0u8; 256];
        let rows: [(usize, [u8; 16]); 6] = [
            (
                0x00,
                [
                    0xf4, 0x1a, 0x5a, 0x10, 0x07, 0x05, 0x10, 0, 1, 0, 0x80, 1, 0, 0, 0, 0,
                ],
            ),
            (0x30, [0, 0, 0, 0, 0x98, 0, 0, 0, 0, 0, 0, 0, 0x0a, 1, 0, 0]),
            (0x40, [9, 0, 0x10, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]),
            (
                0x50,
                [9, 0x40, 0x10, 3, 4, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0],
            ),
            (
                0x60,
                [9, 0x50, 0x10, 4, 4, 0, 0, 0, 0, 0x20, 0, 0, 0, 0x10, 0, 0],
            ),
            (
                0x70,
                [9, 0x60, 0x14, 2, 4, 0, 0, 0, 0, 0x30, 0, 0, 0, 0x10, 0, 0],
            ),
        ];
        for (at, row) in rows {
            config[at..at + 16].copy_from_slice(&row);
        }
        config[0x80..0x88].copy_from_slice(&[4, 0, 0, 0, 9, 0x70, 0x14, 5]);
        config[0x98..0x9c].copy_from_slice(&[0x11, 0x84, 2, 0x80]);
        assert_eq!(locate(&config), Some((4, 0x2000, 0x84)));
        // No capability list (status bit 4 clear): nothing to find.
        config[6] = 0;
        assert_eq!(locate(&config), None);
        // A list without the window.
        config[6] = 0x10;
        config[0x99] = 0x70;
        assert_eq!(locate(&config), None);
    }
}
