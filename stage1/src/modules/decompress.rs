//! Compressed modules (`.ko.gz`, `.ko.xz`, `.ko.zst`), decompressed in
//! memory when the kernel cannot do it itself.
//!
//! Each algorithm is behind a cargo feature (`gzip`, `xz`, `zstd`, all on by
//! default) so a build that knows its kernel's module format can leave the
//! others out.

use std::fmt;
use std::path::Path;

/// A module compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
}

/// Refuse to inflate a module past this size (the largest in-tree modules
/// are a few tens of MiB).
#[cfg(any(feature = "gzip", feature = "xz", feature = "zstd"))]
const MAX_MODULE_SIZE: usize = 512 << 20;

impl Compression {
    /// By file name: `.gz`, `.xz`, `.zst`.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "gz" => Some(Self::Gzip),
            "xz" => Some(Self::Xz),
            "zst" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// By the first bytes of the data.
    pub fn from_magic(data: &[u8]) -> Option<Self> {
        if data.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Self::Xz)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else {
            None
        }
    }

    /// The name the kernel shows in `/sys/module/compression`.
    pub fn sysfs_name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
        }
    }

    /// Parses the content of `/sys/module/compression`.
    pub fn from_sysfs(text: &str) -> Option<Self> {
        match text.trim() {
            "gzip" => Some(Self::Gzip),
            "xz" => Some(Self::Xz),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// Whether this build can decompress the format.
    pub fn supported(self) -> bool {
        match self {
            Self::Gzip => cfg!(feature = "gzip"),
            Self::Xz => cfg!(feature = "xz"),
            Self::Zstd => cfg!(feature = "zstd"),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sysfs_name())
    }
}

/// Decompresses a whole module image.
pub fn decompress(format: Compression, data: &[u8]) -> Result<Vec<u8>, String> {
    if Compression::from_magic(data) != Some(format) {
        return Err(format!("not {format} data (bad magic)"));
    }
    match format {
        Compression::Gzip => gunzip(data),
        Compression::Xz => unxz(data),
        Compression::Zstd => unzstd(data),
    }
}

#[cfg(feature = "gzip")]
fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    // RFC 1952: ID1 ID2 CM FLG MTIME(4) XFL OS, optional fields, deflate
    // data, CRC32, ISIZE.
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let bad = |what: &str| format!("bad gzip data: {what}");
    if data.len() < 18 || data[2] != 8 {
        return Err(bad("short or not deflate"));
    }
    let flags = data[3];
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let len = data
            .get(pos..pos + 2)
            .ok_or_else(|| bad("truncated extra field"))?;
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let nul = data
                .get(pos..)
                .and_then(|d| d.iter().position(|&b| b == 0))
                .ok_or_else(|| bad("unterminated name or comment"))?;
            pos += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    let body = data
        .get(pos..data.len() - 8)
        .ok_or_else(|| bad("truncated header"))?;
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_MODULE_SIZE)
        .map_err(|e| bad(&format!("{e:?}")))?;
    let tail = &data[data.len() - 4..];
    let isize = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if isize != out.len() as u32 {
        return Err(bad("size in trailer does not match"));
    }
    Ok(out)
}

#[cfg(feature = "xz")]
fn unxz(data: &[u8]) -> Result<Vec<u8>, String> {
    // Our own decoder (modules/xz): decoding into the output, which is the
    // dictionary, whatever dictionary size the header names.
    super::xz::decode(data, MAX_MODULE_SIZE)
}

#[cfg(feature = "zstd")]
fn unzstd(data: &[u8]) -> Result<Vec<u8>, String> {
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
    // One frame, block by block (what ruzstd's StreamingDecoder does,
    // without its io::Read layer).
    let bad = |e: &dyn fmt::Display| format!("bad zstd data: {e}");
    let mut input = data;
    let mut decoder = FrameDecoder::new();
    decoder.init(&mut input).map_err(|e| bad(&e))?;
    let mut out = Vec::with_capacity(data.len() * 4);
    loop {
        let finished = decoder.is_finished();
        decoder.collect_to_writer(&mut out).map_err(|e| bad(&e))?;
        if out.len() > MAX_MODULE_SIZE {
            return Err(format!("zstd data inflates past {MAX_MODULE_SIZE} bytes"));
        }
        if finished {
            return Ok(out);
        }
        decoder
            .decode_blocks(&mut input, BlockDecodingStrategy::UptoBlocks(1))
            .map_err(|e| bad(&e))?;
    }
}

#[cfg(not(feature = "gzip"))]
fn gunzip(_: &[u8]) -> Result<Vec<u8>, String> {
    Err(
        "this init has no gzip decoder and the kernel does not decompress this format: \
         build init with INIT_FEATURES=gzip (cargo feature gzip) or ship the modules uncompressed"
            .into(),
    )
}

