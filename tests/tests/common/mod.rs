//! Helpers shared by the VM test files (`mod common;` in each).
// Each test file uses its own subset.
#![allow(dead_code)]
pub mod stage1;
pub mod variant;
