//! The kernel command line: `stage1::cmdline::BootParams::parse` with its
//! checks, and what stage-1 does next with its values (`root=` device
//! paths, `ip=`, `BOOTIF=`, `ifname=`, per-module parameters).
#![no_main]
use libfuzzer_sys::fuzz_target;
use stage1::cmdline::{split, BootParams};
use net::{config, mac};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = split(text);
    let p = BootParams::parse(text);
    let _ = p.warnings();
    let _ = p.check();
    let _ = p.console_device();
    for spec in p.root.iter().chain(p.realroot.iter()) {
        let _ = spec.device_path();
        let _ = spec.to_string();
    }
    for module in p.module_params.keys().chain(p.modules_load.iter()) {
        let _ = p.module_params_for(module);
    }
    let ip: Vec<&str> = p.ip.iter().map(String::as_str).collect();
    let _ = config::parse_all(&ip);
    if let Some(b) = &p.bootif {
        let _ = mac::Mac::parse_bootif(b);
    }
    for i in &p.ifname {
        let _ = mac::IfName::parse(i);
    }
});
