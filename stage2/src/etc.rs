//! `/etc` from `$toplevel/etc`, with the semantics of NixOS's `setup-etc.pl`.
//!
//! In order: `<etc>/static` is switched atomically to the (resolved) source tree; links in
//! `<etc>` that point into `<etc>/static/` at something the new tree no longer has are
//! removed; every entry of the source becomes `<etc>/X -> <etc>/static/X` (directories become
//! real directories and are recursed into), or a copy when an `X.mode` sidecar exists;
//! copies listed in `<etc>/.clean` by the previous run and absent now are removed;
//! `<etc>/.clean` is rewritten; `<etc>/NIXOS` is touched. `README.md` has the full rules and
//! where they differ from NixOS.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use log::{info, warn};

use crate::fsutil::{self, lstat};
use crate::ids;

/// What [`setup_etc`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EtcReport {
    /// Entries that are now symlinks: `<etc>/X -> <etc>/static/X`, plus `direct-symlink` ones.
    pub linked: usize,
    /// Entries copied because of a `.mode` sidecar.
    pub copied: usize,
    /// Stale links into `<etc>/static` and obsolete copies (from `.clean`) removed.
    pub removed: usize,
    /// Problems with single entries; the run went on. Each was also logged at `warn` level
    /// when it happened.
    pub warnings: Vec<String>,
}

/// Sidecar extensions next to an entry `X` in the source tree: `X.mode`, `X.uid`, `X.gid`.
const SIDECARS: [&str; 3] = ["mode", "uid", "gid"];

/// Top-level names setup-etc itself manages in `<etc>`; entries of the tree with these names
/// would replace its bookkeeping.
const RESERVED: [&str; 2] = ["static", ".clean"];

/// The `.mode` content that means "link straight to the store target".
const DIRECT_SYMLINK: &str = "direct-symlink";

/// Set up `etc` (usually `/etc`) from `source` (`$toplevel/etc`). Errors only when the tree
/// cannot be used at all (source missing, `<etc>/static` cannot be switched, `.clean` cannot
/// be written); problems with single entries become [`EtcReport::warnings`].
///
/// Links are written as `<etc>/static/X` with `etc` made absolute but not resolved, so pass
/// the path as the running system will see it (`/etc`).
pub fn setup_etc(source: &Path, etc: &Path) -> Result<EtcReport> {
    let etc =
        std::path::absolute(etc).with_context(|| format!("make {} absolute", etc.display()))?;
    let tree = fsutil::resolve_store_path(source)?;
    if !tree.is_dir() {
        bail!(
            "etc source {} (resolved: {}) is not a directory",
            source.display(),
            tree.display()
        );
    }
    fsutil::ensure_dir(&etc, 0o755)?;
    let static_link = etc.join("static");
    fsutil::atomic_symlink(&tree, &static_link)
        .with_context(|| format!("switch {} to {}", static_link.display(), tree.display()))?;
    info!("{} -> {}", static_link.display(), tree.display());

    let clean_path = etc.join(".clean");
    let old_copies = read_clean(&clean_path);
    let mut run = Run {
        tree,
        static_link,
        report: EtcReport::default(),
        created: Vec::new(),
        copies: Vec::new(),
        clean_log: None,
        etc,
    };
    let old_copies = old_copies.unwrap_or_else(|e| {
        run.warn(format!(
            "cannot read {}: {e}; copies of the previous generation are not cleaned up",
            clean_path.display()
        ));
        Vec::new()
    });
    run.remove_stale_links(&run.etc.clone());
    // Append each copy as it is made, like setup-etc.pl, so a crash half-way still leaves
    // them tracked; the file is rewritten, sorted, at the end.
    run.clean_log = Some(
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&clean_path)
            .with_context(|| format!("open {}", clean_path.display()))?,
    );
    run.walk(Path::new(""));
    run.clean_log = None;
    run.remove_old_copies(&old_copies);
    run.write_clean(&clean_path)?;

    // Created when missing, never written through (the tree may provide it as a link).
    let nixos = run.etc.join("NIXOS");
    if lstat(&nixos)
        .with_context(|| format!("lstat {}", nixos.display()))?
        .is_none()
    {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&nixos)
            .with_context(|| format!("touch {}", nixos.display()))?;
    }
    let r = &run.report;
    info!(
        "{}: {} linked, {} copied, {} removed, {} warning(s)",
        run.etc.display(),
        r.linked,
        r.copied,
        r.removed,
        r.warnings.len()
    );
    Ok(run.report)
}

