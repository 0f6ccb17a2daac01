//! The files depmod writes into `/lib/modules/<kver>`: `modules.dep`,
//! `modules.alias`, `modules.softdep`, `modules.builtin` (and, when present,
//! the aliases of built-in modules from `modules.builtin.modinfo`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::names::{name_from_path, normalize, normalize_alias, NameMap, NameSet};

/// One line of `modules.dep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    /// Normalized module name.
    pub name: String,
    /// The file, relative to the module directory (or absolute) as written.
    pub path: PathBuf,
    /// Every module it needs (depmod lists the whole closure), names
    /// normalized, in modules.dep order: the last one is loaded first.
    pub deps: Vec<String>,
    /// The files of `deps`, as written.
    pub dep_paths: Vec<PathBuf>,
}

/// A `softdep` line: modules to load before and after one module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftDep {
    /// Names or aliases, loaded before the module (failures do not matter).
    pub pre: Vec<String>,
    /// Names or aliases, loaded after the module.
    pub post: Vec<String>,
}

impl SoftDep {
    /// Parses the words after `softdep MODULE`: `pre: a b post: c`. Words
    /// before any `pre:`/`post:` are returned in the error list.
    pub(crate) fn parse_words<'a>(words: impl Iterator<Item = &'a str>) -> (Self, Vec<&'a str>) {
        let mut sd = SoftDep::default();
        let mut stray = Vec::new();
        let mut target: Option<&mut Vec<String>> = None;
        for w in words {
            match w {
                "pre:" => target = Some(&mut sd.pre),
                "post:" => target = Some(&mut sd.post),
                _ => match target.as_deref_mut() {
                    Some(t) => t.push(w.to_owned()),
                    None => stray.push(w),
                },
            }
        }
        (sd, stray)
    }
}

/// The parsed module index of one kernel.
///
/// Built for boot speed: modules.dep is indexed by name with one allocation
/// per line and each entry is split only when asked for; modules.alias and
/// the built-in aliases go into an [`AliasTable`] bucketed by bus, because
/// coldplug looks up every device's modalias.
#[derive(Debug, Clone, Default)]
pub struct ModuleIndex {
    dep: String,
    /// Normalized name → byte offset of its line in `dep` (sorted by name).
    modules: Keyed,
    aliases: AliasTable,
    softdeps: NameMap<SoftDep>,
    builtin: NameSet,
    warnings: Vec<String>,
}

/// Names with a number each, sorted by name (equal names in the order they
/// were added) and looked up by binary search: modules.dep's names and the
/// alias table's keys. Built once per index; hash maps cost dist/init more
/// code (a copy of hashbrown per key and value type).
#[derive(Debug, Clone, Default)]
struct Keyed(Vec<(Box<str>, u32)>);

impl Keyed {
    fn push(&mut self, key: &str, value: u32) {
        self.0.push((key.into(), value));
    }

