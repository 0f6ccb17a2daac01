//! kmod's probe list: what `modprobe NAME` inserts for one module, in
//! order, as libkmod's `kmod_module_get_probe_list` builds it. The
//! `modprobe` applet prints it (`--show-depends`) and loads it; stage-1
//! and `init coldplug` use the scheduled [`super::plan`] instead, from the
//! same resolution ([`super::resolve`]), index and configuration.
//!
//! For a module: each dependency in load order (modules.dep's list from
//! its end) with that dependency's softdeps around it, then the module
//! with its own: softdep `pre:` targets (each with its whole probe list),
//! the module, `post:` targets. A module is expanded once (kmod's
//! `visited`), but a dependency is listed again when a softdep's list had
//! it already — kmod does the same, and inserting it twice is harmless.

use super::config::ModuleConfig;
use super::index::{ModuleIndex, Resolved};
use super::plan::{resolve, softdep};

/// The modules to insert for `module`, in kmod's order (see the module
/// docs). Built-in modules are in the list too, with nothing to load.
pub fn probe_list(index: &ModuleIndex, config: &ModuleConfig, module: &Resolved) -> Vec<Resolved> {
    let mut probe = Probe {
        index,
        config,
        visited: Vec::new(),
        list: Vec::new(),
    };
    probe.visit(module);
    probe.list
}

struct Probe<'a> {
    index: &'a ModuleIndex,
    config: &'a ModuleConfig,
    visited: Vec<String>,
    list: Vec<Resolved>,
}

impl Probe<'_> {
    fn visit(&mut self, module: &Resolved) {
        let name = module.name();
        if self.visited.iter().any(|v| v == name) {
            return;
        }
        self.visited.push(name.to_owned());
        if let Some(entry) = self.index.module(name) {
            for dep in entry.deps.into_iter().rev() {
                self.with_softdeps(&Resolved::Module(dep));
            }
        }
        self.with_softdeps(module);
    }

    fn with_softdeps(&mut self, module: &Resolved) {
        let softdep = softdep(self.index, self.config, module.name());
        for pre in &softdep.pre {
            for r in resolve(self.index, self.config, pre) {
                self.visit(&r);
            }
        }
        self.list.push(module.clone());
        for post in &softdep.post {
            for r in resolve(self.index, self.config, post) {
                self.visit(&r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn names(list: &[Resolved]) -> Vec<&str> {
        list.iter().map(Resolved::name).collect()
    }

    #[test]
    fn dependencies_softdeps_and_kmods_repeats() {
        let index = ModuleIndex::parse(
            "kernel/usb-common.ko:\n\
             kernel/usbcore.ko: kernel/usb-common.ko\n\
             kernel/ehci-hcd.ko: kernel/usbcore.ko kernel/usb-common.ko\n\
             kernel/uhci-hcd.ko: kernel/usbcore.ko kernel/usb-common.ko\n\
             kernel/dm-mod.ko:\n",
            "alias fs-uhci uhci_hcd\n",
            "softdep uhci_hcd pre: ehci-hcd post: dm-mod\n",
            "kernel/ipv6.ko\n",
        );
        let config = ModuleConfig::default();
        let uhci = Resolved::Module("uhci_hcd".into());
        // As Debian's kmod prints `--show-depends uhci-hcd`: the
        // dependencies, then the softdep's whole list, repeating them.
        assert_eq!(
            names(&probe_list(&index, &config, &uhci)),
            [
                "usb_common",
                "usbcore",
                "usb_common",
                "usbcore",
                "ehci_hcd",
                "uhci_hcd",
                "dm_mod"
            ]
        );
        let ipv6 = Resolved::Builtin("ipv6".into());
        assert_eq!(probe_list(&index, &config, &ipv6), [ipv6]);
        // modprobe.d's softdep replaces modules.softdep's.
        let mut config = ModuleConfig::default();
        config.parse_modprobe_conf("softdep uhci-hcd post: ipv6\n", Path::new("t.conf"));
        assert_eq!(
            names(&probe_list(&index, &config, &uhci)),
            ["usb_common", "usbcore", "uhci_hcd", "ipv6"]
        );
    }

    #[test]
    fn a_softdep_cycle_ends() {
        let index = ModuleIndex::parse(
            "a.ko:\nb.ko:\n",
            "",
            "softdep a pre: b\nsoftdep b pre: a\n",
            "",
        );
        let list = probe_list(
            &index,
            &ModuleConfig::default(),
            &Resolved::Module("a".into()),
        );
        assert_eq!(names(&list), ["b", "a"]);
    }
}