#[cfg(not(feature = "xz"))]
fn unxz(_: &[u8]) -> Result<Vec<u8>, String> {
    Err(
        "this init has no xz decoder and the kernel does not decompress this format: \
         build init with INIT_FEATURES=xz (cargo feature xz) or ship the modules uncompressed"
            .into(),
    )
}

#[cfg(not(feature = "zstd"))]
fn unzstd(_: &[u8]) -> Result<Vec<u8>, String> {
    Err(
        "this init has no zstd decoder and the kernel does not decompress this format: \
         build init with INIT_FEATURES=zstd (cargo feature zstd) or ship the modules uncompressed"
            .into(),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    /// Compresses with the system tool, as the kernel's build does; `None`
    /// (and a loud note) when the tool is missing.
    pub(crate) fn compress_with(format: Compression, data: &[u8]) -> Option<Vec<u8>> {
        let why = format!("{format} support is not compiled in (cargo feature)");
        if !crate::require("compress_with", &why, format.supported()) {
            return None;
        }
        let (tool, args): (&str, &[&str]) = match format {
            Compression::Gzip => ("gzip", &["-9", "-n", "-c"]),
            // the kernel's flags for modules (scripts/Makefile.modinst)
            Compression::Xz => ("xz", &["--check=crc32", "--lzma2=dict=1MiB", "-c"]),
            Compression::Zstd => ("zstd", &["-T0", "-q", "-c"]),
        };
        pipe_through(tool, args, data)
    }

    /// `data` through `tool args` (stdin to stdout); `None` (and a loud
    /// note) when the tool is missing.
    pub(crate) fn pipe_through(tool: &str, args: &[&str], data: &[u8]) -> Option<Vec<u8>> {
        let child = Command::new(tool)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let why = format!("{tool} is not installed");
        if !crate::require("pipe_through", &why, child.is_ok()) {
            return None;
        }
        let mut child = child.unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "{tool} {args:?} failed");
        Some(out.stdout)
    }

    fn sample() -> Vec<u8> {
        // Looks a bit like an ELF object: a header and repetitive tables.
        let mut v = b"\x7fELF\x02\x01\x01\0".to_vec();
        for i in 0..20_000u32 {
            v.extend_from_slice(&i.to_le_bytes());
            v.extend_from_slice(b"symbol_name_");
        }
        v
    }

    #[test]
    fn round_trips_with_system_tools() {
        let data = sample();
        for format in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
            let Some(packed) = compress_with(format, &data) else {
                continue;
            };
            assert_eq!(Compression::from_magic(&packed), Some(format));
            let out = decompress(format, &packed).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert!(out == data, "{format}: round trip differs");
        }
    }

    #[test]
    fn gzip_with_name_field() {
        // `gzip` without -n stores the file name (FNAME).
        let dir = std::env::temp_dir().join(format!("stage1-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("m.ko");
        std::fs::write(&f, sample()).unwrap();
        match Command::new("gzip").arg("-k").arg(&f).status() {
            _ if !crate::require("gzip", "gzip feature off", Compression::Gzip.supported()) => {}
            Ok(s) if s.success() => {
                let packed = std::fs::read(dir.join("m.ko.gz")).unwrap();
                assert_eq!(packed[3] & 8, 8, "FNAME set");
                assert_eq!(decompress(Compression::Gzip, &packed).unwrap(), sample());
            }
            _ => {
                crate::require("gzip", "gzip is not installed", false);
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_and_magic() {
        assert_eq!(
            Compression::from_path(Path::new("a/b.ko.xz")),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::from_path(Path::new("b.ko.zst")),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_path(Path::new("b.ko.gz")),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::from_path(Path::new("b.ko")), None);
        assert_eq!(Compression::from_sysfs("zstd\n"), Some(Compression::Zstd));
        assert_eq!(Compression::from_sysfs("none"), None);
        assert!(decompress(Compression::Xz, b"\x7fELF")
            .unwrap_err()
            .contains("bad magic"));
        assert_eq!(Compression::Xz.supported(), cfg!(feature = "xz"));
        if !cfg!(feature = "zstd") {
            let err = decompress(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]).unwrap_err();
            assert!(err.contains("cargo feature zstd"), "{err}");
        }
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let data = sample();
        for format in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
            let Some(mut packed) = compress_with(format, &data) else {
                continue;
            };
            let n = packed.len();
            packed.truncate(n / 2);
            assert!(decompress(format, &packed).is_err(), "{format} truncated");
        }
    }

    proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(any::<u8>(), 0..256), which in 0..3usize) {
            let (format, magic): (Compression, &[u8]) = match which {
                0 => (Compression::Gzip, &[0x1f, 0x8b, 8]),
                1 => (Compression::Xz, &[0xfd, b'7', b'z', b'X', b'Z', 0]),
                _ => (Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
            };
            let mut data = magic.to_vec();
            data.extend(tail);
            let _ = decompress(format, &data);
        }
    }
}
