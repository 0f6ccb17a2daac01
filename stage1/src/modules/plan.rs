//! From requests to an ordered [`ModulePlan`].
//!
//! * Names resolve like modprobe: modprobe.d `alias`, a module file
//!   (modules.dep), a built-in module, then modules.alias globs (every
//!   matching module is loaded). `-` and `_` are the same.
//! * Dependencies come first (modules.dep lists the whole closure; the last
//!   one is loaded first), each module appears once.
//! * Softdeps (modprobe.d `softdep` replaces modules.softdep for a module):
//!   `pre:` modules come before, `post:` after; they are ordering only, a
//!   missing or failing softdep does not stop the module.
//! * Built-in modules get a step with no file (shown in the plan, nothing to
//!   load).
//! * Blacklisted modules (modprobe.d `blacklist`, `rd.driver.blacklist=`,
//!   `modprobe.blacklist=` and `module_blacklist=` on the command line) are skipped with a warning,
//!   unless required; dependencies of a module are never blacklisted (as with
//!   modprobe).
//! * Parameters: modprobe.d `options`, then the command line's
//!   `module.param=value`.

use std::path::PathBuf;

use super::config::ModuleConfig;
use super::index::{ModuleEntry, ModuleIndex, Resolved, SoftDep};
use super::names::{normalize, NameSet};
use super::types::{ModulePlan, ModuleRequest, ModuleStep};
use crate::cmdline::BootParams;

/// Computes the load plan for `requests`. Never fails: anything that cannot
/// be found or is skipped becomes a warning, and required requests that
/// resolve to nothing are listed in [`ModulePlan::missing_required`].
pub fn plan(
    index: &ModuleIndex,
    config: &ModuleConfig,
    params: &BootParams,
    requests: &[ModuleRequest],
) -> ModulePlan {
    let mut planner = Planner {
        index,
        config,
        params,
        plan: ModulePlan::default(),
        in_progress: Vec::new(),
        blacklist: params.module_blacklist.iter().cloned().collect(),
        dep_paths: Vec::new(),
        resolved: Vec::new(),
    };
    for req in requests {
        planner.request(req);
    }
    planner.plan
}

/// How a step joins the plan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// Asked for directly.
    Request,
    /// Needed by a module (modules.dep).
    Hard,
    /// Softdep: ordering only.
    Soft,
}

struct Planner<'a> {
    index: &'a ModuleIndex,
    config: &'a ModuleConfig,
    params: &'a BootParams,
    plan: ModulePlan,
    // A plan has tens of modules, a few hundred on a big machine: the
    // steps, the names being added and the memos below are searched, not
    // hashed; a map type of their own each cost dist/init more.
    /// The modules being added (their dependencies are being added).
    in_progress: Vec<String>,
    blacklist: NameSet,
    /// Files of dependencies seen in modules.dep lines, by module name.
    dep_paths: Vec<(String, PathBuf)>,
    /// What each requested name resolved to.
    resolved: Vec<(String, Vec<Resolved>)>,
}

