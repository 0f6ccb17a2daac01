//! Helpers shared by the VM test files (`mod common;` in each).
// Each test file uses its own subset.
#![allow(dead_code)]
pub mod demo;
pub mod stage1;
pub mod variant;

/// The seconds of the `name` mark in the text of `/run/init/boot-times`
/// (`name seconds` lines, CLOCK_BOOTTIME), as the VM tests and benches
/// read it from the guest.
pub fn boot_mark(times: &str, name: &str) -> anyhow::Result<f64> {
    use anyhow::Context as _;
    times
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .with_context(|| format!("no {name} mark in /run/init/boot-times:\n{times}"))?
        .trim()
        .parse()
        .with_context(|| format!("a bad {name} mark in /run/init/boot-times:\n{times}"))
}

/// A fresh ext4 image of `bytes` at `img` (replacing one left there),
/// labelled `label`: a `realroot=` disk for a VM test.
pub fn make_ext4(img: &std::path::Path, bytes: u64, label: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let _ = std::fs::remove_file(img);
    std::fs::File::create(img)?.set_len(bytes)?;
    let mkfs = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", label])
        .arg(img)
        .output()
        .context("running mkfs.ext4 (e2fsprogs)")?;
    anyhow::ensure!(
        mkfs.status.success(),
        "mkfs.ext4: {}",
        String::from_utf8_lossy(&mkfs.stderr)
    );
    Ok(())
}
