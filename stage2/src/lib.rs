//! Stage-2: base mounts, /etc from the toplevel, system state, runit stage scripts.