impl Planner<'_> {
    fn warn(&mut self, msg: String) {
        self.plan.warnings.push(msg);
    }

    /// modprobe.d aliases first, then the index; memoized, as alias lookups
    /// scan modules.alias.
    fn resolve(&mut self, name: &str) -> Vec<Resolved> {
        if let Some((_, r)) = self.resolved.iter().find(|(n, _)| n == name) {
            return r.clone();
        }
        let out = resolve(self.index, self.config, name);
        self.resolved.push((name.to_owned(), out.clone()));
        out
    }

    fn is_blacklisted(&self, name: &str) -> bool {
        self.config.is_blacklisted(name) || self.blacklist.contains(name)
    }

    fn request(&mut self, req: &ModuleRequest) {
        let resolved = self.resolve(&req.name);
        if resolved.is_empty() {
            if req.required {
                self.plan.missing_required.push(req.name.clone());
            }
            self.warn(format!(
                "module {} not found in modules.dep, modules.builtin or modules.alias{} ({})",
                req.name,
                if req.required { "" } else { ", skipped" },
                req.reason
            ));
            return;
        }
        let alias_note = |m: &str| {
            if normalize(&req.name) == m {
                req.reason.clone()
            } else {
                format!("{}, as {}", req.reason, req.name)
            }
        };
        let mut found = false;
        for r in resolved {
            let name = match &r {
                Resolved::Module(m) | Resolved::Builtin(m) => m.clone(),
            };
            let reason = alias_note(&name);
            found |= self.add(&r, &reason, req.required, Edge::Request).is_some();
        }
        if req.required && !found {
            self.plan.missing_required.push(req.name.clone());
        }
    }

    /// Adds `module` (and what it needs) unless already there; returns its
    /// step index.
    fn add(
        &mut self,
        module: &Resolved,
        reason: &str,
        required: bool,
        edge: Edge,
    ) -> Option<usize> {
        let (name, builtin) = match module {
            Resolved::Module(m) => (m.as_str(), false),
            Resolved::Builtin(m) => (m.as_str(), true),
        };
        if let Some(idx) = self.plan.steps.iter().position(|s| s.name == name) {
            if required {
                self.mark_required(idx);
            }
            return Some(idx);
        }
        if edge != Edge::Hard && !required && self.is_blacklisted(name) {
            self.warn(format!("module {name} is blacklisted, skipped ({reason})"));
            return None;
        }
        if self.in_progress.iter().any(|n| n == name) {
            self.warn(format!(
                "module {name}: dependency cycle ({reason}), ordering edge ignored"
            ));
            return None;
        }
        if builtin {
            return Some(self.push(name, None, reason, required, Vec::new(), Vec::new()));
        }
        let entry = if let Some(e) = self.index.module(name) {
            e
        } else if let Some((_, path)) = self.dep_paths.iter().find(|(n, _)| n == name) {
            // A dependency without a line of its own: its file is known from
            // the line that names it.
            ModuleEntry {
                name: name.to_owned(),
                path: path.clone(),
                deps: Vec::new(),
                dep_paths: Vec::new(),
            }
        } else {
            // A softdep or alias naming a module the index lacks.
            self.warn(format!("module {name} not found in modules.dep ({reason})"));
            return None;
        };
        for (dep, path) in entry.deps.iter().zip(&entry.dep_paths) {
            if !self.dep_paths.iter().any(|(n, _)| n == dep) {
                self.dep_paths.push((dep.clone(), path.clone()));
            }
        }
        self.in_progress.push(name.to_owned());
        let softdep = softdep(self.index, self.config, name);

        let mut after = Vec::new();
        let pre_reason = format!("softdep pre of {name}");
        for pre in &softdep.pre {
            after.extend(self.add_soft(pre, &pre_reason));
        }
        let dep_reason = format!("dependency of {name}");
        let mut deps = Vec::new();
        for dep in entry.deps.iter().rev() {
            if let Some(i) = self.add(
                &Resolved::Module(dep.clone()),
                &dep_reason,
                required,
                Edge::Hard,
            ) {
                if !deps.contains(&i) {
                    deps.push(i);
                }
            }
        }
        deps.sort_unstable();
        after.retain(|i| !deps.contains(i));
        after.sort_unstable();
        after.dedup();
        let idx = self.push(name, Some(entry.path), reason, required, deps, after);

        let post_reason = format!("softdep post of {name}");
        for post in &softdep.post {
            for i in self.add_soft(post, &post_reason) {
                let step = &mut self.plan.steps[i];
                if i > idx && !step.deps.contains(&idx) && !step.after.contains(&idx) {
                    step.after.push(idx);
                }
            }
        }
        self.in_progress.retain(|n| n != name);
        Some(idx)
    }

    /// A softdep target (a name or an alias): every module it resolves to.
    fn add_soft(&mut self, target: &str, reason: &str) -> Vec<usize> {
        let resolved = self.resolve(target);
        if resolved.is_empty() {
            self.warn(format!("module {target} not found ({reason}), skipped"));
        }
        resolved
            .iter()
            .filter_map(|r| self.add(r, reason, false, Edge::Soft))
            .collect()
    }

    fn push(
        &mut self,
        name: &str,
        path: Option<PathBuf>,
        reason: &str,
        required: bool,
        deps: Vec<usize>,
        after: Vec<usize>,
    ) -> usize {
        let mut params: Vec<String> = Vec::new();
        if path.is_some() {
            params.extend(self.config.options(name));
            params.extend(self.params.module_params_for(name));
        }
        let idx = self.plan.steps.len();
        self.plan.steps.push(ModuleStep {
            name: name.to_owned(),
            path,
            params: params.join(" "),
            reason: reason.to_owned(),
            deps,
            after,
            required,
        });
        idx
    }

    /// A module became required: so do its hard dependencies.
    fn mark_required(&mut self, idx: usize) {
        let mut todo = vec![idx];
        while let Some(i) = todo.pop() {
            let step = &mut self.plan.steps[i];
            if !step.required {
                step.required = true;
                todo.extend(step.deps.iter().copied());
            }
        }
    }
}

