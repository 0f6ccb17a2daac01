//! Matching table entries to the kernel's partitions in sysfs: by number,
//! disk by disk, so `PARTUUID=`/`PARTLABEL=` find `/dev/vda2` without udev.
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::table::parse;
use super::types::{Key, Table};

/// Find the partition `key` names among the kernel's block devices:
/// `sys_class_block` is `/sys/class/block`, the result `dev/<partition>`
/// (a `!` in a sysfs name is a `/` under /dev, as in `cciss!c0d0p1`).
/// Each disk's table is read once per call from `dev/<disk>`; a disk that
/// cannot be opened or read (a CD drive with no medium) is logged and skipped.
pub fn find(sys_class_block: &Path, dev: &Path, key: &Key) -> Option<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(sys_class_block)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    // A few disks at most: searched, not hashed (a map type of its own
    // costs dist/init more than the search).
    let mut tables: Vec<(String, Option<Table>)> = Vec::new();
    for name in names {
        let part = sys_class_block.join(&name);
        let Some(number) = read_number(&part.join("partition")) else {
            continue; // a whole disk
        };
        // /sys/devices/.../block/vda/vda1: the disk is the parent directory.
        let disk = part.canonicalize().ok().and_then(|p| {
            let d = p.parent()?.file_name()?;
            d.to_str().map(String::from)
        });
        let Some(disk) = disk else {
            log::debug!("partition: no disk for {}", part.display());
            continue;
        };
        let at = if let Some(at) = tables.iter().position(|(d, _)| *d == disk) {
            at
        } else {
            let table = read_table(sys_class_block, dev, &disk);
            tables.push((disk, table));
            tables.len() - 1
        };
        let table = &tables[at].1;
        let entries = table.as_ref().map_or(&[][..], Table::entries);
        if entries
            .iter()
            .any(|e| u64::from(e.number) == number && key.matches(e))
        {
            return Some(dev.join(name.replace('!', "/")));
        }
    }
    None
}

/// The table of `dev/<disk>`, its size and block size from sysfs.
fn read_table(sys_class_block: &Path, dev: &Path, disk: &str) -> Option<Table> {
    let sys = sys_class_block.join(disk);
    let path = dev.join(disk.replace('!', "/"));
    // `size` counts 512-byte sectors whatever the logical block size.
    let Some(sectors) = read_number(&sys.join("size")) else {
        log::debug!("partition: no size in {}", sys.display());
        return None;
    };
    let lbs = read_number(&sys.join("queue/logical_block_size")).unwrap_or(512);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            log::debug!("partition: cannot open {}: {e}", path.display());
            return None;
        }
    };
    let read_at = |off, buf: &mut [u8]| file.read_exact_at(buf, off);
    let lbs = u32::try_from(lbs).unwrap_or(0);
    match parse(read_at, sectors.saturating_mul(512), lbs) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            log::debug!("partition: no GPT or MBR on {}", path.display());
            None
        }
        Err(e) => {
            log::debug!("partition: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
