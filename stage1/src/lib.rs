//! Stage-1: from the kernel command line and the initramfs contents to a
//! mounted new root, as a plan (plain data, printable, testable without
//! root) and the code that applies it with syscalls.
//!
//! * `cmdline` — `/proc/cmdline` into [`cmdline::BootParams`].
//! * `modules` — modules.dep & co, the module plan and loading.
//! * `plan` — the mount plan: what stage-1 will mount, where, and why.
//! * `devices` — the device side: drivers for the devices in sysfs
//!   (coldplug) and for those that appear later (uevents, hotplug), the
//!   event-driven wait for the root device, `LABEL=`/`UUID=` and GPT/MBR
//!   `PARTUUID=`/`PARTLABEL=` lookup.
//! * `apply` — carrying out the mount plan; `fetch` — its download step,
//!   through the `net` crate (the cargo feature `net`).
//! * `switch_root` — moving the API filesystems and handing over `/`.
//! * `toplevel` — finding the system in the store when no `toplevel=` names it.
pub mod apply;
pub mod cmdline;
pub mod decimal;
pub mod devices;
pub mod fetch;
pub mod handover;
pub mod modules;
pub mod plan;
pub mod switch_root;
pub mod toplevel;
mod wait;

/// What a build without the cargo feature `net` says when it is asked for
/// the network (`ip=`, `root=http://…`, the rescue prompt's `ip`/`fetch`).
#[cfg(not(feature = "net"))]
pub const NO_NETWORK: &str = "this init was built without network support (cargo feature net off)";

/// `std::fs::copy` without its own machinery (about 1.7 KiB of the static
/// binary): the bytes through `io::copy` (copy_file_range(2)), then the
/// source's permission bits, as `fs::copy` gives them.
pub fn copy_file(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<u64> {
    let mut src = std::fs::File::open(from)?;
    let perm = src.metadata()?.permissions();
    let mut dst = std::fs::File::create(to)?;
    let n = std::io::copy(&mut src, &mut dst)?;
    dst.set_permissions(perm)?;
    Ok(n)
}

/// For a unit test that needs a host tool or setup: prints `SKIPPING
/// <test>: <why>` and returns `false` when `ok` is not, or panics with that
/// reason under `CI=true` / `VM_TESTS_REQUIRED=1` (as `tests::require`, which
/// this crate cannot depend on).
#[cfg(test)]
pub(crate) fn require(test: &str, why: &str, ok: bool) -> bool {
    let ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
        || matches!(std::env::var("VM_TESTS_REQUIRED").as_deref(), Ok("1"));
    assert!(
        ok || !ci,
        "{test} cannot run: {why} (CI=true or VM_TESTS_REQUIRED=1: not skipped)"
    );
    if !ok {
        eprintln!("SKIPPING {test}: {why}");
    }
    ok
}