/// The softdeps of a module: modprobe.d's line, which replaces
/// modules.softdep's, else modules.softdep's.
pub(crate) fn softdep(index: &ModuleIndex, config: &ModuleConfig, name: &str) -> SoftDep {
    config
        .softdep(name)
        .or_else(|| index.softdep(name))
        .cloned()
        .unwrap_or_default()
}

/// What `name` (a module, an alias, a device's modalias) stands for, as
/// modprobe resolves it: modprobe.d `alias` lines first (only they, when
/// one matches), then the index (a module file, a built-in module, then
/// modules.alias); each result once.
pub fn resolve(index: &ModuleIndex, config: &ModuleConfig, name: &str) -> Vec<Resolved> {
    let configured = config.aliases(name);
    if configured.is_empty() {
        return index.resolve(name);
    }
    let mut out = Vec::new();
    for m in configured {
        for r in index.resolve(&m) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const DEP: &str = "\
kernel/fs/squashfs/squashfs.ko:
kernel/fs/overlayfs/overlay.ko:
kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko
kernel/crypto/crc32c_generic.ko:
kernel/lib/libcrc32c.ko:
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/loop.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/md/dm-mod.ko.xz:
kernel/drivers/char/pcspkr.ko:
";
    const ALIAS: &str = "\
alias fs-squashfs squashfs
alias crypto-crc32c crc32c_generic
alias virtio:d00000004v* virtio_rng
";
    const SOFTDEP: &str = "softdep xfs pre: crypto-crc32c post: loop\n";
    const BUILTIN: &str = "kernel/drivers/virtio/virtio_pci.ko\n";

    fn req(name: &str, required: bool) -> ModuleRequest {
        ModuleRequest {
            name: name.into(),
            required,
            reason: format!("test {name}"),
        }
    }

    fn names(p: &ModulePlan) -> Vec<&str> {
        p.steps.iter().map(|s| s.name.as_str()).collect()
    }

    fn check_order(p: &ModulePlan) {
        for (i, s) in p.steps.iter().enumerate() {
            for d in s.deps.iter().chain(&s.after) {
                assert!(*d < i, "{} waits for later step {d}", s.name);
            }
        }
    }

    fn run(requests: &[ModuleRequest], conf: &str, cmdline: &str) -> ModulePlan {
        let index = ModuleIndex::parse(DEP, ALIAS, SOFTDEP, BUILTIN);
        let mut config = ModuleConfig::default();
        config.parse_modprobe_conf(conf, Path::new("/etc/modprobe.d/t.conf"));
        let p = plan(&index, &config, &BootParams::parse(cmdline), requests);
        check_order(&p);
        p
    }

    #[test]
    fn dependencies_first_each_once() {
        let p = run(&[req("virtio_net", true), req("virtio-rng", false)], "", "");
        assert_eq!(
            names(&p),
            [
                "virtio",
                "virtio_ring",
                "failover",
                "net_failover",
                "virtio_net",
                "virtio_rng"
            ]
        );
        let vn = p.step("virtio_net").unwrap();
        assert_eq!(vn.deps, [0, 1, 2, 3]);
        assert!(vn.required);
        assert_eq!(p.steps[1].deps, [0]);
        assert_eq!(p.steps[2].reason, "dependency of virtio_net");
        assert!(p.steps[2].required);
        assert_eq!(p.steps[5].deps, [0, 1]);
        assert!(!p.steps[5].required);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert!(p.missing_required.is_empty());
    }

    #[test]
    fn aliases_builtins_and_missing() {
        let p = run(
            &[
                req("fs-squashfs", true),
                req("virtio_pci", true),
                req("virtio:d00000004v00001AF4", false),
                req("nope", false),
                req("needed", true),
            ],
            "",
            "",
        );
        assert_eq!(
            names(&p),
            [
                "squashfs",
                "virtio_pci",
                "virtio",
                "virtio_ring",
                "virtio_rng"
            ]
        );
        assert_eq!(p.steps[0].reason, "test fs-squashfs, as fs-squashfs");
        assert!(p.steps[1].is_builtin());
        assert_eq!(p.missing_required, ["needed"]);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("nope") && p.warnings[0].contains("skipped"));
    }

    #[test]
    fn softdeps_pre_and_post() {
        let p = run(&[req("xfs", true)], "", "");
        assert_eq!(names(&p), ["crc32c_generic", "libcrc32c", "xfs", "loop"]);
        let xfs = &p.steps[2];
        assert_eq!(xfs.deps, [1]);
        assert_eq!(xfs.after, [0]);
        assert_eq!(p.steps[0].reason, "softdep pre of xfs");
        assert!(!p.steps[0].required);
        assert_eq!(p.steps[3].after, [2]);
        assert_eq!(p.steps[3].reason, "softdep post of xfs");
        // a configured softdep replaces depmod's
        let p = run(&[req("xfs", true)], "softdep xfs pre: dm-mod\n", "");
        assert_eq!(names(&p), ["dm_mod", "libcrc32c", "xfs"]);
    }

    #[test]
    fn blacklist() {
        let conf = "blacklist pcspkr\nblacklist libcrc32c\n";
        let p = run(&[req("pcspkr", false), req("xfs", false)], conf, "");
        assert_eq!(names(&p), ["crc32c_generic", "libcrc32c", "xfs", "loop"]);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("pcspkr is blacklisted"));
        let p = run(&[req("pcspkr", true)], conf, "");
        assert_eq!(names(&p), ["pcspkr"]);
        let p = run(
            &[
                req("loop", false),
                req("dm_mod", false),
                req("squashfs", false),
            ],
            "",
            "modprobe.blacklist=loop,x module_blacklist=dm-mod",
        );
        assert_eq!(names(&p), ["squashfs"]);
    }

    #[test]
    fn params_from_config_and_cmdline() {
        let p = run(
            &[req("virtio_net", false), req("virtio_pci", false)],
            "options virtio_net napi_tx=0 csum=1\n",
            "virtio-net.napi_tx=1 virtio_pci.force_legacy=1",
        );
        assert_eq!(
            p.step("virtio_net").unwrap().params,
            "napi_tx=0 csum=1 napi_tx=1"
        );
        // the kernel applies built-in module parameters itself
        assert_eq!(p.step("virtio_pci").unwrap().params, "");
    }

    #[test]
    fn required_propagates_to_dependencies() {
        let p = run(&[req("virtio_rng", false), req("virtio_net", true)], "", "");
        assert!(p
            .steps
            .iter()
            .filter(|s| s.name != "virtio_rng")
            .all(|s| s.required));
        assert!(!p.step("virtio_rng").unwrap().required);
    }

    #[test]
    fn configured_alias_and_cycles() {
        let index = ModuleIndex::parse(
            "a.ko:\nb.ko:\n",
            "",
            "softdep a pre: b\nsoftdep b pre: a\n",
            "",
        );
        let mut config = ModuleConfig::default();
        config.parse_modprobe_conf("alias disk a\n", Path::new("c"));
        let p = plan(
            &index,
            &config,
            &BootParams::default(),
            &[req("disk", true)],
        );
        assert_eq!(names(&p), ["b", "a"]);
        check_order(&p);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("cycle"));
    }

    #[test]
    fn dependency_without_its_own_line() {
        let index = ModuleIndex::parse("kernel/a.ko: kernel/sub/b-x.ko.xz\n", "", "", "");
        let p = plan(
            &index,
            &ModuleConfig::default(),
            &BootParams::default(),
            &[req("a", true)],
        );
        assert_eq!(names(&p), ["b_x", "a"]);
        assert_eq!(
            p.steps[0].path.as_deref(),
            Some(Path::new("kernel/sub/b-x.ko.xz"))
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn empty_index() {
        let index = ModuleIndex::parse("", "", "", "");
        let p = plan(
            &index,
            &ModuleConfig::default(),
            &BootParams::default(),
            &[req("squashfs", true)],
        );
        assert!(p.steps.is_empty());
        assert_eq!(p.missing_required, ["squashfs"]);
    }
}
