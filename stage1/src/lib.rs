//! Stage-1: from the kernel command line and the initramfs contents to a
//! mounted new root, as a plan (plain data, printable, testable without
//! root) and the code that applies it with syscalls.
//!
//! * `cmdline` — `/proc/cmdline` into [`cmdline::BootParams`].
//! * `modules` — modules.dep & co, the module plan and loading.
//! * `plan` — the mount plan: what stage-1 will mount, where, and why.
//! * `device` — waiting for block devices, `LABEL=`/`UUID=` lookup.
//! * `apply` — carrying out the mount plan.
//! * `switch_root` — moving the API filesystems and handing over `/`.
pub mod apply;
pub mod cmdline;
pub mod device;
pub mod modules;
pub mod net;
pub mod partition;
pub mod plan;
pub mod switch_root;
