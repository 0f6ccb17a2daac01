//! The data stage-1's module code passes around: what is asked for
//! ([`ModuleRequest`]) and the ordered [`ModulePlan`] of [`ModuleStep`]s.
//! A leaf, so the planner and the loader share it without a ring through
//! `mod.rs`.
use std::fmt;
use std::path::PathBuf;

use super::names::normalize;

/// Something stage-1 wants loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRequest {
    /// A module name or an alias (`squashfs`, `fs-overlay`, `virtio-blk`).
    pub name: String,
    /// Whether the boot cannot go on without it (it then lands in
    /// [`ModulePlan::missing_required`] when it cannot be found, and is
    /// loaded even when blacklisted).
    pub required: bool,
    /// Shown in the plan: `needed to mount the store image`,
    /// `/etc/modules-load.d/initrd.conf`.
    pub reason: String,
}

/// The modules to load, in an order where every step comes after the steps
/// it waits for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModulePlan {
    pub steps: Vec<ModuleStep>,
    /// Modules that were asked for but cannot be found, blacklisted modules
    /// skipped, configuration lines ignored, …
    pub warnings: Vec<String>,
    /// Names of required requests that resolve to no module at all.
    pub missing_required: Vec<String>,
}

/// One module of a [`ModulePlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleStep {
    /// The module's name, normalized (`dm_mod`).
    pub name: String,
    /// The file to load, relative to the module directory as modules.dep
    /// writes it (`kernel/drivers/md/dm-mod.ko.xz`); `None` for a module
    /// built into the kernel: nothing to load.
    pub path: Option<PathBuf>,
    /// Parameters for `finit_module`: modprobe.d `options`, then the command
    /// line's `module.param=value` (the kernel takes the last of a repeat).
    pub params: String,
    /// Why it is in the plan: the request's reason, `dependency of Y`,
    /// `softdep pre of Z`, `softdep post of Z`.
    pub reason: String,
    /// Indices of earlier steps that must be loaded first; if one of them
    /// fails, this one is not tried.
    pub deps: Vec<usize>,
    /// Indices of earlier steps to wait for without depending on their
    /// success (softdeps): loaded first when possible, a failure there does
    /// not stop this one.
    pub after: Vec<usize>,
    /// Whether a required request (directly or through dependencies) needs
    /// this module.
    pub required: bool,
}

impl ModuleStep {
    /// Whether there is nothing to load (built into the kernel).
    pub fn is_builtin(&self) -> bool {
        self.path.is_none()
    }
}

impl ModulePlan {
    /// The steps that have a file to load.
    pub fn loadable(&self) -> impl Iterator<Item = &ModuleStep> {
        self.steps.iter().filter(|s| !s.is_builtin())
    }

    /// The step for a module name (normalized first).
    pub fn step(&self, name: &str) -> Option<&ModuleStep> {
        let name = normalize(name);
        self.steps.iter().find(|s| s.name == name)
    }

    /// The plan without the modules in `done` (loaded, or tried, in an
    /// earlier round): their edges are dropped, since what they ordered has
    /// happened.
    #[must_use]
    pub fn without(&self, done: &super::NameSet) -> ModulePlan {
        let mut new_index = vec![None; self.steps.len()];
        let mut steps = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            if done.contains(&step.name) {
                continue;
            }
            let remap = |edges: &[usize]| -> Vec<usize> {
                edges.iter().filter_map(|&e| new_index[e]).collect()
            };
            let mut kept = step.clone();
            kept.deps = remap(&step.deps);
            kept.after = remap(&step.after);
            new_index[i] = Some(steps.len());
            steps.push(kept);
        }
        ModulePlan {
            steps,
            warnings: self.warnings.clone(),
            missing_required: self.missing_required.clone(),
        }
    }
}

impl fmt::Display for ModulePlan {
    /// One line per module, in load order, with its reason; then warnings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            write!(f, "{}: ", step.name)?;
            match &step.path {
                Some(p) => write!(f, "{}", p.display())?,
                None => f.write_str("built in")?,
            }
            if !step.params.is_empty() {
                write!(f, " {}", step.params)?;
            }
            write!(f, " ({}", step.reason)?;
            if step.required {
                f.write_str(", required")?;
            }
            f.write_str(")\n")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for m in &self.missing_required {
            writeln!(f, "missing required module: {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let plan = ModulePlan {
            steps: vec![
                ModuleStep {
                    name: "failover".into(),
                    path: Some("kernel/net/core/failover.ko".into()),
                    params: String::new(),
                    reason: "dependency of virtio_net".into(),
                    deps: vec![],
                    after: vec![],
                    required: false,
                },
                ModuleStep {
                    name: "virtio_pci".into(),
                    path: None,
                    params: String::new(),
                    reason: "virtio devices".into(),
                    deps: vec![],
                    after: vec![],
                    required: true,
                },
                ModuleStep {
                    name: "virtio_net".into(),
                    path: Some("kernel/drivers/net/virtio_net.ko".into()),
                    params: "napi_tx=1".into(),
                    reason: "/etc/modules-load.d/initrd.conf".into(),
                    deps: vec![0],
                    after: vec![],
                    required: false,
                },
            ],
            warnings: vec!["module foo not found".into()],
            missing_required: vec!["bar".into()],
        };
        assert_eq!(
            plan.to_string(),
            "failover: kernel/net/core/failover.ko (dependency of virtio_net)\n\
             virtio_pci: built in (virtio devices, required)\n\
             virtio_net: kernel/drivers/net/virtio_net.ko napi_tx=1 (/etc/modules-load.d/initrd.conf)\n\
             warning: module foo not found\n\
             missing required module: bar\n"
        );
        assert_eq!(plan.loadable().count(), 2);
        assert!(plan.step("virtio-net").is_some());
        let done: crate::modules::NameSet = ["failover".to_owned()].into_iter().collect();
        let rest = plan.without(&done);
        assert_eq!(rest.steps.len(), 2);
        assert_eq!(rest.steps[0].name, "virtio_pci");
        assert!(
            rest.steps[1].deps.is_empty(),
            "the edge to failover is gone"
        );
        let done: crate::modules::NameSet = ["virtio_pci".to_owned()].into_iter().collect();
        assert_eq!(plan.without(&done).steps[1].deps, [0]);
    }
}
