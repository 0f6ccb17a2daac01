//! System state after `/etc`: hostname, `/run/current-system` and `/run/booted-system`, the
//! nix database, the NixOS activation script, and [`stage2_setup`] running every stage-2 step.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitStatus;

use anyhow::{anyhow, bail, Context, Result};
use log::{error, info};
use runit_compat::Exec;

use crate::command::run_logged;
use crate::fsutil;
use crate::{etc, mounts};

/// Longest hostname the kernel takes (`HOST_NAME_MAX`).
const HOST_NAME_MAX: usize = 64;

/// Set the hostname from `<etc>/hostname`: the first line that is neither empty nor a `#`
/// comment, trimmed. A missing or empty file keeps the kernel's hostname (`Ok(None)`).
pub fn set_hostname(etc: &Path) -> Result<Option<String>> {
    let path = etc.join("hostname");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            info!("no {}: keeping the kernel's hostname", path.display());
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    let Some(name) = parse_hostname(&text) else {
        info!("{} is empty: keeping the kernel's hostname", path.display());
        return Ok(None);
    };
    if name.len() > HOST_NAME_MAX {
        bail!(
            "{}: hostname longer than {HOST_NAME_MAX} bytes",
            path.display()
        );
    }
    rustix::system::sethostname(name.as_bytes()).map_err(|e| {
        anyhow!(
            "sethostname({name:?}) from {}: {}",
            path.display(),
            io::Error::from(e)
        )
    })?;
    info!("hostname: {name}");
    Ok(Some(name.to_owned()))
}

fn parse_hostname(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Point `<run>/current-system` (and with `booted`, `<run>/booted-system`) at `toplevel`,
/// resolved up to its store path (see [`fsutil::resolve_store_path`]), each link replaced
/// atomically.
pub fn link_system(toplevel: &Path, run: &Path, booted: bool) -> Result<()> {
    let top = fsutil::resolve_store_path(toplevel)?;
    if !top.is_dir() {
        bail!(
            "toplevel {} (resolved: {}) is not a directory",
            toplevel.display(),
            top.display()
        );
    }
    fsutil::ensure_dir(run, 0o755)?;
    let mut names = vec!["current-system"];
    if booted {
        names.push("booted-system");
    }
    for name in names {
        let link = run.join(name);
        fsutil::atomic_symlink(&top, &link)?;
        info!("{} -> {}", link.display(), top.display());
    }
    Ok(())
}

/// `program` with `args` as a child of stage-2: empty environment but `PATH`, cwd `/`.
fn child_exec(program: &Path, args: &[&str], toplevel: &Path) -> io::Result<Exec> {
    let path = format!("{}/sw/bin:/run/current-system/sw/bin", toplevel.display());
    let argv: Vec<&OsStr> = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsStr::new))
        .collect();
    Exec::new(
        program,
        &argv,
        Some(&[("PATH", OsStr::new(&path))]),
        Some(Path::new("/")),
    )
}

/// Run `$toplevel/activate` when it exists, its output logged line by line. `Ok(None)` when
/// there is no activation script; otherwise its exit status (the caller judges it).
pub fn activate(toplevel: &Path) -> Result<Option<ExitStatus>> {
    let script = toplevel.join("activate");
    if !script.exists() {
        info!("no {}: nothing to activate", script.display());
        return Ok(None);
    }
    info!("running {}", script.display());
    let status = child_exec(&script, &[], toplevel)
        .map_err(anyhow::Error::from)
        .and_then(|exec| run_logged(&exec, None, "activate"))
        .with_context(|| format!("run {}", script.display()))?;
    info!("{} finished: {status}", script.display());
    Ok(Some(status))
}

/// Load the store's registration into a fresh nix database: only when
/// `$toplevel/sw/bin/nix-store` exists, `<root>/nix/store/nix-path-registration` exists and
/// `<root>/nix/var/nix/db/db.sqlite` does not. Runs `nix-store --load-db` with the
/// registration on stdin. `root` only places the checks; nix-store itself acts on the running
/// system's `/nix`, so pass `/` outside tests. Returns whether it ran.
pub fn load_nix_db(toplevel: &Path, root: &Path) -> Result<bool> {
    let nix_store = toplevel.join("sw/bin/nix-store");
    let registration = root.join("nix/store/nix-path-registration");
    let db = root.join("nix/var/nix/db/db.sqlite");
    if !nix_store.exists() {
        info!("no {}: nix database not loaded", nix_store.display());
        return Ok(false);
    }
    if !registration.exists() {
        info!("no {}: nix database not loaded", registration.display());
        return Ok(false);
    }
    if fsutil::lstat(&db)
        .with_context(|| format!("lstat {}", db.display()))?
        .is_some()
    {
        info!("{} exists: nix database already loaded", db.display());
        return Ok(false);
    }
    let input =
        File::open(&registration).with_context(|| format!("open {}", registration.display()))?;
    info!("loading {} into the nix database", registration.display());
    let status = child_exec(&nix_store, &["--load-db"], toplevel)
        .map_err(anyhow::Error::from)
        .and_then(|exec| run_logged(&exec, Some(input.as_fd()), "nix-store --load-db"))
        .with_context(|| format!("run {} --load-db", nix_store.display()))?;
    if !status.success() {
        bail!(
            "{} --load-db < {} {status}",
            nix_store.display(),
            registration.display()
        );
    }
    Ok(true)
}

