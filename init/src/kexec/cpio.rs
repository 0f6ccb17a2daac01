//! The newc ("070701") cpio writer, and the archive `--carry-ssh-keys`
//! appends to the initrd: the only bytes `init kexec` writes that another
//! program (the next kernel's initramfs unpacker) reads. Pure functions,
//! tested byte for byte and against GNU cpio.
use std::io::Write as _;

/// Where the keys are in the appended archive (stage-1's
/// `stage1::handover::HANDOVER_DIR` is its first component).
pub const HANDOVER_KEYS: &str = ".init-handover/root/.ssh/authorized_keys";

/// Where `--carry-network` puts its file (`net::carry::FILE`).
pub const HANDOVER_NETWORK: &str = ".init-handover/network";

/// What `--carry-ssh-keys` and `--carry-network` append to an initrd of
/// `initrd_len` bytes: NUL bytes up to a multiple of 4 (the kernel skips
/// NULs between archives, and looks for a cpio header only at 4-byte
/// offsets), then a newc archive with `keys` as [`HANDOVER_KEYS`] and
/// `network` as [`HANDOVER_NETWORK`] (directories 0700, files 0600, owner
/// root, mtime 0).
pub fn handover_tail(initrd_len: u64, keys: Option<&[u8]>, network: Option<&[u8]>) -> Vec<u8> {
    let mut out = vec![0; ((4 - initrd_len % 4) % 4) as usize];
    let dir = |name| Entry {
        name,
        mode: 0o040_700,
        data: &[],
    };
    let file = |name, data| Entry {
        name,
        mode: 0o100_600,
        data,
    };
    let mut entries = vec![dir(".init-handover")];
    if let Some(keys) = keys {
        entries.push(dir(".init-handover/root"));
        entries.push(dir(".init-handover/root/.ssh"));
        entries.push(file(HANDOVER_KEYS, keys));
    }
    if let Some(network) = network {
        entries.push(file(HANDOVER_NETWORK, network));
    }
    out.extend(newc_archive(&entries));
    out
}

/// One member of a newc archive; `mode` includes the file type bits.
pub struct Entry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub data: &'a [u8],
}

/// A newc ("070701") cpio archive of `entries`, then `TRAILER!!!`; inode
/// numbers count from 1, uid/gid/mtime are 0. Its length is a multiple of 4.
pub fn newc_archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let nlink = if e.mode & 0o170_000 == 0o040_000 {
            2
        } else {
            1
        };
        newc_member(&mut out, i as u32 + 1, e.mode, nlink, e.name, e.data);
    }
    newc_member(&mut out, 0, 0, 1, "TRAILER!!!", &[]);
    out
}

fn newc_member(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) {
    let pad = |out: &mut Vec<u8>| out.resize(out.len().next_multiple_of(4), 0);
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
    // rdevminor namesize check
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{f:08X}");
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A newc member, field by field: "070701", 13 fields of 8 hex digits,
    /// the name with its NUL padded to 4, the data padded to 4.
    #[test]
    fn newc_golden_bytes() {
        let archive = newc_archive(&[Entry {
            name: "ab",
            mode: 0o100_600,
            data: b"xyz",
        }]);
        let member = concat!(
            "070701",
            "00000001", // ino
            "00008180", // mode 0100600
            "00000000", // uid
            "00000000", // gid
            "00000001", // nlink
            "00000000", // mtime
            "00000003", // filesize
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000003",   // namesize: "ab\0"
            "00000000",   // check
            "ab\0\0\0\0", // 110 + 3 -> 116 bytes
            "xyz\0",
        );
        let trailer = concat!(
            "070701",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000001",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "0000000B",
            "00000000",
            "TRAILER!!!\0\0\0\0", // 110 + 11 -> 124 bytes
        );
        assert_eq!(
            String::from_utf8(archive).unwrap(),
            format!("{member}{trailer}")
        );
    }

    #[test]
    fn handover_tail_starts_at_a_4_byte_boundary() {
        let keys = b"no-pty,command=\"true\" ssh-ed25519 AAAAC3 test@host\n";
        for len in 0..8u64 {
            let tail = handover_tail(len, Some(keys), None);
            let pad = ((4 - len % 4) % 4) as usize;
            assert!(tail[..pad].iter().all(|&b| b == 0));
            assert_eq!(&tail[pad..pad + 6], b"070701");
            assert_eq!((len as usize + tail.len()) % 4, 0);
        }
        let tail = handover_tail(0, Some(keys), None);
        let at = tail
            .windows(HANDOVER_KEYS.len())
            .position(|w| w == HANDOVER_KEYS.as_bytes())
            .expect("the keys' name");
        let data = (at + HANDOVER_KEYS.len() + 1).next_multiple_of(4);
        assert_eq!(&tail[data..data + keys.len()], keys);
    }

    /// GNU cpio reads the archive back: names, modes and bytes.
    #[test]
    fn gnu_cpio_extracts_the_handover() {
        let dir = std::env::temp_dir().join(format!("init-kexec-cpio-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let keys = b"from=\"10.0.0.1\" ssh-rsa AAAAB3 a@b\nssh-ed25519 AAAAC3 c@d\n";
        let cpio = std::process::Command::new("cpio")
            .args(["-idm", "--quiet"])
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .spawn();
        let Ok(mut cpio) = cpio else {
            fs::remove_dir_all(&dir).unwrap();
            let why = "SKIPPING gnu_cpio_extracts_the_handover: no cpio on PATH";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("{why}");
            return;
        };
        cpio.stdin
            .take()
            .unwrap()
            .write_all(&handover_tail(0, Some(keys), Some(b"hostname h\n")))
            .unwrap();
        assert!(cpio.wait().unwrap().success());
        let f = dir.join(HANDOVER_KEYS);
        assert_eq!(fs::read(&f).unwrap(), keys);
        assert_eq!(
            fs::read(dir.join(HANDOVER_NETWORK)).unwrap(),
            b"hostname h\n"
        );
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        let d = dir.join(".init-handover/root/.ssh");
        assert_eq!(
            fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
