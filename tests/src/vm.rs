//! The QEMU harness for VM tests.
