//! Checks of values and names that cost nothing at parse time and save a
//! boot: a misspelled parameter of ours is named with the one it is
//! probably meant to be, a value that can never work says what would.

/// Every parameter of our own namespaces (`boot.`, `rd.`), normalized: an
/// unknown name there is most likely one of these misspelled.
const OURS: [&str; 14] = [
    "boot.coldplug",
    "boot.debug1",
    "boot.debug1devices",
    "boot.debug1mounts",
    "boot.debug_panic",
    "boot.module_threads",
    "boot.panic_on_fail",
    "boot.root_timeout",
    "boot.shell_on_fail",
    "boot.stop_timeout",
    "boot.tmpfs_size",
    "boot.trace",
    "rd.driver.blacklist",
    "rd.modules_load",
];

/// Further than this many edits, a suggestion would be a guess.
const MAX_EDITS: usize = 3;

/// The warning for `key` (normalized), an unknown name in our namespaces;
/// `None` for a name outside them, which belongs to the kernel or to
/// another program.
pub(super) fn unknown_name(raw_name: &str, key: &str) -> Option<String> {
    if !(key.starts_with("boot.") || key.starts_with("rd.")) {
        return None;
    }
    let (edits, near) = OURS
        .iter()
        .map(|known| (distance(key, known), known))
        .min()
        .expect("OURS is not empty");
    Some(if edits <= MAX_EDITS {
        format!("{raw_name}: unknown parameter, ignored; did you mean {near}?")
    } else {
        format!("{raw_name}: not a parameter of this init, ignored")
    })
}

/// Levenshtein distance over bytes (our names are ASCII), one row of
/// the table at a time.
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.as_bytes().iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let replace = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = replace.min(diagonal + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// A tmpfs `size=` the kernel takes (`shmem_parse_one` with `memparse`): a
/// decimal or `0x` hex number, an optional `k`/`m`/`g`/`t`/`p`/`e`
/// suffix, and an optional `%` (of RAM).
pub(super) fn is_tmpfs_size(v: &str) -> bool {
    let (digits, radix) = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (v, 10),
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let rest = &digits[end..];
    let rest = rest.strip_suffix('%').unwrap_or(rest);
    end > 0 && rest.len() <= 1 && "kKmMgGtTpPeE".contains(rest)
}

/// Whether `v` is groups of hex digits of these lengths joined by `-`
/// (`[8, 4, 4, 4, 12]`: a UUID as blkid prints it).
pub(super) fn hex_groups(v: &str, lengths: &[usize]) -> bool {
    let mut groups = v.split('-');
    lengths.iter().all(|&n| {
        groups
            .next()
            .is_some_and(|g| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
    }) && groups.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("boot.shel_on_fail", "boot.shell_on_fail"), 1);
        assert_eq!(distance("boot.trcae", "boot.trace"), 2);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn our_names_are_known_to_the_parser() {
        for name in OURS {
            let b = super::super::BootParams::parse(&format!("{name}=1"));
            assert!(
                b.unknown.is_empty(),
                "{name} is not parsed: {:?}",
                b.unknown
            );
        }
    }

    #[test]
    fn tmpfs_sizes() {
        for ok in [
            "512M", "50%", "1g", "0", "1048576", "0x100000", "2k%", "0x1e",
        ] {
            assert!(is_tmpfs_size(ok), "{ok}");
        }
        for bad in [
            "-5", "", "M", "%", "50%%", "1.5G", "512MB", "0x", "1 G", "5x",
        ] {
            assert!(!is_tmpfs_size(bad), "{bad}");
        }
    }

    #[test]
    fn uuid_shapes() {
        const UUID: &[usize] = &[8, 4, 4, 4, 12];
        assert!(hex_groups("0a1B2c3d-4e5f-6789-abcd-ef0123456789", UUID));
        assert!(!hex_groups("zz", UUID));
        assert!(!hex_groups("0a1b2c3d-4e5f-6789-abcd-ef012345678", UUID));
        assert!(!hex_groups("0a1b2c3d-4e5f-6789-abcd-ef0123456789-00", UUID));
        assert!(hex_groups("1234abcd-01", &[8, 2]));
        assert!(!hex_groups("", &[8, 2]));
    }
}
