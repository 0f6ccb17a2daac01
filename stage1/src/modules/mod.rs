//! Kernel modules: what depmod wrote ([`ModuleIndex`]), what the
//! configuration asks for ([`ModuleConfig`]), the ordered [`ModulePlan`]
//! computed from both, and [`load`]ing it with `finit_module(2)`.
//!
//! Only [`load`] touches the system; everything else reads files or strings
//! and is tested with pasted input and fixture trees.
//!
//! Module names treat `-` and `_` alike, as the kernel does; every name this
//! module hands out is normalized to `_` (`dm-mod.ko` is `dm_mod`).

mod config;
mod decompress;
mod index;
mod load;
mod names;
mod plan;
mod probe;
mod schedule;
mod types;
#[cfg(feature = "xz")]
mod xz;

pub use config::ModuleConfig;
pub use decompress::{decompress, Compression};
pub use index::{ModuleEntry, ModuleIndex, Resolved, SoftDep};
pub use load::{insert, load, load_with, Kernel, LoadOptions, LoadReport, SysKernel};
pub use names::{name_from_path, normalize, NameMap, NameSet};
pub use plan::{plan, resolve};
pub use probe::probe_list;
pub use types::{ModulePlan, ModuleRequest, ModuleStep};