    /// Sorts what was pushed; stable, so equal keys keep their order.
    fn sort(&mut self) {
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// The values of `key`, in the order they were pushed.
    fn get<'a>(&'a self, key: &'a str) -> impl Iterator<Item = u32> + 'a {
        let from = self.0.partition_point(|(k, _)| **k < *key);
        self.0[from..]
            .iter()
            .take_while(move |(k, _)| **k == *key)
            .map(|&(_, v)| v)
    }
}

/// One alias pattern and the module it names.
#[derive(Debug, Clone)]
struct AliasEntry {
    /// Normalized with `normalize_alias`.
    pattern: Box<str>,
    /// The module: its index in [`AliasTable::modules`].
    module: u32,
    /// From `modules.builtin.modinfo`: the module is built into the kernel.
    builtin: bool,
}

/// `modules.alias` (and built-in aliases), parsed once.
///
/// A modalias is `bus:fields` (`pci:v00001AF4d00001001sv…`); Debian's 6.1
/// has 26,000 patterns, 97% of which start with a literal `bus:`. Those are
/// looked up by bus only; patterns without globs by exact text; the few
/// whose glob comes before any `:` (`acpi*:PNP0A03:*`) are tried whenever
/// the text starts with their literal prefix.
///
/// Parsing it is most of `init plan`'s time, so a line costs one
/// allocation (its pattern): modules.alias lists a module's aliases
/// together (2,600 runs in 26,000 lines), so each run stores its module
/// name once, and the patterns of the few dozen buses are kept in one
/// list per bus, in table order, with nothing to sort.
#[derive(Debug, Clone, Default)]
struct AliasTable {
    entries: Vec<AliasEntry>,
    /// Normalized module names, one per run of lines naming the same one.
    modules: Vec<Box<str>>,
    /// Glob-free patterns, by their whole text.
    exact: Keyed,
    /// Patterns with a literal `bus:` prefix: per bus, their entries.
    by_bus: Vec<(Box<str>, Vec<u32>)>,
    /// The `by_bus` index of the last pattern added.
    last_bus: usize,
    /// Patterns with a glob before any `:`: (literal prefix, entry).
    prefixed: Vec<(Box<str>, u32)>,
}

fn is_glob(b: u8) -> bool {
    matches!(b, b'*' | b'?' | b'[' | b'\\')
}

impl AliasTable {
    fn add(&mut self, pattern: &str, module: &str, builtin: bool) {
        let pattern = normalize_alias(pattern);
        let idx = self.entries.len() as u32;
        let glob_at = pattern.bytes().position(is_glob);
        let colon_at = pattern.find(':');
        match (glob_at, colon_at) {
            (None, _) => self.exact.push(&pattern, idx),
            (Some(g), Some(c)) if c < g => {
                let bus = &pattern[..c];
                // Mostly the bus of the line before: tried first.
                let at = if self
                    .by_bus
                    .get(self.last_bus)
                    .is_some_and(|(b, _)| **b == *bus)
                {
                    self.last_bus
                } else if let Some(at) = self.by_bus.iter().position(|(b, _)| **b == *bus) {
                    at
                } else {
                    self.by_bus.push((bus.into(), Vec::new()));
                    self.by_bus.len() - 1
                };
                self.by_bus[at].1.push(idx);
                self.last_bus = at;
            }
            (Some(g), _) => self.prefixed.push((pattern[..g].into(), idx)),
        }
        // The same module as the line before (`-` and `_` alike)?
        let same = self.modules.last().is_some_and(|last| {
            last.len() == module.len()
                && last
                    .bytes()
                    .zip(module.bytes())
                    .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
        });
        if !same {
            self.modules.push(normalize(module).into());
        }
        self.entries.push(AliasEntry {
            pattern: pattern.into(),
            module: self.modules.len() as u32 - 1,
            builtin,
        });
    }

    /// Sorts the keys of what was added, for [`Self::matches`].
    fn sort(&mut self) {
        self.exact.sort();
    }

    /// The module an entry names.
    fn module(&self, e: &AliasEntry) -> &str {
        &self.modules[e.module as usize]
    }

    /// Entries matching `text` (normalized), in table order.
    fn matches<'a>(&'a self, text: &'a str) -> impl Iterator<Item = &'a AliasEntry> + 'a {
        let mut candidates: Vec<u32> = Vec::new();
        candidates.extend(self.exact.get(text));
        if let Some((bus, _)) = text.split_once(':') {
            if let Some((_, list)) = self.by_bus.iter().find(|(b, _)| **b == *bus) {
                candidates.extend(list);
            }
        }
        candidates.extend(
            self.prefixed
                .iter()
                .filter(|(prefix, _)| text.starts_with(&**prefix))
                .map(|&(_, i)| i),
        );
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|i| &self.entries[i as usize])
            .filter(move |e| glob_match(e.pattern.as_bytes(), text.as_bytes()))
    }
}

/// What a name or alias stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A module with a file (in modules.dep).
    Module(String),
    /// A module built into the kernel.
    Builtin(String),
}

