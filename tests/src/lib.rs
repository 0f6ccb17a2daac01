//! Shared helpers for the integration tests: locating the built binary,
//! driving QEMU (`vm`) and the runit differential harness (`runit`).
pub mod bin;
