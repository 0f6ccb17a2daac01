//! `ModuleConfig::parse_modprobe_conf` and `parse_modules_load` (the input:
//! a modprobe.d file, NUL, a modules-load.d file), then the lookups stage-1
//! makes on the result.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stage1::modules::ModuleConfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (conf, load) = text.split_once('\0').unwrap_or((&*text, ""));
    let mut config = ModuleConfig::default();
    config.parse_modprobe_conf(conf, Path::new("/etc/modprobe.d/fuzz.conf"));
    config.parse_modules_load(load, Path::new("/etc/modules-load.d/fuzz.conf"));
    let _ = config.warnings();
    let wanted: Vec<String> = config.wanted().to_vec();
    let _ = config.wanted_with_source().count();
    for name in wanted
        .iter()
        .map(String::as_str)
        .chain(conf.split_whitespace().take(32))
    {
        let _ = config.options(name);
        let _ = config.softdep(name);
        let _ = config.is_blacklisted(name);
        let _ = config.aliases(name);
    }
});