/// The relative paths listed in a `.clean` file (none when it does not exist); unsafe
/// entries (absolute, `..`) are dropped.
fn read_clean(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|p| is_plain_relative(p))
        .collect())
}

fn is_plain_relative(p: &Path) -> bool {
    p.components().next().is_some() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

struct Run {
    /// `<etc>`, absolute.
    etc: PathBuf,
    /// The resolved source tree `<etc>/static` points at.
    tree: PathBuf,
    /// `<etc>/static`.
    static_link: PathBuf,
    report: EtcReport,
    /// Every relative path the new tree has (entries and directories),
    /// sorted before it is searched. A sorted Vec, not a `HashSet`: one
    /// hash set type less in dist/init, and `copies` sorts the same type.
    created: Vec<PathBuf>,
    /// Relative paths copied (or direct-linked) because of a `.mode` sidecar.
    copies: Vec<PathBuf>,
    clean_log: Option<fs::File>,
}

impl Run {
    fn warn(&mut self, msg: String) {
        warn!("{msg}");
        self.report.warnings.push(msg);
    }

    /// Whether `path` belongs to the static tree: a symlink into `<etc>/static/`, or a real
    /// directory whose children all do (recursively). Anything else is a user's file.
    fn is_static(&self, path: &Path) -> bool {
        let Ok(Some(meta)) = lstat(path) else {
            return false;
        };
        if meta.file_type().is_symlink() {
            return fs::read_link(path).is_ok_and(|t| t.starts_with(&self.static_link));
        }
        if meta.is_dir() {
            let Ok(entries) = fs::read_dir(path) else {
                return false;
            };
            return entries
                .into_iter()
                .all(|e| e.is_ok_and(|e| self.is_static(&e.path())));
        }
        false
    }

    /// Remove symlinks under `dir` that point into `<etc>/static/` at a path the new tree does
    /// not have. `<etc>/nixos` is not searched (as in NixOS); symlinked directories are not
    /// followed.
    fn remove_stale_links(&mut self, dir: &Path) {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.warn(format!("cannot read {}: {e}", dir.display()));
                return;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if path != self.etc.join("nixos") {
                    self.remove_stale_links(&path);
                }
                continue;
            }
            if !ft.is_symlink() {
                continue;
            }
            let Ok(target) = fs::read_link(&path) else {
                continue;
            };
            let Ok(rel) = target.strip_prefix(&self.static_link) else {
                continue;
            };
            if !is_plain_relative(rel) || !matches!(lstat(&self.tree.join(rel)), Ok(None)) {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => {
                    info!(
                        "removed obsolete link {} -> {}",
                        path.display(),
                        target.display()
                    );
                    self.report.removed += 1;
                }
                Err(e) => self.warn(format!(
                    "cannot remove obsolete link {}: {e}",
                    path.display()
                )),
            }
        }
    }

    /// Mirror the source directory `rel_dir` (relative to the tree) into `<etc>/rel_dir`.
    fn walk(&mut self, rel_dir: &Path) {
        let src_dir = self.tree.join(rel_dir);
        let mut names: Vec<OsString> = match fs::read_dir(&src_dir) {
            Ok(entries) => entries.flatten().map(|e| e.file_name()).collect(),
            Err(e) => {
                self.warn(format!("cannot read {}: {e}", src_dir.display()));
                return;
            }
        };
        names.sort();
        for name in &names {
            let rel = rel_dir.join(name);
            let src = self.tree.join(&rel);
            let meta = match lstat(&src) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    self.warn(format!("cannot stat {}: {e}", src.display()));
                    continue;
                }
            };
            if meta.is_file()
                && sidecar_base(name)
                    .is_some_and(|b| names.binary_search_by(|n| n.as_os_str().cmp(b)).is_ok())
            {
                continue;
            }
            if rel_dir.as_os_str().is_empty() && RESERVED.iter().any(|r| name == *r) {
                self.warn(format!(
                    "{}: name reserved by setup-etc, skipped",
                    src.display()
                ));
                continue;
            }
            if meta.is_dir() {
                self.created.push(rel.clone());
                if self.ensure_real_dir(&self.etc.join(&rel)) {
                    self.walk(&rel);
                }
                continue;
            }
            if !meta.is_file() && !meta.file_type().is_symlink() {
                self.warn(format!(
                    "{}: not a file, link or directory, skipped",
                    src.display()
                ));
                continue;
            }
            self.created.push(rel.clone());
            let mode_file = self.tree.join(sidecar(&rel, ".mode"));
            match fs::read_to_string(&mode_file) {
                Ok(mode) if mode.trim() == DIRECT_SYMLINK => {
                    self.direct_link(&rel);
                    self.record_copy(&rel);
                }
                Ok(mode) => {
                    self.copy(&rel, mode.trim());
                    self.record_copy(&rel);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if meta.file_type().is_symlink() {
                        self.warn_if_dangling(&rel);
                    }
                    self.link_static(&rel);
                }
                Err(e) => {
                    self.warn(format!("cannot read {}: {e}; skipped", mode_file.display()));
                    // Tracked anyway, so an older copy is not deleted as obsolete.
                    self.record_copy(&rel);
                }
            }
        }
    }

    /// Make `<etc>/rel` a real directory; a static link or static-only directory in the way is
    /// replaced. Returns `false` (with a warning) when the subtree cannot be set up.
    fn ensure_real_dir(&mut self, path: &Path) -> bool {
        match lstat(path) {
            Ok(Some(m)) if m.is_dir() => return true,
            Ok(Some(m)) if m.file_type().is_symlink() => {
                if !self.is_static(path) {
                    // A user's link (perhaps to a directory): write through it, like NixOS.
                    if path.is_dir() {
                        return true;
                    }
                    self.warn(format!(
                        "{} is a user's link, not a directory; subtree skipped",
                        path.display()
                    ));
                    return false;
                }
                if let Err(e) = fs::remove_file(path) {
                    self.warn(format!(
                        "cannot replace link {} by a directory: {e}",
                        path.display()
                    ));
                    return false;
                }
            }
            Ok(Some(_)) => {
                self.warn(format!(
                    "{} is a user's file, not a directory; subtree skipped",
                    path.display()
                ));
                return false;
            }
            Ok(None) => {}
            Err(e) => {
                self.warn(format!("cannot stat {}: {e}", path.display()));
                return false;
            }
        }
        match fsutil::ensure_dir(path, 0o755) {
            Ok(_) => true,
            Err(e) => {
                self.warn(format!("{e:#}"));
                false
            }
        }
    }

    /// Before replacing `<etc>/rel` by a link or copy: a directory there must go first
    /// (rename cannot replace it). Only a static-only directory is removed.
    fn clear_dir_in_the_way(&mut self, target: &Path) -> bool {
        if !matches!(lstat(target), Ok(Some(ref m)) if m.is_dir()) {
            return true;
        }
        if self.is_static(target) {
            if let Err(e) = fs::remove_dir_all(target) {
                self.warn(format!(
                    "cannot remove static directory {}: {e}",
                    target.display()
                ));
                return false;
            }
            return true;
        }
        self.warn(format!(
            "{} is a directory with user files, not replaced",
            target.display()
        ));
        false
    }

    /// The tree's symlink `rel` leads nowhere (now: it may point at something made later, such
    /// as a file under `/run`): say so, naming the entry and its target; it is linked anyway.
    fn warn_if_dangling(&mut self, rel: &Path) {
        let src = self.tree.join(rel);
        if !matches!(fs::metadata(&src), Err(ref e) if e.kind() == std::io::ErrorKind::NotFound) {
            return;
        }
        let target = fs::read_link(&src).unwrap_or_default();
        self.warn(format!(
            "{}: dangling symlink: its target {} does not exist; linked anyway",
            self.etc.join(rel).display(),
            target.display()
        ));
    }

    /// `<etc>/rel -> <etc>/static/rel`.
    fn link_static(&mut self, rel: &Path) {
        let target = self.etc.join(rel);
        if !self.clear_dir_in_the_way(&target) {
            return;
        }
        let to = self.static_link.join(rel);
        match fsutil::atomic_symlink(&to, &target) {
            Ok(()) => self.report.linked += 1,
            Err(e) => self.warn(format!("could not create symlink: {e:#}")),
        }
    }

    /// `.mode` is `direct-symlink`: `<etc>/rel` points straight at the source entry's target.
    fn direct_link(&mut self, rel: &Path) {
        let src = self.tree.join(rel);
        let to = match fs::read_link(&src) {
            Ok(t) if t.is_relative() => src.parent().unwrap_or(&self.tree).join(t),
            Ok(t) => t,
            Err(_) => src,
        };
        let target = self.etc.join(rel);
        if !self.clear_dir_in_the_way(&target) {
            return;
        }
        match fsutil::atomic_symlink(&to, &target) {
            Ok(()) => self.report.linked += 1,
            Err(e) => self.warn(format!("could not create symlink: {e:#}")),
        }
    }

    /// `.mode` is an octal mode: copy the content to `<etc>/rel` with that mode and the owner
    /// from the `.uid`/`.gid` sidecars, via a temporary file renamed into place.
    fn copy(&mut self, rel: &Path, mode: &str) {
        let target = self.etc.join(rel);
        let Some(mode) = u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777) else {
            self.warn(format!(
                "{}: bad mode {mode:?} in {} (want an octal mode such as 0644, or direct-symlink); not copied",
                target.display(),
                self.tree.join(sidecar(rel, ".mode")).display()
            ));
            return;
        };
        let uid = self.owner(rel, ".uid", "passwd");
        let gid = self.owner(rel, ".gid", "group");
        if !self.clear_dir_in_the_way(&target) {
            return;
        }
        let tmp = fsutil::temp_name(&target);
        let result = (|| -> Result<()> {
            fsutil::remove_if_exists(&tmp)?;
            fsutil::copy_file(&self.tree.join(rel), &tmp).with_context(|| {
                format!(
                    "copy {} to {}",
                    self.tree.join(rel).display(),
                    tmp.display()
                )
            })?;
            Ok(())
        })();
        if let Err(e) = result {
            self.warn(format!("{e:#}"));
            let _ignored = fs::remove_file(&tmp);
            return;
        }
        // Only when it changes anything: a copy made by its future owner needs no chown.
        let needs_chown = fs::metadata(&tmp).map_or(true, |m| {
            uid.is_some_and(|u| u != m.uid()) || gid.is_some_and(|g| g != m.gid())
        });
        if !needs_chown {
            // Already owned as wanted.
        } else if let Err(e) = std::os::unix::fs::chown(&tmp, uid, gid) {
            self.warn(format!(
                "chown {}:{} {}: {e}",
                uid.map_or("-".into(), |u| u.to_string()),
                gid.map_or("-".into(), |g| g.to_string()),
                target.display()
            ));
        }
        if let Err(e) = fsutil::set_mode(&tmp, mode) {
            self.warn(format!("{e:#}"));
        }
        match fs::rename(&tmp, &target) {
            Ok(()) => self.report.copied += 1,
            Err(e) => {
                self.warn(format!("could not create {}: {e}", target.display()));
                let _ignored = fs::remove_file(&tmp);
            }
        }
    }

    /// The owner from the `rel.uid` / `rel.gid` sidecar: `+N` is numeric, anything else a name
    /// looked up in the new tree's `passwd`/`group`, then in `<etc>`'s. No sidecar: root (0).
    /// An unknown name gives a warning and `None` (the copy stays root's).
    fn owner(&mut self, rel: &Path, suffix: &str, db: &str) -> Option<u32> {
        let Ok(spec) = fs::read_to_string(self.tree.join(sidecar(rel, suffix))) else {
            return Some(0);
        };
        let spec = spec.trim();
        if let Some(n) = spec.strip_prefix('+') {
            if let Ok(n) = n.parse() {
                return Some(n);
            }
        } else if let Some(id) = ids::lookup_in(&self.tree.join(db), spec)
            .or_else(|| ids::lookup_in(&self.etc.join(db), spec))
        {
            return Some(id);
        } else if let Ok(n) = spec.parse() {
            return Some(n);
        }
        self.warn(format!(
            "{}{suffix}: unknown {db} entry {spec:?}, owner left as root",
            self.etc.join(rel).display()
        ));
        None
    }

    fn record_copy(&mut self, rel: &Path) {
        self.copies.push(rel.to_path_buf());
        let Some(log) = self.clean_log.as_mut() else {
            return;
        };
        let mut line = rel.as_os_str().as_encoded_bytes().to_vec();
        line.push(b'\n');
        if let Err(e) = log.write_all(&line) {
            self.warn(format!(
                "cannot append to {}/.clean: {e}",
                self.etc.display()
            ));
        }
    }

    /// Remove what the previous run copied and the new tree no longer has.
    fn remove_old_copies(&mut self, old: &[PathBuf]) {
        self.created.sort();
        for rel in old {
            if self.created.binary_search(rel).is_ok() {
                continue;
            }
            let path = self.etc.join(rel);
            match lstat(&path) {
                Ok(Some(m)) if m.is_dir() => {
                    self.warn(format!(
                        "obsolete copy {} is now a directory, left alone",
                        path.display()
                    ));
                }
                Ok(Some(_)) => match fs::remove_file(&path) {
                    Ok(()) => {
                        info!("removed obsolete file {}", path.display());
                        self.report.removed += 1;
                    }
                    Err(e) => self.warn(format!(
                        "cannot remove obsolete file {}: {e}",
                        path.display()
                    )),
                },
                Ok(None) => {}
                Err(e) => self.warn(format!("cannot stat {}: {e}", path.display())),
            }
        }
    }

    fn write_clean(&mut self, path: &Path) -> Result<()> {
        self.copies.sort();
        self.copies.dedup();
        let mut text = Vec::new();
        for rel in &self.copies {
            text.extend_from_slice(rel.as_os_str().as_encoded_bytes());
            text.push(b'\n');
        }
        let tmp = fsutil::temp_name(path);
        fs::write(&tmp, &text).with_context(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("rename {} to {}", tmp.display(), path.display()))
    }
}

/// `rel` with `suffix` appended to its file name (`a/b` + `.mode` = `a/b.mode`).
fn sidecar(rel: &Path, suffix: &str) -> PathBuf {
    let mut s = rel.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// For `X.mode`, `X.uid` or `X.gid`: `X`.
fn sidecar_base(name: &OsStr) -> Option<&OsStr> {
    let name = Path::new(name);
    let ext = name.extension()?;
    SIDECARS
        .iter()
        .any(|s| ext == *s)
        .then(|| name.file_stem())
        .flatten()
}

#[cfg(test)]
mod tests;
