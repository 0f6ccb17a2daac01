//! Module configuration of the initramfs: `modules-load.d` (names to load at
//! boot) and `modprobe.d` (`options`, `softdep`, `blacklist`, `alias`).
//!
//! Files are read from `etc/`, `run/`, `usr/lib/` and `lib/` under the root,
//! as systemd and kmod do: `*.conf` only, in file-name order, a file name in
//! an earlier directory hiding the same name in later ones.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::index::SoftDep;
use super::names::{normalize, normalize_alias, NameMap, NameSet};

const CONF_DIRS: [&str; 4] = ["etc", "run", "usr/lib", "lib"];

/// A parser of one configuration file's text (`source` names it).
type ParseFile = fn(&mut ModuleConfig, &str, &Path);

/// What `modules-load.d` and `modprobe.d` say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleConfig {
    wanted: Vec<String>,
    /// For each entry of `wanted`, the file it came from.
    wanted_from: Vec<PathBuf>,
    options: NameMap<Vec<String>>,
    softdeps: NameMap<SoftDep>,
    blacklist: NameSet,
    /// `alias PATTERN MODULE` lines: (normalized pattern, module).
    aliases: Vec<(String, String)>,
    warnings: Vec<String>,
}

/// The `*.conf` files of `<root>/{etc,run,usr/lib,lib}/<sub>`, by file name;
/// of two with one name, the earlier directory's. A Vec, not a BTreeMap by
/// name: a handful of files, and the map's code costs dist/init more.
fn conf_files(root: &Path, sub: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = Vec::new();
    for dir in CONF_DIRS {
        let dir = root.join(dir).join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "conf")
                && !found.iter().any(|f| f.file_name() == path.file_name())
            {
                found.push(path);
            }
        }
    }
    found.sort_unstable_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(found)
}

/// Logical lines: comments (`#`, and `;` where allowed) dropped, a trailing
/// `\` joins the next line.
fn logical_lines(text: &str, semicolon_comments: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    let mut start = 0;
    for (n, line) in text.lines().enumerate() {
        if acc.is_empty() {
            start = n + 1;
        }
        if let Some(head) = line.strip_suffix('\\') {
            acc.push_str(head);
            acc.push(' ');
            continue;
        }
        acc.push_str(line);
        let trimmed = acc.trim();
        let comment = trimmed.starts_with('#') || (semicolon_comments && trimmed.starts_with(';'));
        if !trimmed.is_empty() && !comment {
            out.push((start, trimmed.to_owned()));
        }
        acc.clear();
    }
    if !acc.trim().is_empty() {
        out.push((start, acc.trim().to_owned()));
    }
    out
}

