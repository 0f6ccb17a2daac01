//! Stage-1.
