//! Loading a [`ModulePlan`] into the kernel.
//!
//! A module starts once every step it waits for (`deps` and `after`) has
//! finished; independent modules load on a small pool of threads (the pool
//! is joined before [`load_with`] returns, so no thread outlives it). With
//! `threads == 1` the plan is loaded one module after another, in plan order.
//!
//! Per module: `finit_module(2)` on the file; a compressed file goes to the
//! kernel as is (`MODULE_INIT_COMPRESSED_FILE`) when
//! `/sys/module/compression` names its format, otherwise it is decompressed
//! here and passed to `init_module(2)`. `EEXIST` means already loaded and is
//! success. When a module fails, the steps that depend on it (`deps`) are not
//! tried and fail with a reason naming it; `after` (softdep) edges only order.

use std::ffi::{CStr, CString};
use std::fmt;
use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::kmod::ModuleInitFlags;

use super::decompress::{decompress, Compression};
use super::schedule::{schedule, Outcome};
use super::types::{ModulePlan, ModuleStep};

/// `MODULE_INIT_COMPRESSED_FILE` from `<linux/module.h>` (not in nix).
const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// Where the kernel says which compressed format it can load itself.
pub const SYS_MODULE_COMPRESSION: &str = "/sys/module/compression";

/// The two module-loading system calls, so tests can record them.
pub trait Kernel: Sync {
    /// `finit_module(2)`; `compressed` adds `MODULE_INIT_COMPRESSED_FILE`.
    fn finit_module(&self, file: &File, params: &CStr, compressed: bool) -> nix::Result<()>;
    /// `init_module(2)` with the (decompressed) image in memory.
    fn init_module(&self, image: &[u8], params: &CStr) -> nix::Result<()>;
}

/// The real system calls, through `nix::kmod`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SysKernel;

impl Kernel for SysKernel {
    fn finit_module(&self, file: &File, params: &CStr, compressed: bool) -> nix::Result<()> {
        let flags = if compressed {
            ModuleInitFlags::from_bits_retain(MODULE_INIT_COMPRESSED_FILE)
        } else {
            ModuleInitFlags::empty()
        };
        nix::kmod::finit_module(file, params, flags)
    }

    fn init_module(&self, image: &[u8], params: &CStr) -> nix::Result<()> {
        nix::kmod::init_module(image, params)
    }
}

/// How to load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Worker threads: `1` loads serially in plan order, `0` one per CPU
    /// this process may run on ([`cpus`]).
    pub threads: usize,
    /// The format the kernel decompresses itself, if any.
    pub kernel_decompress: Option<Compression>,
}

/// The CPUs this process may run on (sched_getaffinity(2)), at least 1.
/// What `std::thread::available_parallelism` says for PID 1, which is in
/// the root cgroup and so has no CPU quota, without the latter's cgroup
/// parsing (1.5 KiB of dist/init).
fn cpus() -> usize {
    let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return 1;
    };
    (0..nix::sched::CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .count()
        .max(1)
}

impl LoadOptions {
    /// Defaults, with `kernel_decompress` read from `/sys/module/compression`
    /// (absent: the kernel decompresses nothing).
    pub fn detect() -> Self {
        let kernel_decompress = match std::fs::read_to_string(SYS_MODULE_COMPRESSION) {
            Ok(text) => Compression::from_sysfs(&text),
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!(
                        "reading {SYS_MODULE_COMPRESSION}: {e}; decompressing modules ourselves"
                    );
                }
                None
            }
        };
        Self {
            kernel_decompress,
            ..Self::default()
        }
    }

    fn workers(&self, jobs: usize) -> usize {
        let wanted = match self.threads {
            0 => cpus(),
            n => n,
        };
        wanted.min(jobs).max(1)
    }
}

/// What happened, in plan order within each list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Modules loaded now.
    pub loaded: Vec<String>,
    /// Modules that were loaded before (`EEXIST`).
    pub already: Vec<String>,
    /// Built into the kernel: nothing done.
    pub builtin: Vec<String>,
    /// Modules that failed, or were not tried because a dependency failed:
    /// (name, error).
    pub failed: Vec<(String, String)>,
    /// The names in `failed` whose steps were required.
    pub failed_required: Vec<String>,
    /// Wall time of the whole load.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Whether every module is in the kernel now.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} modules loaded, {} already loaded, {} built in, {} failed in {} ms",
            self.loaded.len(),
            self.already.len(),
            self.builtin.len(),
            self.failed.len(),
            // u64, as stage1::decimal: no u128 printing in the binary.
            self.elapsed.as_millis() as u64
        )?;
        for (name, err) in &self.failed {
            write!(f, "\n  {name}: {err}")?;
        }
        Ok(())
    }
}

