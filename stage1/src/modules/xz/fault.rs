//! What went wrong in a stream; `decode` (mod.rs) words it. A leaf of its
//! own, so the parts that report faults do not import the container.

#[derive(Clone, Copy)]
pub(super) enum Fault {
    Bad(&'static str),
    TooBig,
    Filter(u64),
    Check(u8),
}
