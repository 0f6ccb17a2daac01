//! Helpers for the runit differential tests.