/// Loads `plan` from the module directory `moddir` with the real system
/// calls, in parallel, letting the kernel decompress what it can.
pub fn load(moddir: &Path, plan: &ModulePlan) -> LoadReport {
    load_with(moddir, plan, &LoadOptions::detect(), &SysKernel)
}

/// [`load`] with explicit options and system calls.
pub fn load_with(
    moddir: &Path,
    plan: &ModulePlan,
    opts: &LoadOptions,
    kernel: &dyn Kernel,
) -> LoadReport {
    let start = Instant::now();
    let run = |step: &ModuleStep| -> Outcome {
        let Some(rel) = &step.path else {
            return Outcome::Builtin;
        };
        log::info!("Loading kernel module {}...", step.name);
        let began = Instant::now();
        match insert(&moddir.join(rel), &step.params, opts, kernel) {
            Ok(true) => {
                log::debug!(
                    "kernel module {} loaded in {}",
                    step.name,
                    crate::decimal::Seconds(began.elapsed())
                );
                Outcome::Loaded
            }
            Ok(false) => {
                log::debug!("kernel module {} was already loaded", step.name);
                Outcome::Already
            }
            Err(e) => {
                report_failure(step, &e);
                Outcome::Failed(e)
            }
        }
    };
    let outcomes = schedule(
        &plan.steps,
        opts.workers(plan.loadable().count()),
        &run,
        report_failure,
    );
    let mut report = LoadReport::default();
    for (step, outcome) in plan.steps.iter().zip(outcomes) {
        let name = step.name.clone();
        match outcome {
            Outcome::Loaded => report.loaded.push(name),
            Outcome::Already => report.already.push(name),
            Outcome::Builtin => report.builtin.push(name),
            Outcome::Failed(e) => {
                if step.required {
                    report.failed_required.push(name.clone());
                }
                report.failed.push((name, e));
            }
        }
    }
    report.elapsed = start.elapsed();
    report
}

fn report_failure(step: &ModuleStep, err: &str) {
    if step.required {
        log::error!(
            "Loading kernel module {} ({}) failed: {err}",
            step.name,
            step.reason
        );
    } else {
        log::warn!(
            "Loading kernel module {} ({}) failed: {err}; continuing without it",
            step.name,
            step.reason
        );
    }
}