/// Everything stage-2 does before supervision, on the real root, in order: base mounts,
/// `/etc` from `$toplevel/etc` (skipped with a note when the toplevel has none), the devpts
/// `tty` gid, hostname, `/run/current-system` and `/run/booted-system`, the nix database,
/// `$toplevel/activate`. A failed step is logged at error level with its context and
/// collected; the next step still runs. Returns the failed steps' messages (empty: all well).
///
/// Children are waited for with `waitpid` on their pid: call this before a reaper that
/// collects every child (`waitpid(-1)`) runs.
pub fn stage2_setup(toplevel: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let mut step = |name: &str, result: Result<()>| {
        if let Err(e) = result {
            let msg = format!("{name}: {e:#}");
            error!("{msg}");
            failures.push(msg);
        }
    };
    let root = Path::new("/");
    let etc_dir = Path::new("/etc");
    step("base mounts", mounts::base_mounts());
    let source = toplevel.join("etc");
    if source.exists() {
        step("/etc", etc::setup_etc(&source, etc_dir).map(drop));
    } else {
        info!(
            "{} does not exist: /etc is left to the activation script",
            source.display()
        );
    }
    step("devpts tty gid", mounts::set_devpts_gid(root).map(drop));
    step("hostname", set_hostname(etc_dir).map(drop));
    step(
        "/run/current-system",
        link_system(toplevel, Path::new("/run"), true),
    );
    step("nix database", load_nix_db(toplevel, root).map(drop));
    step(
        "activation",
        activate(toplevel).and_then(|status| match status {
            Some(s) if !s.success() => Err(anyhow!("{}/activate {s}", toplevel.display())),
            _ => Ok(()),
        }),
    );
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn hostname_parsing() {
        assert_eq!(parse_hostname("  myhost \n"), Some("myhost"));
        assert_eq!(parse_hostname("# comment\n\nbox\n"), Some("box"));
        assert_eq!(parse_hostname("\n  \n"), None);
    }

    #[test]
    fn missing_or_empty_hostname_keeps_the_kernels() {
        let t = TempDir::new("host");
        assert_eq!(set_hostname(t.path()).unwrap(), None);
        fs::write(t.path().join("hostname"), "\n").unwrap();
        assert_eq!(set_hostname(t.path()).unwrap(), None);
        fs::write(t.path().join("hostname"), "x".repeat(65)).unwrap();
        assert!(set_hostname(t.path()).is_err());
    }

    #[test]
    fn system_links_point_at_the_resolved_toplevel() {
        let t = TempDir::new("links");
        let top = t.path().join("store/abc-system");
        fs::create_dir_all(&top).unwrap();
        symlink(&top, t.path().join("profile")).unwrap();
        let run = t.path().join("run");
        link_system(&t.path().join("profile"), &run, false).unwrap();
        assert_eq!(fs::read_link(run.join("current-system")).unwrap(), top);
        assert!(fs::symlink_metadata(run.join("booted-system")).is_err());
        link_system(&top, &run, true).unwrap();
        assert_eq!(fs::read_link(run.join("booted-system")).unwrap(), top);
        assert!(link_system(&t.path().join("missing"), &run, true).is_err());
    }

    fn script(path: &Path, body: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn activate_runs_with_a_clean_environment() {
        let t = TempDir::new("activate");
        assert_eq!(activate(t.path()).unwrap(), None);
        let out = t.path().join("env.out");
        script(
            &t.path().join("activate"),
            &format!(
                "/usr/bin/env > {}; echo hello; echo oops >&2; exit 4",
                out.display()
            ),
        );
        let status = activate(t.path()).unwrap().unwrap();
        assert_eq!(status.code(), Some(4));
        let env = fs::read_to_string(&out).unwrap();
        let path_line = format!(
            "PATH={}/sw/bin:/run/current-system/sw/bin",
            t.path().display()
        );
        assert!(env.lines().any(|l| l == path_line), "{env}");
        assert!(!env.contains("CARGO"), "environment not cleared: {env}");
    }

    #[test]
    fn load_nix_db_runs_once_under_its_conditions() {
        let t = TempDir::new("nixdb");
        let top = t.path().join("top");
        let root = t.path().join("root");
        let stdin_copy = t.path().join("stdin.out");
        fs::create_dir_all(root.join("nix/var/nix/db")).unwrap();
        // No nix-store: does not run.
        assert!(!load_nix_db(&top, &root).unwrap());
        script(
            &top.join("sw/bin/nix-store"),
            &format!(
                "[ \"$1\" = --load-db ] || exit 9\nexport PATH=/usr/bin:/bin\ncat > {}\ntouch {}",
                stdin_copy.display(),
                root.join("nix/var/nix/db/db.sqlite").display()
            ),
        );
        // No registration: does not run.
        assert!(!load_nix_db(&top, &root).unwrap());
        fs::create_dir_all(root.join("nix/store")).unwrap();
        fs::write(
            root.join("nix/store/nix-path-registration"),
            "/nix/store/x\n",
        )
        .unwrap();
        assert!(load_nix_db(&top, &root).unwrap());
        assert_eq!(fs::read_to_string(&stdin_copy).unwrap(), "/nix/store/x\n");
        // The database exists now: does not run again.
        assert!(!load_nix_db(&top, &root).unwrap());
    }

    #[test]
    fn load_nix_db_reports_failure() {
        let t = TempDir::new("nixdbfail");
        script(&t.path().join("sw/bin/nix-store"), "exit 1");
        fs::create_dir_all(t.path().join("nix/store")).unwrap();
        fs::write(t.path().join("nix/store/nix-path-registration"), "").unwrap();
        let err = load_nix_db(t.path(), t.path()).unwrap_err();
        assert!(format!("{err:#}").contains("exit status: 1"), "{err:#}");
    }
}
