//! Module names as the kernel compares them: `-` and `_` alike, every name
//! handed out normalized to `_`. A leaf, so the index, the configuration
//! and the plan can all use it without importing each other.
use std::path::Path;

/// A set of names (modules, modaliases) as a sorted Vec searched by
/// binary search. stage-1's sets are built once or grow by a few names per
/// uevent; a hash set's own code cost dist/init more than it saves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameSet(Vec<String>);

impl NameSet {
    /// Adds `name`; false if it was there.
    pub fn insert(&mut self, name: String) -> bool {
        match self.0.binary_search(&name) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, name);
                true
            }
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.binary_search_by(|n| n.as_str().cmp(name)).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Many names at once (modules.builtin): appended, then sorted once.
impl Extend<String> for NameSet {
    fn extend<I: IntoIterator<Item = String>>(&mut self, names: I) {
        self.0.extend(names);
        self.0.sort();
        self.0.dedup();
    }
}

impl FromIterator<String> for NameSet {
    fn from_iter<I: IntoIterator<Item = String>>(names: I) -> Self {
        let mut set = NameSet::default();
        set.extend(names);
        set
    }
}

/// Values by (normalized) module name, for the few names the configuration,
/// modules.softdep and the command line mention, in the order they came:
/// searched in a Vec, not hashed; a map type per value type cost dist/init
/// more than the search ever takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMap<V>(Vec<(String, V)>);

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> NameMap<V> {
    pub fn get(&self, name: &str) -> Option<&V> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The names, in the order they were added.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(n, _)| n)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `name`, a default one added when there is none.
    pub fn entry(&mut self, name: String) -> &mut V
    where
        V: Default,
    {
        let at = if let Some(at) = self.0.iter().position(|(n, _)| *n == name) {
            at
        } else {
            self.0.push((name, V::default()));
            self.0.len() - 1
        };
        &mut self.0[at].1
    }
}

/// A module or alias name with `-` replaced by `_`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// An alias pattern normalized like kmod does: `-` becomes `_`, except
/// inside `[...]` where it is a range.
pub(crate) fn normalize_alias(alias: &str) -> String {
    // By bytes, copying the runs between replaced dashes: the index
    // normalizes 26,000 patterns per boot, and `-`, `[` and `]` are ASCII,
    // so a byte never splits a character.
    let mut out = String::with_capacity(alias.len());
    let mut in_bracket = false;
    let mut from = 0;
    for (i, b) in alias.bytes().enumerate() {
        match b {
            b'[' => in_bracket = true,
            b']' => in_bracket = false,
            b'-' if !in_bracket => {
                out.push_str(&alias[from..i]);
                out.push('_');
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push_str(&alias[from..]);
    out
}

/// The module name of a file: the base name without `.ko` and a compression
/// suffix, normalized (`kernel/drivers/md/dm-mod.ko.xz` is `dm_mod`).
pub fn name_from_path(path: &Path) -> String {
    let base = path
        .file_name()
        .map(|b| b.to_string_lossy())
        .unwrap_or_default();
    let base = base.as_ref();
    let stem = [".ko.xz", ".ko.zst", ".ko.gz", ".ko"]
        .iter()
        .find_map(|suffix| base.strip_suffix(suffix))
        .unwrap_or(base);
    normalize(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_set_keeps_each_name_once() {
        let mut set: NameSet = ["pci:b".to_owned(), "pci:a".into(), "pci:b".into()]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
        assert!(set.insert("acpi:x".into()));
        assert!(!set.insert("pci:a".into()));
        set.extend(["virtio:d1".to_owned(), "acpi:x".into()]);
        assert_eq!(set.len(), 4);
        for name in ["pci:a", "pci:b", "acpi:x", "virtio:d1"] {
            assert!(set.contains(name), "{name}");
        }
        assert!(!set.contains("pci:"));
        assert!(!NameSet::default().contains(""));
    }

    #[test]
    fn name_map_adds_once_and_finds() {
        let mut m: NameMap<Vec<&str>> = NameMap::default();
        m.entry("virtio_net".into()).push("napi_tx=1");
        m.entry("loop".into()).push("max_loop=8");
        m.entry("virtio_net".into()).push("csum=0");
        assert_eq!(m.get("virtio_net"), Some(&vec!["napi_tx=1", "csum=0"]));
        assert_eq!(m.get("loop"), Some(&vec!["max_loop=8"]));
        assert_eq!(m.get("ext4"), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            name_from_path(Path::new("kernel/drivers/md/dm-mod.ko")),
            "dm_mod"
        );
        assert_eq!(
            name_from_path(Path::new("a/virtio-rng.ko.xz")),
            "virtio_rng"
        );
        assert_eq!(name_from_path(Path::new("x.ko.zst")), "x");
        assert_eq!(name_from_path(Path::new("x.ko.gz")), "x");
        assert_eq!(name_from_path(Path::new("weird")), "weird");
        assert_eq!(normalize("dm-mod"), "dm_mod");
        assert_eq!(
            normalize_alias("pci:v*d*sv*sd*bc01sc[0-9]i-x"),
            "pci:v*d*sv*sd*bc01sc[0-9]i_x"
        );
        assert_eq!(normalize_alias("fs-squashfs"), "fs_squashfs");
    }
}