/// Loads one file with `params`: `Ok(true)` loaded, `Ok(false)` already
/// loaded; the error names the call, the file and, when known, the cause.
/// The `modprobe` and `insmod` applets' one module.
pub fn insert(
    path: &Path,
    params: &str,
    opts: &LoadOptions,
    kernel: &dyn Kernel,
) -> Result<bool, String> {
    let params =
        CString::new(params).map_err(|_| format!("parameters {params:?} contain a NUL byte"))?;
    let format = Compression::from_path(path);
    let by_kernel = format.is_some() && format == opts.kernel_decompress;
    if format.is_none() || by_kernel {
        let file = File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        match kernel.finit_module(&file, &params, by_kernel) {
            // No finit_module (old kernel, seccomp), or the kernel cannot
            // decompress after all: read the file ourselves.
            Err(Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            r => return syscall_result("finit_module", path, r),
        }
    }
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let image = match Compression::from_magic(&data).or(format) {
        Some(f) => decompress(f, &data).map_err(|e| format!("{}: {e}", path.display()))?,
        None => data,
    };
    syscall_result("init_module", path, kernel.init_module(&image, &params))
}

fn syscall_result(call: &str, path: &Path, r: nix::Result<()>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST) => Ok(false),
        Err(e) => {
            let hint = match e {
                Errno::ENOEXEC => " (invalid module format: built for another kernel?)",
                Errno::ENOENT => " (unknown symbol or parameter: see dmesg)",
                Errno::EKEYREJECTED => " (module signature rejected)",
                Errno::EPERM => " (needs CAP_SYS_MODULE, or module loading is disabled)",
                _ => "",
            };
            Err(format!(
                "{call}({}): {}{hint}",
                path.display(),
                std::io::Error::from(e)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::decompress::tests::compress_with;
    use std::collections::HashMap;
    use std::io::Read as _;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    #[test]
    fn cpus_counts_the_affinity_mask() {
        // std's answer is the same count, lowered by a cgroup CPU quota.
        let std = std::thread::available_parallelism().map_or(1, usize::from);
        assert!(cpus() >= std, "{} < {std}", cpus());
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
        if !online.is_empty() {
            let last: usize = online
                .trim()
                .rsplit(['-', ','])
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(cpus() <= last + 1, "{} CPUs of {online}", cpus());
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Start(String),
        End(String),
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Call {
        Finit {
            name: String,
            params: String,
            compressed: bool,
        },
        Init {
            name: String,
            params: String,
        },
    }

    /// Records calls; a module's file holds its name (possibly compressed).
    #[derive(Default)]
    struct Fake {
        events: Mutex<Vec<Ev>>,
        calls: Mutex<Vec<Call>>,
        results: HashMap<String, Errno>,
        /// Modules that wait (up to 10 s) until this many are running.
        rendezvous: Option<(Vec<String>, usize)>,
        running: AtomicUsize,
        max_running: AtomicUsize,
        cv: (Mutex<()>, Condvar),
        /// Formats finit_module(compressed) accepts; others get EOPNOTSUPP.
        accepts: Option<Compression>,
    }

    impl Fake {
        fn body(&self, name: &str) -> nix::Result<()> {
            self.events.lock().unwrap().push(Ev::Start(name.to_owned()));
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(now, Ordering::SeqCst);
            if let Some((names, count)) = &self.rendezvous {
                if names.iter().any(|n| n == name) {
                    let (lock, cv) = &self.cv;
                    let guard = lock.lock().unwrap();
                    cv.notify_all();
                    let _unused = cv
                        .wait_timeout_while(guard, Duration::from_secs(10), |()| {
                            self.max_running.load(Ordering::SeqCst) < *count
                        })
                        .unwrap();
                    cv.notify_all();
                }
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.events.lock().unwrap().push(Ev::End(name.to_owned()));
            match self.results.get(name) {
                Some(e) => Err(*e),
                None => Ok(()),
            }
        }
    }

    impl Kernel for Fake {
        fn finit_module(&self, file: &File, params: &CStr, compressed: bool) -> nix::Result<()> {
            let mut data = Vec::new();
            (&mut &*file).read_to_end(&mut data).unwrap();
            if compressed {
                let format = Compression::from_magic(&data).unwrap();
                if Some(format) != self.accepts {
                    return Err(Errno::EOPNOTSUPP);
                }
                data = decompress(format, &data).unwrap();
            }
            let name = String::from_utf8(data).unwrap();
            self.calls.lock().unwrap().push(Call::Finit {
                name: name.clone(),
                params: params.to_str().unwrap().to_owned(),
                compressed,
            });
            self.body(&name)
        }

        fn init_module(&self, image: &[u8], params: &CStr) -> nix::Result<()> {
            let name = String::from_utf8(image.to_vec()).unwrap();
            self.calls.lock().unwrap().push(Call::Init {
                name: name.clone(),
                params: params.to_str().unwrap().to_owned(),
            });
            self.body(&name)
        }
    }

    struct Tree(PathBuf);
    impl Tree {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("stage1-load-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Tree(dir)
        }
        fn module(&self, name: &str, format: Option<Compression>) -> Option<PathBuf> {
            let (ext, data) = match format {
                None => ("ko".to_owned(), name.as_bytes().to_vec()),
                Some(f) => (
                    format!(
                        "ko.{}",
                        if f == Compression::Zstd {
                            "zst"
                        } else if f == Compression::Xz {
                            "xz"
                        } else {
                            "gz"
                        }
                    ),
                    compress_with(f, name.as_bytes())?,
                ),
            };
            let rel = PathBuf::from(format!("kernel/{name}.{ext}"));
            std::fs::create_dir_all(self.0.join("kernel")).unwrap();
            std::fs::write(self.0.join(&rel), data).unwrap();
            Some(rel)
        }
    }
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn step(name: &str, path: Option<PathBuf>, deps: &[usize], after: &[usize]) -> ModuleStep {
        ModuleStep {
            name: name.into(),
            path,
            params: String::new(),
            reason: "test".into(),
            deps: deps.to_vec(),
            after: after.to_vec(),
            required: false,
        }
    }

    fn assert_order(plan: &ModulePlan, events: &[Ev]) {
        let pos = |ev: &Ev| events.iter().position(|e| e == ev);
        for s in plan.loadable() {
            let Some(start) = pos(&Ev::Start(s.name.clone())) else {
                continue;
            };
            for &d in s.deps.iter().chain(&s.after) {
                let dep = &plan.steps[d];
                if dep.is_builtin() {
                    continue;
                }
                let end = pos(&Ev::End(dep.name.clone()));
                assert!(
                    end.is_some_and(|e| e < start),
                    "{} started before {} ended: {events:?}",
                    s.name,
                    dep.name
                );
            }
        }
    }

    /// virtio, virtio_ring <- virtio_net (also failover <- net_failover), a
    /// built-in, independent squashfs/overlay/loop.
    fn sample_plan(t: &Tree) -> ModulePlan {
        let m = |n: &str| t.module(n, None);
        ModulePlan {
            steps: vec![
                step("virtio", m("virtio"), &[], &[]),
                step("virtio_ring", m("virtio_ring"), &[0], &[]),
                step("failover", m("failover"), &[], &[]),
                step("net_failover", m("net_failover"), &[2], &[]),
                step("virtio_pci", None, &[], &[]),
                step("virtio_net", m("virtio_net"), &[0, 1, 2, 3], &[4]),
                step("squashfs", m("squashfs"), &[], &[]),
                step("overlay", m("overlay"), &[], &[]),
                step("loop", m("loop"), &[], &[6]),
            ],
            ..ModulePlan::default()
        }
    }

    #[test]
    fn serial_loads_in_plan_order() {
        let t = Tree::new("serial");
        let plan = sample_plan(&t);
        let fake = Fake::default();
        let opts = LoadOptions {
            threads: 1,
            kernel_decompress: None,
        };
        let report = load_with(&t.0, &plan, &opts, &fake);
        let order: Vec<String> = fake
            .events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Ev::Start(n) => Some(n.clone()),
                Ev::End(_) => None,
            })
            .collect();
        let expected: Vec<String> = plan.loadable().map(|s| s.name.clone()).collect();
        assert_eq!(order, expected);
        assert_eq!(report.loaded, expected);
        assert_eq!(report.builtin, ["virtio_pci"]);
        assert!(report.ok());
        assert_eq!(fake.max_running.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn parallel_respects_dependencies_and_overlaps() {
        let t = Tree::new("parallel");
        let plan = sample_plan(&t);
        // virtio, failover, squashfs and overlay have no deps: all four must
        // be running at once for any of them to finish.
        let fake = Fake {
            rendezvous: Some((
                vec![
                    "virtio".into(),
                    "failover".into(),
                    "squashfs".into(),
                    "overlay".into(),
                ],
                4,
            )),
            ..Fake::default()
        };
        let opts = LoadOptions {
            threads: 4,
            kernel_decompress: None,
        };
        let report = load_with(&t.0, &plan, &opts, &fake);
        assert!(report.ok(), "{report}");
        assert_eq!(report.loaded.len(), 8);
        assert_eq!(fake.max_running.load(Ordering::SeqCst), 4);
        assert_order(&plan, &fake.events.lock().unwrap());
    }

    #[test]
    fn parallel_order_under_many_runs() {
        let t = Tree::new("many");
        let plan = sample_plan(&t);
        for threads in [0, 2, 3, 8] {
            for _ in 0..20 {
                let fake = Fake::default();
                let opts = LoadOptions {
                    threads,
                    kernel_decompress: None,
                };
                let report = load_with(&t.0, &plan, &opts, &fake);
                assert!(report.ok());
                assert_order(&plan, &fake.events.lock().unwrap());
            }
        }
    }

    #[test]
    fn failures_skip_dependents_not_softdep_followers() {
        let t = Tree::new("fail");
        let mut plan = sample_plan(&t);
        plan.steps[5].required = true;
        let fake = Fake {
            results: HashMap::from([
                ("failover".to_owned(), Errno::ENOEXEC),
                ("squashfs".to_owned(), Errno::EEXIST),
            ]),
            ..Fake::default()
        };
        for threads in [1, 4] {
            let fake = Fake {
                results: fake.results.clone(),
                ..Fake::default()
            };
            let opts = LoadOptions {
                threads,
                kernel_decompress: None,
            };
            let r = load_with(&t.0, &plan, &opts, &fake);
            assert_eq!(r.already, ["squashfs"]);
            assert_eq!(r.loaded, ["virtio", "virtio_ring", "overlay", "loop"]);
            let failed: Vec<&str> = r.failed.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(failed, ["failover", "net_failover", "virtio_net"]);
            assert!(
                r.failed[0].1.contains("Exec format error")
                    && r.failed[0].1.contains("another kernel"),
                "{}",
                r.failed[0].1
            );
            assert!(
                r.failed[0].1.contains("kernel/failover.ko"),
                "{}",
                r.failed[0].1
            );
            assert_eq!(r.failed[1].1, "not loaded: dependency failover failed");
            assert_eq!(r.failed[2].1, "not loaded: dependency failover failed");
            assert_eq!(r.failed_required, ["virtio_net"]);
            assert!(!r.ok());
            let calls = fake.calls.lock().unwrap();
            assert!(!calls
                .iter()
                .any(|c| matches!(c, Call::Finit { name, .. } if name == "virtio_net")));
        }
    }

    #[test]
    fn missing_file_and_params() {
        let t = Tree::new("params");
        let mut s = step("virtio_net", t.module("virtio_net", None), &[], &[]);
        s.params = "napi_tx=1 csum=0".into();
        let plan = ModulePlan {
            steps: vec![s, step("gone", Some("kernel/gone.ko".into()), &[], &[])],
            ..ModulePlan::default()
        };
        let fake = Fake::default();
        let r = load_with(
            &t.0,
            &plan,
            &LoadOptions {
                threads: 1,
                kernel_decompress: None,
            },
            &fake,
        );
        assert_eq!(
            fake.calls.lock().unwrap()[0],
            Call::Finit {
                name: "virtio_net".into(),
                params: "napi_tx=1 csum=0".into(),
                compressed: false
            }
        );
        assert_eq!(r.failed.len(), 1);
        assert!(
            r.failed[0].1.starts_with("opening ") && r.failed[0].1.contains("gone.ko"),
            "{}",
            r.failed[0].1
        );
    }

    #[test]
    fn compressed_modules() {
        let t = Tree::new("compressed");
        let mut steps = Vec::new();
        for (name, f) in [
            ("g", Compression::Gzip),
            ("x", Compression::Xz),
            ("z", Compression::Zstd),
        ] {
            match t.module(name, Some(f)) {
                Some(p) => steps.push(step(name, Some(p), &[], &[])),
                None => eprintln!("SKIPPED: {f} module test"),
            }
        }
        let plan = ModulePlan {
            steps,
            ..ModulePlan::default()
        };
        // The kernel decompresses nothing: we decompress and init_module.
        let fake = Fake::default();
        let r = load_with(
            &t.0,
            &plan,
            &LoadOptions {
                threads: 1,
                kernel_decompress: None,
            },
            &fake,
        );
        assert!(r.ok(), "{r}");
        for (c, s) in fake.calls.lock().unwrap().iter().zip(&plan.steps) {
            assert_eq!(
                c,
                &Call::Init {
                    name: s.name.clone(),
                    params: String::new()
                }
            );
        }
        // The kernel does xz: xz goes through finit_module(COMPRESSED_FILE).
        let fake = Fake {
            accepts: Some(Compression::Xz),
            ..Fake::default()
        };
        let opts = LoadOptions {
            threads: 1,
            kernel_decompress: Some(Compression::Xz),
        };
        let r = load_with(&t.0, &plan, &opts, &fake);
        assert!(r.ok(), "{r}");
        for (c, s) in fake.calls.lock().unwrap().iter().zip(&plan.steps) {
            if s.name == "x" {
                assert_eq!(
                    c,
                    &Call::Finit {
                        name: "x".into(),
                        params: String::new(),
                        compressed: true
                    }
                );
            } else {
                assert!(matches!(c, Call::Init { .. }), "{c:?}");
            }
        }
        // The kernel claims xz but refuses: fall back to decompressing here.
        let fake = Fake::default();
        let r = load_with(&t.0, &plan, &opts, &fake);
        assert!(r.ok(), "{r}");
        assert!(fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .all(|c| matches!(c, Call::Init { .. })));
    }

    #[test]
    fn report_display() {
        let r = LoadReport {
            loaded: vec!["a".into()],
            failed: vec![("b".into(), "boom".into())],
            elapsed: Duration::from_millis(12),
            ..LoadReport::default()
        };
        assert_eq!(
            r.to_string(),
            "1 modules loaded, 0 already loaded, 0 built in, 1 failed in 12 ms\n  b: boom"
        );
    }
}
