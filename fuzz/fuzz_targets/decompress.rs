//! `stage1::modules::decompress` with each `Compression`. The first byte
//! picks the format (0 gzip, 1 xz, 2 zstd, else by magic); the rest is the
//! data, with the format's magic put in front when it lacks one so that the
//! fuzzer reaches the decoder at once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stage1::modules::{decompress, Compression};

const MAGICS: [(Compression, &[u8]); 3] = [
    (Compression::Gzip, &[0x1f, 0x8b]),
    (Compression::Xz, &[0xfd, b'7', b'z', b'X', b'Z', 0]),
    (Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = match MAGICS.get(usize::from(pick)) {
        Some(&(format, _)) => format,
        None => match Compression::from_magic(rest) {
            Some(format) => format,
            None => return,
        },
    };
    let magic = MAGICS
        .iter()
        .find(|(f, _)| *f == format)
        .map_or(&[][..], |m| m.1);
    let input: std::borrow::Cow<'_, [u8]> = if rest.starts_with(magic) {
        rest.into()
    } else {
        [magic, rest].concat().into()
    };
    let _ = decompress(format, &input);
    // A format given data of another kind must say so, not panic.
    for (other, _) in MAGICS {
        if other != format {
            assert!(decompress(other, &input).is_err());
        }
    }
});
