//! Module plans and loading against a fixture tree made of real depmod
//! output (Debian's 6.1.0-56-amd64) and a not-os style configuration.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stage1::cmdline::BootParams;
use stage1::modules::{
    self, Kernel, LoadOptions, ModuleConfig, ModuleIndex, ModulePlan, ModuleRequest,
};

const KVER: &str = "6.1.0-56-amd64";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian-6.1")
}

fn moddir() -> PathBuf {
    fixture().join("lib/modules").join(KVER)
}

/// What stage-1 asks for: the configuration's names, then what the mounts
/// need (as the lead's `plan.rs` does).
fn requests(config: &ModuleConfig, params: &BootParams) -> Vec<ModuleRequest> {
    let mut out: Vec<ModuleRequest> = config
        .wanted_with_source()
        .map(|(name, file)| ModuleRequest {
            name: name.to_owned(),
            required: false,
            reason: file.display().to_string(),
        })
        .collect();
    for name in &params.modules_load {
        out.push(ModuleRequest {
            name: name.clone(),
            required: false,
            reason: "rd.modules_load=".into(),
        });
    }
    for (name, reason) in [
        ("squashfs", "mount the store"),
        ("overlay", "the writable store"),
        ("ext4", "realroot="),
    ] {
        out.push(ModuleRequest {
            name: name.into(),
            required: true,
            reason: reason.into(),
        });
    }
    out
}

fn fixture_plan(cmdline: &str) -> ModulePlan {
    let index = ModuleIndex::load(&moddir()).unwrap();
    let config = ModuleConfig::load(&fixture()).unwrap();
    let params = BootParams::parse(cmdline);
    modules::plan(&index, &config, &params, &requests(&config, &params))
}

#[test]
fn index_of_real_depmod_output() {
    let index = ModuleIndex::load(&moddir()).unwrap();
    assert_eq!(index.len(), 24);
    assert_eq!(
        index.module("virtio_net").unwrap().deps,
        ["net_failover", "failover", "virtio", "virtio_ring"]
    );
    assert!(index.is_builtin("mq_deadline"));
    // Debian's `softdep cifs gcm` style lines are reported, not fatal.
    assert_eq!(index.warnings().len(), 11, "{:?}", index.warnings());
}

#[test]
fn config_of_fixture() {
    let config = ModuleConfig::load(&fixture()).unwrap();
    assert_eq!(config.wanted().len(), 14);
    assert_eq!(
        config.wanted()[11..],
        ["mq_deadline", "fs_tracefs", "not_a_module"]
    );
    assert_eq!(config.options("loop").as_deref(), Some("max_loop=8"));
    assert!(config.is_blacklisted("tun"));
    assert_eq!(config.warnings().len(), 1, "{:?}", config.warnings());
}

