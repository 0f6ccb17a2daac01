//! Free memory, for the check before a fetch: the image goes into a tmpfs,
//! which lives in RAM, so it must fit in what the kernel can give without
//! swapping (there is no swap) less a reserve for the system itself. Like
//! dracut's `rd.minmem`, but computed from the image's size.
//!
//! `MemAvailable` (Linux 3.14+) is the kernel's own estimate of what can be
//! allocated without pushing anything out; `MemFree` would undercount (page
//! cache can be dropped) and is not used.

use std::io;

/// `MemAvailable:` from `/proc/meminfo` in bytes. `None` when the line is
/// missing (before Linux 3.14) or not `<number> kB`.
pub fn parse_mem_available(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let mut words = line.split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match (words.next(), words.next()) {
        (Some("kB"), None) => kib.checked_mul(1024),
        _ => None,
    }
}

/// [`parse_mem_available`] of this machine's `/proc/meminfo`.
pub fn mem_available() -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    parse_mem_available(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "/proc/meminfo has no `MemAvailable: <n> kB` line (Linux 3.14 or later needed)",
        )
    })
}

const MIB: u64 = 1024 * 1024;

/// Whether an image of `image` bytes fits in `available` bytes of RAM while
/// keeping `reserve` bytes for the system. The error is a console line that
/// names the numbers in MiB (the image and reserve rounded up, the free
/// memory down, so the numbers shown never seem to fit).
pub fn check_fits(image: u64, available: u64, reserve: u64) -> Result<(), String> {
    if image
        .checked_add(reserve)
        .is_some_and(|need| need <= available)
    {
        return Ok(());
    }
    Err(format!(
        "the store image is {} MiB but only {} MiB of RAM is free (keeping {} MiB for the \
         system): give the machine more memory or use a smaller image",
        image.div_ceil(MIB),
        available / MIB,
        reserve.div_ceil(MIB),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From a 2 GiB QEMU guest.
    const MEMINFO: &str = "\
MemTotal:        2030712 kB
MemFree:         1724348 kB
MemAvailable:    1801320 kB
Buffers:            2316 kB
Cached:           174216 kB
SwapCached:            0 kB
HugePages_Total:       0
";

    #[test]
    fn parses_mem_available() {
        assert_eq!(parse_mem_available(MEMINFO), Some(1_801_320 * 1024));
        assert_eq!(parse_mem_available("MemAvailable: 0 kB"), Some(0));
    }

    #[test]
    fn rejects_missing_or_odd_lines() {
        let old_kernel = MEMINFO.replace("MemAvailable:", "MemAvail:");
        assert_eq!(parse_mem_available(&old_kernel), None);
        for bad in [
            "",
            "MemAvailable:",
            "MemAvailable: 12 MB",
            "MemAvailable: 12",
            "MemAvailable: -12 kB",
            "MemAvailable: 12 kB extra",
            "MemAvailable: 99999999999999999999 kB",
            "MemAvailable: 18014398509481984 kB", // overflows u64 in bytes
        ] {
            assert_eq!(parse_mem_available(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_this_machine() {
        let bytes = mem_available().expect("/proc/meminfo");
        assert!(bytes > 0);
    }

    #[test]
    fn fits() {
        assert_eq!(check_fits(100 * MIB, 200 * MIB, 64 * MIB), Ok(()));
        assert_eq!(check_fits(136 * MIB, 200 * MIB, 64 * MIB), Ok(()));
        assert_eq!(check_fits(0, 0, 0), Ok(()));
    }

    #[test]
    fn refuses_with_the_numbers() {
        let err = check_fits(812 * MIB, 640 * MIB, 64 * MIB).unwrap_err();
        assert_eq!(
            err,
            "the store image is 812 MiB but only 640 MiB of RAM is free (keeping 64 MiB for \
             the system): give the machine more memory or use a smaller image"
        );
        // One byte too many: rounding never shows numbers that seem to fit.
        let err = check_fits(136 * MIB + 1, 200 * MIB, 64 * MIB).unwrap_err();
        assert!(err.contains("is 137 MiB but only 200 MiB"), "{err}");
        assert!(check_fits(u64::MAX, u64::MAX, 1).is_err());
    }
}
