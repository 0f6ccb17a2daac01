//! The plan's [`Step::Fetch`](crate::plan::Step::Fetch): the store image
//! from an HTTP server into a file on the store's tmpfs.
//!
//! Before a byte is written, the announced size must fit both in free RAM
//! (`MemAvailable` less a reserve for the system, like dracut's
//! `rd.minmem`) and in the tmpfs holding the file; the download then
//! streams through one buffer (our memory does not grow with the image),
//! resumes a dropped connection, and shows a progress line every 3 s. With
//! `sha256=` the checksum is compared before anything mounts the file; a
//! file that failed in any way is removed.
//!
//! A build without the cargo feature `net` has no network stack: there the
//! step fails at once, saying so.
use std::path::Path;

use anyhow::Result;
#[cfg(feature = "net")]
use {
    anyhow::{anyhow, Context},
    net::{http, meminfo, sha256},
    std::fs::File,
};

/// Without the network stack: fails, naming the URL and why.
#[cfg(not(feature = "net"))]
pub fn fetch_store(url: &str, _to: &Path, _expected: Option<&str>) -> Result<()> {
    anyhow::bail!("{url}: {}", crate::NO_NETWORK)
}

/// RAM kept free for the system besides the image.
#[cfg(feature = "net")]
const RESERVE: u64 = 64 << 20;

/// Fetches `url` into `to`, checking `expected` (a hex SHA-256) if given.
#[cfg(feature = "net")]
pub fn fetch_store(url: &str, to: &Path, expected: Option<&str>) -> Result<()> {
    let expected = if let Some(hex) = expected {
        Some(sha256::parse_hex_digest(hex).ok_or_else(|| {
            anyhow!(
                "sha256={hex}: not 64 hex digits; give the image's SHA-256 as sha256sum prints it"
            )
        })?)
    } else {
        log::warn!("no sha256= on the kernel command line: {url} will not be verified");
        None
    };
    let parsed = http::Url::parse(url)?;
    let dir = to.parent().unwrap_or(Path::new("/"));
    let fits = |size: u64| -> Result<(), String> {
        let ram = meminfo::mem_available().map_err(|e| format!("reading /proc/meminfo: {e}"))?;
        meminfo::check_fits(size, ram, RESERVE)?;
        let fs = rustix::fs::statvfs(dir).map_err(|e| format!("statvfs {}: {e}", dir.display()))?;
        let room = fs.f_bavail.saturating_mul(fs.f_frsize);
        if size > room {
            return Err(format!(
                "the store image is {} MiB but the tmpfs at {} has only {} MiB free: give the machine more memory",
                size >> 20,
                dir.display(),
                room >> 20
            ));
        }
        Ok(())
    };
    let opts = http::FetchOptions {
        expected_size_check: Some(&fits),
        hash: expected.is_some(),
        ..http::FetchOptions::default()
    };
    log::info!(target: "phase", "stage-1: fetching {url}");
    let mut file = File::create(to).with_context(|| format!("creating {}", to.display()))?;
    let result = http::fetch(&parsed, &mut file, &opts, &mut |p| {
        log::info!(target: "phase", "stage-1: {url}: {p}");
    })
    .map_err(anyhow::Error::new)
    .and_then(|report| match &expected {
        Some(want) => http::verify(&report, want)
            .map(|()| report)
            .map_err(anyhow::Error::new),
        None => Ok(report),
    })
    .and_then(|report| {
        file.sync_all()
            .with_context(|| format!("writing {}", to.display()))?;
        Ok(report)
    });
    match result {
        Ok(report) => {
            let verified = if expected.is_some() {
                format!(", sha256 {} as given", sha256::hex(&report.sha256))
            } else {
                String::new()
            };
            log::info!(
                "fetched {} bytes in {} s ({} reconnections){verified}",
                report.bytes,
                crate::decimal::Fixed::secs(report.elapsed, 1),
                report.resumes,
            );
            Ok(())
        }
        Err(e) => {
            drop(file);
            if let Err(rm) = std::fs::remove_file(to) {
                log::warn!("removing the failed download {}: {rm}", to.display());
            }
            Err(e)
        }
    }
}