impl Resolved {
    /// The module's (normalized) name.
    pub fn name(&self) -> &str {
        match self {
            Resolved::Module(m) | Resolved::Builtin(m) => m,
        }
    }
}

impl ModuleIndex {
    /// Reads the index of the module directory `moddir`
    /// (`<root>/lib/modules/<kver>`). `modules.dep` must exist; the other
    /// files are optional.
    pub fn load(moddir: &Path) -> anyhow::Result<Self> {
        let dep_path = moddir.join("modules.dep");
        let dep = std::fs::read_to_string(&dep_path).with_context(|| {
            format!(
                "reading {} (run depmod for this kernel to create it)",
                dep_path.display()
            )
        })?;
        let optional = |name: &str| -> anyhow::Result<String> {
            let path = moddir.join(name);
            match std::fs::read(&path) {
                // Valid UTF-8 (always, from depmod) is taken as it is, uncopied.
                Ok(bytes) => Ok(String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
            }
        };
        let mut index = Self::default();
        index.parse_dep(dep);
        index.parse_alias(&optional("modules.alias")?);
        index.parse_softdep(&optional("modules.softdep")?);
        index.parse_builtin(&optional("modules.builtin")?);
        index.set_builtin_modinfo(&optional("modules.builtin.modinfo")?);
        Ok(index)
    }

    /// Parses the text of `modules.dep`, `modules.alias`, `modules.softdep`
    /// and `modules.builtin` (any may be empty). Malformed lines are skipped
    /// and listed in [`Self::warnings`].
    pub fn parse(dep: &str, alias: &str, softdep: &str, builtin: &str) -> Self {
        let mut index = Self::default();
        index.parse_dep(dep.to_owned());
        index.parse_alias(alias);
        index.parse_softdep(softdep);
        index.parse_builtin(builtin);
        index
    }

    fn parse_builtin(&mut self, builtin: &str) {
        self.builtin.extend(
            builtin
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(|line| name_from_path(Path::new(line))),
        );
    }

    fn parse_dep(&mut self, dep: String) {
        let mut offset = 0;
        for (n, raw) in dep.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += raw.len();
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((path, _)) = line.split_once(':') else {
                self.warnings.push(format!(
                    "modules.dep line {}: no ':' in {line:?}, skipped",
                    n + 1
                ));
                continue;
            };
            let Ok(start) = u32::try_from(start) else {
                break; // a modules.dep of 4 GiB is not one
            };
            self.modules
                .push(&name_from_path(Path::new(path.trim())), start);
        }
        self.modules.sort();
        // The first line of a name counts.
        self.modules.0.dedup_by(|a, b| a.0 == b.0);
        self.dep = dep;
    }

