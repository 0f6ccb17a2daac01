//! Checks of names and values that are cheap at parse time and save a
//! boot: a misspelled parameter of ours is named with the one it is
//! probably meant to be, a value that can never work says what would.

/// Every parameter of our own namespaces (`boot.`, `rd.`), normalized: an
/// unknown name there is most likely one of these misspelled. One string,
/// not an array of them: no table of pointers in the binary.
pub(super) const OURS: &str = "boot.coldplug boot.debug1 boot.debug1devices boot.debug1mounts \
    boot.debug_panic boot.module_threads boot.panic_on_fail boot.power_button boot.require_sha256 boot.root_timeout boot.shell_on_fail \
    boot.stop_timeout boot.tmpfs_size boot.trace boot.xchg rd.driver.blacklist rd.modules_load";

/// Further than this many edits, a suggestion would be a guess.
const MAX_EDITS: usize = 3;

/// The warning for `key` (normalized), an unknown name in our namespaces;
/// `None` for a name outside them, which belongs to the kernel or to
/// another program.
pub(super) fn unknown_name(raw_name: &str, key: &str) -> Option<String> {
    if !(key.starts_with("boot.") || key.starts_with("rd.")) {
        return None;
    }
    let mut warning = raw_name.to_owned();
    warning.push_str(": unknown parameter, ignored");
    let mut best = (MAX_EDITS + 1, "");
    for known in OURS.split(' ') {
        let edits = distance(key.as_bytes(), known.as_bytes());
        if edits < best.0 {
            best = (edits, known);
        }
    }
    if !best.1.is_empty() {
        warning.push_str("; did you mean ");
        warning.push_str(best.1);
        warning.push('?');
    }
    Some(warning)
}

/// The longest name in [`OURS`], and then some: the row of the table.
const ROW: usize = 24;

/// Levenshtein distance from `a` to `b` (one of [`OURS`]: shorter than
/// [`ROW`]), over bytes (our names are ASCII), one row of the table at a
/// time and on the stack.
fn distance(a: &[u8], b: &[u8]) -> usize {
    let b = &b[..b.len().min(ROW - 1)];
    let mut row = [0; ROW];
    for (j, cell) in row.iter_mut().enumerate() {
        *cell = j;
    }
    for (i, &x) in a.iter().enumerate() {
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
    let v = v.strip_suffix('%').unwrap_or(v);
    let (digits, is_digit): (_, fn(&u8) -> bool) =
        match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => (hex, u8::is_ascii_hexdigit),
            None => (v, u8::is_ascii_digit),
        };
    let n = digits.bytes().take_while(is_digit).count();
    let suffix = &digits[n..];
    n > 0 && suffix.len() <= 1 && "kKmMgGtTpPeE".contains(suffix)
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
        let d = |a: &str, b: &str| distance(a.as_bytes(), b.as_bytes());
        assert_eq!(d("", ""), 0);
        assert_eq!(d("boot.shel_on_fail", "boot.shell_on_fail"), 1);
        assert_eq!(d("boot.trcae", "boot.trace"), 2);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("kitten", "sitting"), 3);
    }

    #[test]
    fn our_names_are_known_to_the_parser() {
        for name in OURS.split(' ') {
            assert!(name.len() < ROW, "{name}: longer than a row");
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
