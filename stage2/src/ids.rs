//! User and group names from `passwd(5)` / `group(5)` text (no NSS: PID 1 is static).

use std::path::Path;

/// The numeric id in field 3 of the line whose first field is `name`, in `passwd` or `group`
/// text (both put the id third).
pub fn lookup(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != name {
                return None;
            }
            fields.nth(1)?.trim().parse().ok()
        })
}

/// [`lookup`] in the file at `path`; a missing or unreadable file finds nothing.
pub fn lookup_in(path: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    lookup(&text, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_and_groups() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\n# c\nsshd:x:498:65534::/var/empty:/bin/nologin\n";
        let group = "root:x:0:\ntty:x:3:\nbad:x:zz:\n";
        assert_eq!(lookup(passwd, "sshd"), Some(498));
        assert_eq!(lookup(passwd, "root"), Some(0));
        assert_eq!(lookup(passwd, "ssh"), None);
        assert_eq!(lookup(group, "tty"), Some(3));
        assert_eq!(lookup(group, "bad"), None);
        assert_eq!(lookup_in(Path::new("/nonexistent/group"), "tty"), None);
    }
}
