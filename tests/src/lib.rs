//! Shared helpers for the integration tests: locating the built binary
//! (`bin`), driving QEMU (`vm`), the runit differential harness (`runit`)
//! and a loopback HTTP server for netboot tests (`http`).
pub mod bin;
pub mod http;
pub mod runit;
pub mod vm;
