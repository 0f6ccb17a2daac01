//! `stage1::modules::ModuleIndex::parse` over modules.dep, modules.alias,
//! modules.softdep and modules.builtin text (the input holds the four,
//! separated by NUL bytes; a fifth part is modules.builtin.modinfo), then
//! lookups and a load plan over the result: alias patterns are globs, so
//! resolving a name runs the matcher on fuzzed patterns.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stage1::cmdline::BootParams;
use stage1::modules::{plan, ModuleConfig, ModuleIndex, ModuleRequest};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut next = || parts.next().unwrap_or_default();
    let (dep, alias, softdep, builtin, modinfo) = (next(), next(), next(), next(), next());
    let query = next();
    let mut index = ModuleIndex::parse(dep, alias, softdep, builtin);
    index.set_builtin_modinfo(modinfo);
    let _ = index.warnings();
    let _ = (index.len(), index.is_empty());
    let mut requests = Vec::new();
    for name in query.split_whitespace().take(16) {
        let _ = index.module(name);
        let _ = index.is_builtin(name);
        let _ = index.softdep(name);
        let _ = index.aliases(name);
        let _ = index.resolve(name);
        requests.push(ModuleRequest {
            name: name.to_owned(),
            required: name.len() % 2 == 0,
            reason: "fuzz".to_owned(),
        });
    }
    let plan = plan(
        &index,
        &ModuleConfig::default(),
        &BootParams::default(),
        &requests,
    );
    let _ = plan.to_string();
});
