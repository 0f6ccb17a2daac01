//! runit-compatible supervision.
