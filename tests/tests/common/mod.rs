//! Helpers shared by the VM test files (`mod common;` in each).
// Each test file uses its own subset.
#![allow(dead_code)]
pub mod demo;
pub mod stage1;
pub mod variant;

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