    fn parse_alias(&mut self, alias: &str) {
        for (n, line) in alias.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("alias"), Some(pattern), Some(module), None) => {
                    self.aliases.add(pattern, module, false);
                }
                _ => self.warnings.push(format!(
                    "modules.alias line {}: not 'alias PATTERN MODULE', skipped: {line:?}",
                    n + 1
                )),
            }
        }
        self.aliases.sort();
    }

    fn parse_softdep(&mut self, softdep: &str) {
        for (n, line) in softdep.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some("softdep"), Some(module)) = (words.next(), words.next()) else {
                self.warnings.push(format!(
                    "modules.softdep line {}: not 'softdep MODULE ...', skipped",
                    n + 1
                ));
                continue;
            };
            let (sd, stray) = SoftDep::parse_words(words);
            if !stray.is_empty() {
                // Debian's kernels carry lines like `softdep cifs gcm`, which
                // kmod ignores too.
                self.warnings.push(format!(
                    "modules.softdep line {}: words outside pre:/post: ignored: {}",
                    n + 1,
                    stray.join(" ")
                ));
            }
            // The first line of a module counts, as with kmod (Debian's
            // btrfs has four; kmod loads only the first's blake2b-256).
            let name = normalize(module);
            if sd.pre.is_empty() && sd.post.is_empty() || self.softdeps.get(&name).is_some() {
                continue;
            }
            *self.softdeps.entry(name) = sd;
        }
    }

    /// Adds the aliases of built-in modules from the text of
    /// `modules.builtin.modinfo` (NUL-separated `module.key=value` records).
    pub fn set_builtin_modinfo(&mut self, modinfo: &str) {
        for record in modinfo.split('\0') {
            if let Some((module, rest)) = record.split_once('.') {
                if let Some(pattern) = rest.strip_prefix("alias=") {
                    self.aliases.add(pattern, module, true);
                }
            }
        }
        self.aliases.sort();
    }

    /// The modules.dep entry for a (normalized) module name.
    pub fn module(&self, name: &str) -> Option<ModuleEntry> {
        let start = self.modules.get(&normalize(name)).next()?;
        let line = self.dep[start as usize..].lines().next()?;
        let (path, deps) = line.trim().split_once(':')?;
        let dep_paths: Vec<PathBuf> = deps.split_whitespace().map(PathBuf::from).collect();
        let path = PathBuf::from(path.trim());
        Some(ModuleEntry {
            name: name_from_path(&path),
            path,
            deps: dep_paths.iter().map(|p| name_from_path(p)).collect(),
            dep_paths,
        })
    }

    /// Whether a module is built into the kernel.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    /// The softdep line of a module, from modules.softdep.
    pub fn softdep(&self, name: &str) -> Option<&SoftDep> {
        self.softdeps.get(&normalize(name))
    }

    /// Modules matching an alias, in file order, each once: those of
    /// modules.alias, or when none matches there, the built-in modules'
    /// aliases (kmod looks the latter up only then). `alias` may be a
    /// device's modalias.
    pub fn aliases(&self, alias: &str) -> Vec<Resolved> {
        let alias = normalize_alias(alias);
        let mut out: Vec<Resolved> = Vec::new();
        let matches: Vec<&AliasEntry> = self.aliases.matches(&alias).collect();
        let files = matches.iter().any(|e| !e.builtin);
        for e in matches.into_iter().filter(|e| !(files && e.builtin)) {
            let module = self.aliases.module(e).to_owned();
            // Built-in: from modules.builtin.modinfo, or named by
            // modules.alias with no file but a modules.builtin line.
            let r = if e.builtin
                || (self.modules.get(&module).next().is_none() && self.builtin.contains(&module))
            {
                Resolved::Builtin(module)
            } else {
                Resolved::Module(module)
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// What `name` stands for, in kmod's order: a module file, then
    /// modules.alias, then built-in modules' aliases, then a built-in
    /// module's name (Debian's `crc32` is both an alias of two modules and
    /// a built-in module: kmod loads the modules). Empty when nothing
    /// matches.
    pub fn resolve(&self, name: &str) -> Vec<Resolved> {
        let n = normalize(name);
        if self.modules.get(&n).next().is_some() {
            return vec![Resolved::Module(n)];
        }
        let aliased = self.aliases(name);
        if aliased.is_empty() && self.builtin.contains(&n) {
            return vec![Resolved::Builtin(n)];
        }
        aliased
    }

    /// Number of modules with a file.
    pub fn len(&self) -> usize {
        self.modules.0.len()
    }

    /// Whether modules.dep named no module.
    pub fn is_empty(&self) -> bool {
        self.modules.0.is_empty()
    }

    /// Lines that could not be parsed.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// `fnmatch(3)` without flags: `*`, `?`, `[...]` with ranges and `!`/`^`
/// negation; `\` escapes the next character. Matching is on normalized
/// names: a literal `-` in the pattern (outside `[...]`) matches `_`, so
/// `text` should be normalized with `normalize_alias`.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match match_class(pattern, p, text[t]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                // An unclosed `[` matches itself.
                None => (text[t] == b'[').then_some(p + 1),
            },
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == text[t]).then_some(p + 2),
            Some(&c) => (c == text[t] || (c == b'-' && text[t] == b'_')).then_some(p + 1),
            None => None,
        };
        match step {
            Some(next) => {
                p = next;
                t += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    p = sp;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[start] == '['`:
/// `Some((matched, index after ']'))`, or `None` when there is no `]`.
fn match_class(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pattern.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pattern[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Pasted from Debian's 6.1.0-56-amd64 (depmod output).
    const DEP: &str = "\
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/fs/squashfs/squashfs.ko:
kernel/fs/overlayfs/overlay.ko:
kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko
kernel/crypto/crc32c_generic.ko:
kernel/lib/libcrc32c.ko:
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/loop.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/md/dm-mod.ko.xz:
";
    const ALIAS: &str = "\
# Aliases extracted from modules themselves.
alias cpu:type:x86,ven0000fam0006mod0086:feature:* intel_uncore
alias crypto-crc32c-intel crc32c_intel
alias crypto-crc32c crc32c_intel
alias fs-squashfs squashfs
alias crypto-crc32c-generic crc32c_generic
alias crypto-crc32c crc32c_generic
alias virtio:d00000004v* virtio_rng
alias virtio:d00000001v* virtio_net
alias devname:mapper/control dm_mod
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci
";
    const SOFTDEP: &str = "\
# Soft dependencies extracted from modules themselves.
softdep ext4 pre: crypto-crc32c
softdep cifs gcm
softdep virtio_net pre: crc32c-generic post: loop
softdep virtio_net pre: dm-mod
";
    const BUILTIN: &str = "\
kernel/drivers/virtio/virtio_pci.ko
kernel/fs/ext4/ext4.ko
";

    fn index() -> ModuleIndex {
        ModuleIndex::parse(DEP, ALIAS, SOFTDEP, BUILTIN)
    }

    #[test]
    fn dep_lines() {
        let i = index();
        let e = i.module("virtio_net").unwrap();
        assert_eq!(e.path, Path::new("kernel/drivers/net/virtio_net.ko"));
        assert_eq!(
            e.deps,
            ["net_failover", "failover", "virtio", "virtio_ring"]
        );
        assert_eq!(
            i.module("dm-mod").unwrap().path,
            Path::new("kernel/drivers/md/dm-mod.ko.xz")
        );
        assert_eq!(
            i.module("virtio_rng").unwrap().deps,
            ["virtio", "virtio_ring"]
        );
        // a dependency with no line of its own: known only by its path
        // (the planner uses it)
        assert!(i.module("virtio").is_none());
        assert_eq!(
            i.module("virtio_rng").unwrap().dep_paths[0],
            Path::new("kernel/drivers/virtio/virtio.ko")
        );
        assert!(i.module("nope").is_none());
        assert_eq!(i.len(), 12);
    }

    #[test]
    fn aliases_and_builtin() {
        let i = index();
        assert_eq!(
            i.resolve("fs-squashfs"),
            [Resolved::Module("squashfs".into())]
        );
        assert_eq!(
            i.resolve("crypto-crc32c"),
            [
                Resolved::Module("crc32c_intel".into()),
                Resolved::Module("crc32c_generic".into())
            ]
        );
        assert_eq!(
            i.resolve("virtio:d00000001v00001AF4"),
            [Resolved::Module("virtio_net".into())]
        );
        // alias to a built-in module
        assert_eq!(
            i.resolve("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"),
            [Resolved::Builtin("virtio_pci".into())]
        );
        assert_eq!(
            i.resolve("virtio-pci"),
            [Resolved::Builtin("virtio_pci".into())]
        );
        assert!(i.is_builtin("ext4"));
        assert!(i.resolve("nothing").is_empty());
        assert_eq!(i.resolve("dm_mod"), [Resolved::Module("dm_mod".into())]);
    }

    #[test]
    fn softdeps() {
        let i = index();
        assert_eq!(i.softdep("ext4").unwrap().pre, ["crypto-crc32c"]);
        let sd = i.softdep("virtio-net").unwrap();
        assert_eq!(sd.pre, ["crc32c-generic"]);
        assert_eq!(sd.post, ["loop"], "the first line of a module counts");
        assert!(i.softdep("cifs").is_none());
        assert_eq!(i.warnings().len(), 1, "{:?}", i.warnings());
        assert!(i.warnings()[0].contains("gcm"));
    }

    #[test]
    fn malformed_lines_warn() {
        let i = ModuleIndex::parse("no colon here\n", "alias only\n", "softdep\n", "");
        assert_eq!(i.warnings().len(), 3, "{:?}", i.warnings());
        assert!(i.warnings()[1].starts_with("modules.alias line 1: not 'alias PATTERN MODULE'"));
        assert!(i.aliases("only").is_empty());
        assert!(i.is_empty());
    }

    #[test]
    fn builtin_modinfo() {
        let mut i = ModuleIndex::parse("", "", "", "kernel/fs/ext4/ext4.ko\n");
        i.set_builtin_modinfo("ext4.license=GPL\0ext4.alias=fs-ext4\0ext4.alias=ext3\0crc32c_generic.alias=crypto-crc32c\0");
        assert_eq!(i.resolve("fs-ext4"), [Resolved::Builtin("ext4".into())]);
        assert_eq!(
            i.resolve("crypto-crc32c"),
            [Resolved::Builtin("crc32c_generic".into())]
        );
    }

    #[test]
    fn load_requires_modules_dep() {
        let dir = std::env::temp_dir().join(format!("stage1-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = ModuleIndex::load(&dir).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("modules.dep") && msg.contains("run depmod"),
            "{msg}"
        );
        std::fs::write(dir.join("modules.dep"), DEP).unwrap();
        let i = ModuleIndex::load(&dir).unwrap();
        assert_eq!(i.len(), 12);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m("virtio:d00000001v*", "virtio:d00000001v00001AF4"));
        assert!(!m("virtio:d00000001v*", "virtio:d00000002v00001AF4"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("a?c", "abc"));
        assert!(m("sc[0-9]x", "sc5x"));
        assert!(!m("sc[!0-9]x", "sc5x"));
        assert!(m("sc[!0-9]x", "scax"));
        assert!(m("[]]", "]"));
        assert!(m("a[", "a["));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m(
            "pci:v*d*sv*sd*bc01sc*i*",
            "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(dep in "\\PC*", alias in "\\PC*", sd in "\\PC*", b in "\\PC*") {
            let i = ModuleIndex::parse(&dep, &alias, &sd, &b);
            let _ = i.resolve(&alias);
        }

        #[test]
        fn glob_never_panics(p in "[a-c*?\\[\\]!\\-\\\\]{0,12}", t in "[a-c\\[\\]\\-]{0,12}") {
            let _ = glob_match(p.as_bytes(), t.as_bytes());
        }

        #[test]
        fn literal_globs_match_themselves(t in "[a-zA-Z0-9:_,]{0,20}") {
            prop_assert!(glob_match(t.as_bytes(), t.as_bytes()));
            let star = t.clone() + "*";
            let longer = t.clone() + "xyz";
            prop_assert!(glob_match(star.as_bytes(), longer.as_bytes()));
        }

        /// Lines rendered in depmod's format parse back to the same entries.
        #[test]
        fn dep_round_trips(mods in proptest::collection::btree_map("[a-z][a-z0-9_]{0,8}", proptest::collection::vec("[a-z][a-z0-9_]{0,8}", 0..4), 0..8)) {
            let mut text = String::new();
            for (m, deps) in &mods {
                text.push_str("kernel/");
                text.push_str(m);
                text.push_str(".ko:");
                for d in deps {
                    text.push_str(" kernel/dep/");
                    text.push_str(d);
                    text.push_str(".ko.xz");
                }
                text.push('\n');
            }
            let i = ModuleIndex::parse(&text, "", "", "");
            for (m, deps) in &mods {
                let e = i.module(m).unwrap();
                prop_assert_eq!(&e.deps, deps);
                prop_assert_eq!(e.path.clone(), PathBuf::from(format!("kernel/{m}.ko")));
            }
        }
    }
}
