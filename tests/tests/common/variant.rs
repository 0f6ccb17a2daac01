//! Variant builds: the scripts under `scripts/variants/` make dist-like
//! directories (kernel, initrd, store, command line, runvm) for one test.
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use tests::bin::workspace_root;

/// Run `scripts/variants/SCRIPT ARGS…` with `DIST=dist` and the extra
/// environment `env`; its output goes into the error when it fails.
pub fn run(script: &str, args: &[&OsStr], dist: &Path, env: &[(&str, &OsStr)]) -> Result<()> {
    let script = workspace_root().join("scripts/variants").join(script);
    let res = Command::new(&script)
        .args(args)
        .env("DIST", dist)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    ensure!(
        res.status.success(),
        "{} {} failed ({}):\n{}{}",
        script.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        res.status,
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    Ok(())
}

/// `SCRIPT NAME OUT` built once per test process, into `root/variants/NAME-PID`
/// (variants of test processes that are gone are removed first); on
/// `DIST`, else `dist/`.
pub fn cached(script: &str, name: &str, root: &Path) -> Result<PathBuf> {
    type Built = Arc<Mutex<Option<PathBuf>>>;
    static BUILT: Mutex<Option<HashMap<String, Built>>> = Mutex::new(None);
    let slot = {
        let mut map = BUILT.lock().expect("variant map");
        Arc::clone(
            map.get_or_insert_with(HashMap::new)
                .entry(format!("{script} {name}"))
                .or_default(),
        )
    };
    let mut slot = slot.lock().expect("variant slot");
    if let Some(dir) = slot.as_ref() {
        return Ok(dir.clone());
    }
    let dir = root.join("variants");
    remove_stale(&dir);
    let out = dir.join(format!("{name}-{}", std::process::id()));
    let started = Instant::now();
    let dist = tests::vm::default_dist();
    run(script, &[OsStr::new(name), out.as_os_str()], &dist, &[])?;
    eprintln!("variant {name} built in {:?}", started.elapsed());
    *slot = Some(out.clone());
    Ok(out)
}

/// Remove variants built by test processes that are gone (`NAME-PID`).
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