#[test]
fn plan_of_not_os_module_set() {
    let plan =
        fixture_plan("console=ttyS0 virtio_net.napi_tx=1 loop.max_part=4 rd.modules_load=crc32c");
    let expected = "\
virtio_ring: kernel/drivers/virtio/virtio_ring.ko (dependency of virtio)
virtio: kernel/drivers/virtio/virtio.ko (/etc/modules-load.d/initrd.conf)
virtio_pci_modern_dev: kernel/drivers/virtio/virtio_pci_modern_dev.ko (dependency of virtio_pci)
virtio_pci_legacy_dev: kernel/drivers/virtio/virtio_pci_legacy_dev.ko (dependency of virtio_pci)
virtio_pci: kernel/drivers/virtio/virtio_pci.ko (/etc/modules-load.d/initrd.conf)
failover: kernel/net/core/failover.ko (dependency of virtio_net)
net_failover: kernel/drivers/net/net_failover.ko (dependency of virtio_net)
virtio_net: kernel/drivers/net/virtio_net.ko napi_tx=0 napi_tx=1 (/etc/modules-load.d/initrd.conf)
virtio_rng: kernel/drivers/char/hw_random/virtio-rng.ko (/etc/modules-load.d/initrd.conf)
dm_mod: kernel/drivers/md/dm-mod.ko (softdep pre of virtio_blk)
virtio_blk: kernel/drivers/block/virtio_blk.ko (/etc/modules-load.d/initrd.conf)
virtio_console: kernel/drivers/char/virtio_console.ko (/etc/modules-load.d/initrd.conf)
loop: kernel/drivers/block/loop.ko max_loop=8 max_part=4 (/etc/modules-load.d/initrd.conf)
squashfs: kernel/fs/squashfs/squashfs.ko (/etc/modules-load.d/initrd.conf, required)
overlay: kernel/fs/overlayfs/overlay.ko (/etc/modules-load.d/initrd.conf, required)
mq_deadline: built in (/etc/modules-load.d/zz-extra.conf)
tracefs: built in (/etc/modules-load.d/zz-extra.conf, as fs_tracefs)
crc32c_intel: kernel/arch/x86/crypto/crc32c-intel.ko (rd.modules_load=, as crc32c)
crc32c_generic: kernel/crypto/crc32c_generic.ko (rd.modules_load=, as crc32c)
jbd2: kernel/fs/jbd2/jbd2.ko (dependency of ext4, required)
mbcache: kernel/fs/mbcache.ko (dependency of ext4, required)
crc16: kernel/lib/crc16.ko (dependency of ext4, required)
ext4: kernel/fs/ext4/ext4.ko (realroot=, required)
warning: module tun is blacklisted, skipped (/etc/modules-load.d/initrd.conf)
warning: module not_a_module not found in modules.dep, modules.builtin or \
modules.alias, skipped (/etc/modules-load.d/zz-extra.conf)
";
    assert_eq!(plan.to_string(), expected);
    // ext4 and jbd2 wait (softdep pre: crypto-crc32c) for both crc32c modules.
    let idx = |n: &str| plan.steps.iter().position(|s| s.name == n).unwrap();
    let ext4 = plan.step("ext4").unwrap();
    let mut want = vec![idx("jbd2"), idx("mbcache"), idx("crc16")];
    want.sort_unstable();
    assert_eq!(ext4.deps, want);
    let jbd2 = plan.step("jbd2").unwrap();
    assert_eq!(jbd2.after, [idx("crc32c_intel"), idx("crc32c_generic")]);
    check_order(&plan);
    // Every module once, dependencies before dependents.
    let mut seen = std::collections::HashSet::new();
    for s in &plan.steps {
        assert!(seen.insert(&s.name), "{} twice", s.name);
    }
    assert!(plan.missing_required.is_empty());
}

fn check_order(plan: &ModulePlan) {
    for (i, s) in plan.steps.iter().enumerate() {
        for d in s.deps.iter().chain(&s.after) {
            assert!(*d < i, "{} waits for a later step", s.name);
        }
    }
}

/// A kernel that records which module each call loads (a fixture module
/// file holds its own name) and checks that its dependencies came first.
struct Recorder {
    order: Mutex<Vec<String>>,
    deps: HashMap<String, Vec<String>>,
}

impl Recorder {
    fn record(&self, name: String) {
        let mut order = self.order.lock().unwrap();
        for dep in self.deps.get(&name).into_iter().flatten() {
            assert!(
                order.contains(dep),
                "{name} loaded before its dependency {dep}"
            );
        }
        order.push(name);
    }
}

impl Kernel for Recorder {
    fn finit_module(&self, file: &File, _params: &CStr, _compressed: bool) -> nix::Result<()> {
        let mut name = String::new();
        (&mut &*file).read_to_string(&mut name).unwrap();
        self.record(name);
        Ok(())
    }

    fn init_module(&self, image: &[u8], _params: &CStr) -> nix::Result<()> {
        self.record(String::from_utf8(image.to_vec()).unwrap());
        Ok(())
    }
}

#[test]
fn load_fixture_plan_with_recorded_calls() {
    let plan = fixture_plan("");
    // A copy of the module directory where each .ko holds its name.
    let dir = std::env::temp_dir().join(format!("stage1-fixture-load-{}", std::process::id()));
    for s in plan.loadable() {
        let path = dir.join(s.path.as_ref().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &s.name).unwrap();
    }
    let deps: HashMap<String, Vec<String>> = plan
        .steps
        .iter()
        .filter(|s| !s.is_builtin())
        .map(|s| {
            let names = s
                .deps
                .iter()
                .chain(&s.after)
                .map(|&i| &plan.steps[i])
                .filter(|d| !d.is_builtin())
                .map(|d| d.name.clone())
                .collect();
            (s.name.clone(), names)
        })
        .collect();
    for threads in [1, 4] {
        let kernel = Recorder {
            order: Mutex::new(Vec::new()),
            deps: deps.clone(),
        };
        let opts = LoadOptions {
            threads,
            kernel_decompress: None,
        };
        let report = modules::load_with(&dir, &plan, &opts, &kernel);
        assert!(report.ok(), "{report}");
        assert_eq!(report.loaded.len(), plan.loadable().count());
        assert_eq!(kernel.order.lock().unwrap().len(), report.loaded.len());
        if threads == 1 {
            let in_plan: Vec<String> = plan.loadable().map(|s| s.name.clone()).collect();
            assert_eq!(*kernel.order.lock().unwrap(), in_plan);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