impl ModuleConfig {
    /// Reads every `modules-load.d/*.conf` and `modprobe.d/*.conf` under
    /// `root` (`/` when booting). Missing directories are fine.
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let mut config = Self::default();
        // One loop for both kinds: its body once in dist/init.
        let kinds: [(&str, ParseFile); 2] = [
            ("modules-load.d", Self::parse_modules_load),
            ("modprobe.d", Self::parse_modprobe_conf),
        ];
        for (sub, parse) in kinds {
            for file in conf_files(root, sub)? {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                parse(&mut config, &text, &shown_path(root, &file));
            }
        }
        Ok(config)
    }

    /// Adds one `modules-load.d` file: a module name per line, `#` and `;`
    /// start comments. `source` names the file in reasons and warnings.
    pub fn parse_modules_load(&mut self, text: &str, source: &Path) {
        for (_, line) in logical_lines(text, true) {
            let name = normalize(&line);
            if !self.wanted.contains(&name) {
                self.wanted.push(name);
                self.wanted_from.push(source.to_owned());
            }
        }
    }

    /// Adds one `modprobe.d` file: `options NAME PARAMS...`,
    /// `softdep NAME pre: ... post: ...`, `blacklist NAME`,
    /// `alias PATTERN NAME`. `install`/`remove` commands cannot run here and
    /// are ignored with a warning, as is anything unknown.
    pub fn parse_modprobe_conf(&mut self, text: &str, source: &Path) {
        for (n, line) in logical_lines(text, false) {
            let at = || format!("{}:{n}", source.display());
            let mut words = line.split_whitespace();
            let command = words.next().unwrap_or_default();
            match (command, words.next()) {
                ("options", Some(module)) => {
                    let params: Vec<&str> = words.collect();
                    if !params.is_empty() {
                        self.options.entry(normalize(module)).push(params.join(" "));
                    }
                }
                ("blacklist", Some(module)) => {
                    self.blacklist.insert(normalize(module));
                }
                ("softdep", Some(module)) => {
                    let (sd, stray) = SoftDep::parse_words(words);
                    if !stray.is_empty() {
                        self.warnings.push(format!(
                            "{}: words outside pre:/post: ignored: {}",
                            at(),
                            stray.join(" ")
                        ));
                    }
                    // A softdep line in the configuration replaces depmod's.
                    *self.softdeps.entry(normalize(module)) = sd;
                }
                ("alias", Some(pattern)) => match (words.next(), words.next()) {
                    (Some(module), None) => {
                        self.aliases
                            .push((normalize_alias(pattern), normalize(module)));
                    }
                    _ => self.warnings.push(format!(
                        "{}: expected 'alias PATTERN MODULE', ignored",
                        at()
                    )),
                },
                ("install" | "remove", Some(module)) => self.warnings.push(format!(
                    "{}: {command} commands are not supported, ignored for {module}",
                    at()
                )),
                _ => self
                    .warnings
                    .push(format!("{}: cannot parse {line:?}, ignored", at())),
            }
        }
    }

    /// Names from `modules-load.d`, in file-name order, each once.
    pub fn wanted(&self) -> &[String] {
        &self.wanted
    }

    /// Like [`Self::wanted`], with the file each name came from.
    pub fn wanted_with_source(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.wanted
            .iter()
            .map(String::as_str)
            .zip(self.wanted_from.iter().map(PathBuf::as_path))
    }

    /// `options` for a module, joined by spaces in file order.
    pub fn options(&self, module: &str) -> Option<String> {
        self.options.get(&normalize(module)).map(|o| o.join(" "))
    }

    /// The `softdep` line for a module, if the configuration has one.
    pub fn softdep(&self, module: &str) -> Option<&SoftDep> {
        self.softdeps.get(&normalize(module))
    }

    /// Whether `blacklist NAME` names the module.
    pub fn is_blacklisted(&self, module: &str) -> bool {
        self.blacklist.contains(&normalize(module))
    }

    /// Module names of `alias` lines matching `name`, in file order.
    pub fn aliases(&self, name: &str) -> Vec<String> {
        let name = normalize_alias(name);
        self.aliases
            .iter()
            .filter(|(p, _)| super::index::glob_match(p.as_bytes(), name.as_bytes()))
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Lines that were ignored, and why.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// `file` as seen from inside `root` (`/etc/modules-load.d/x.conf`).
fn shown_path(root: &Path, file: &Path) -> PathBuf {
    match file.strip_prefix(root) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => file.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn modules_load() {
        let mut c = ModuleConfig::default();
        c.parse_modules_load(
            "# comment\n; also\nvirtio-blk\n\n  dm_mod  \nvirtio_blk\n",
            Path::new("/etc/modules-load.d/a.conf"),
        );
        c.parse_modules_load("loop\n", Path::new("/etc/modules-load.d/b.conf"));
        assert_eq!(c.wanted(), ["virtio_blk", "dm_mod", "loop"]);
        let src: Vec<_> = c.wanted_with_source().collect();
        assert_eq!(src[2], ("loop", Path::new("/etc/modules-load.d/b.conf")));
    }

    #[test]
    fn modprobe_conf() {
        let mut c = ModuleConfig::default();
        c.parse_modprobe_conf(
            "# Debian style\n\
             options virtio-net napi_tx=1\n\
             options virtio_net csum=0 \\\n    gso=0\n\
             options loop\n\
             blacklist pcspkr\n\
             softdep virtio_net pre: crc32c post: loop\n\
             alias my-disk virtio_blk\n\
             install foo /bin/true\n\
             nonsense\n",
            Path::new("/etc/modprobe.d/x.conf"),
        );
        assert_eq!(
            c.options("virtio_net").as_deref(),
            Some("napi_tx=1 csum=0 gso=0")
        );
        assert_eq!(c.options("loop"), None);
        assert!(c.is_blacklisted("pcspkr"));
        assert!(!c.is_blacklisted("loop"));
        let sd = c.softdep("virtio-net").unwrap();
        assert_eq!(
            (sd.pre.as_slice(), sd.post.as_slice()),
            (&["crc32c".to_owned()][..], &["loop".to_owned()][..])
        );
        assert_eq!(c.aliases("my_disk"), ["virtio_blk"]);
        assert_eq!(c.warnings().len(), 2, "{:?}", c.warnings());
        assert!(
            c.warnings()[0].starts_with("/etc/modprobe.d/x.conf:9: install"),
            "{:?}",
            c.warnings()
        );
        assert!(c.warnings()[1].contains("nonsense"));
    }

    #[test]
    fn load_from_tree() {
        let root = std::env::temp_dir().join(format!("stage1-config-{}", std::process::id()));
        let w = |p: &str, s: &str| {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w("etc/modules-load.d/20-b.conf", "b\n");
        w("etc/modules-load.d/10-a.conf", "a\n");
        w("lib/modules-load.d/10-a.conf", "hidden\n");
        w("lib/modules-load.d/30-c.conf", "c\n");
        w("etc/modules-load.d/README", "not-a-module\n");
        w("etc/modprobe.d/x.conf", "blacklist a\n");
        let c = ModuleConfig::load(&root).unwrap();
        assert_eq!(c.wanted(), ["a", "b", "c"]);
        assert_eq!(
            c.wanted_with_source().next().unwrap().1,
            Path::new("/etc/modules-load.d/10-a.conf")
        );
        assert!(c.is_blacklisted("a"));
        std::fs::remove_dir_all(&root).unwrap();
        // no configuration at all is fine
        assert_eq!(ModuleConfig::load(&root).unwrap(), ModuleConfig::default());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let mut c = ModuleConfig::default();
            c.parse_modprobe_conf(&s, Path::new("x"));
            c.parse_modules_load(&s, Path::new("y"));
            let _ = c.aliases(&s);
        }
    }
}
