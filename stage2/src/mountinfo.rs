//! `/proc/self/mountinfo`, parsed apart from reading it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One line of `/proc/self/mountinfo` (see proc(5)), the fields stage-2 needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Field 5: where it is mounted, relative to the reader's root, unescaped.
    pub mount_point: PathBuf,
    /// The filesystem type after the `-` separator (`tmpfs`, `proc`, ...).
    pub fs_type: String,
    /// The mount source after the filesystem type, unescaped.
    pub source: String,
    /// Per-superblock options (`rw,mode=620,ptmxmode=666`).
    pub super_options: String,
}

/// The current mount table, in mount order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountTable(pub Vec<MountEntry>);

impl MountTable {
    /// Parse the text of a mountinfo file. Malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        MountTable(text.lines().filter_map(parse_line).collect())
    }

    /// Read `/proc/self/mountinfo`.
    pub fn read() -> Result<Self> {
        Self::read_from(Path::new("/proc/self/mountinfo"))
    }

    /// Read a mountinfo file at `path`.
    pub fn read_from(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        Ok(Self::parse(&text))
    }

    /// Whether something is mounted exactly at `path`.
    pub fn is_mount_point(&self, path: &Path) -> bool {
        self.0.iter().any(|m| m.mount_point == path)
    }

    /// The mount visible at `path` (the last mounted one when several are stacked).
    pub fn at(&self, path: &Path) -> Option<&MountEntry> {
        self.0.iter().rev().find(|m| m.mount_point == path)
    }

    /// The mount that contains `path`: the last entry whose mount point is the longest
    /// component-wise prefix of `path`.
    pub fn containing(&self, path: &Path) -> Option<&MountEntry> {
        // `max_by_key` keeps the last of equal keys: the mount on top of a stack.
        self.0
            .iter()
            .filter(|m| path.starts_with(&m.mount_point))
            .max_by_key(|m| m.mount_point.components().count())
    }

    /// How many mounts are at or below `path`.
    pub fn count_under(&self, path: &Path) -> usize {
        self.0
            .iter()
            .filter(|m| m.mount_point.starts_with(path))
            .count()
    }
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let fs_type = right.next()?;
    let source = right.next()?;
    let super_options = right.next().unwrap_or("");
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(mount_point)),
        fs_type: fs_type.to_owned(),
        source: unescape(source),
        super_options: super_options.to_owned(),
    })
}

/// Undo the kernel's octal escaping (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12331664k,nr_inodes=3082916,mode=755
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
63 27 0:39 / /tmp/my\\040root rw,relatime shared:5 - tmpfs none rw
64 63 0:40 / /tmp/my\\040root/proc rw,relatime - proc proc rw
garbage line
";

    #[test]
    fn parses_fields_and_unescapes() {
        let t = MountTable::parse(SAMPLE);
        assert_eq!(t.0.len(), 6);
        assert_eq!(t.0[2].fs_type, "devpts");
        assert_eq!(t.0[2].super_options, "rw,mode=600,ptmxmode=000");
        assert_eq!(t.0[3].source, "/dev/vda");
        assert_eq!(t.0[4].mount_point, Path::new("/tmp/my root"));
        assert!(t.is_mount_point(Path::new("/dev/pts")));
        assert!(!t.is_mount_point(Path::new("/dev/shm")));
    }

    #[test]
    fn containing_picks_longest_prefix() {
        let t = MountTable::parse(SAMPLE);
        assert_eq!(
            t.containing(Path::new("/tmp/my root/x")).unwrap().fs_type,
            "tmpfs"
        );
        assert_eq!(
            t.containing(Path::new("/tmp/my rootx")).unwrap().fs_type,
            "ext4"
        );
        assert_eq!(t.containing(Path::new("/proc/1")).unwrap().fs_type, "proc");
        assert_eq!(t.count_under(Path::new("/tmp/my root")), 2);
    }

    #[test]
    fn unescape_leaves_bad_escapes() {
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("a\\9"), "a\\9");
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
