//! Shared helpers for the integration tests: locating the built binary
//! (`bin`), driving QEMU (`vm`) and the runit differential harness (`runit`).
pub mod bin;
pub mod runit;
pub mod vm;
