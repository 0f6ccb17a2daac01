//! Pure parsers of what a server sends: the response head and chunked
//! bodies. They take any bytes and never panic.
use super::url::{bad, FetchError};

/// The most bytes a response head may take.
pub const MAX_HEAD: usize = 16 * 1024;

/// A response's status line and the headers we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    /// `None` when the body is chunked: `Transfer-Encoding` overrides it
    /// (RFC 9112 §6.3).
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// `Content-Range: bytes START-END/TOTAL` (`END` inclusive; `TOTAL`
    /// `None` for `*`). `bytes */TOTAL` (of a 416) is `None`.
    pub content_range: Option<(u64, u64, Option<u64>)>,
    pub location: Option<String>,
    /// What to send in `If-Range` on a resume: a strong `ETag`, else
    /// `Last-Modified`.
    pub validator: Option<String>,
}

/// The offset just past the empty line that ends a head (`\r\n` or `\n`).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(nl) = buf[at..].iter().position(|&b| b == b'\n') {
        at += nl + 1;
        match buf.get(at..at + 2) {
            _ if buf.get(at) == Some(&b'\n') => return Some(at + 1),
            Some(b"\r\n") => return Some(at + 2),
            _ => {}
        }
    }
    None
}

fn digits(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses a response head at the start of `buf`: `Ok(None)` if it is not
/// complete yet, else the head and its length (where the body starts).
/// Heads over [`MAX_HEAD`] bytes are an error. Never panics.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, FetchError> {
    let Some(end) = head_end(&buf[..buf.len().min(MAX_HEAD)]) else {
        if buf.len() >= MAX_HEAD {
            return Err(bad(format!(
                "the head is longer than {} KiB",
                MAX_HEAD / 1024
            )));
        }
        return Ok(None);
    };
    let mut lines = buf[..end]
        .split(|&b| b == b'\n')
        .map(|line| String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)));
    let status_line = lines.next().unwrap_or_default();
    let rest = status_line
        .strip_prefix("HTTP/1.")
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|r| r.get(1..)?.strip_prefix(' '));
    let code = rest
        .filter(|r| r.len() == 3 || r.get(3..4) == Some(" "))
        .and_then(|r| digits(r.get(..3)?));
    let (Some(rest), Some(code @ 100..=599)) = (rest, code) else {
        return Err(bad(format!(
            "`{status_line}` is not an HTTP/1.x status line"
        )));
    };
    let mut head = Head {
        status: code as u16,
        reason: rest[3..].trim().to_owned(),
        ..Head::default()
    };
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("header line `{line}` has no colon")));
        };
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(bad(format!("bad header line `{line}`")));
        }
        let value = value.trim_matches([' ', '\t']);
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let Some(n) = digits(value) else {
                    return Err(bad(format!("Content-Length `{value}` is not a number")));
                };
                if head.content_length.is_some_and(|old| old != n) {
                    return Err(bad("two different Content-Length headers"));
                }
                head.content_length = Some(n);
            }
            "transfer-encoding" => {
                for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    if head.chunked {
                        return Err(bad("chunked is not the last Transfer-Encoding"));
                    } else if coding.eq_ignore_ascii_case("chunked") {
                        head.chunked = true;
                    } else if !coding.eq_ignore_ascii_case("identity") {
                        return Err(bad(format!("Transfer-Encoding {coding} is not supported")));
                    }
                }
            }
            "content-range" => head.content_range = parse_content_range(value)?,
            "location" => head.location = Some(value.to_owned()),
            "etag" if !value.starts_with("W/") => head.validator = Some(value.to_owned()),
            "last-modified" if head.validator.is_none() => {
                head.validator = Some(value.to_owned());
            }
            _ => {}
        }
    }
    if head.chunked {
        head.content_length = None;
    }
    Ok(Some((head, end)))
}

fn parse_content_range(value: &str) -> Result<Option<(u64, u64, Option<u64>)>, FetchError> {
    let error = || {
        bad(format!(
            "Content-Range `{value}` is not `bytes START-END/TOTAL`"
        ))
    };
    let spec = value
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes "))
        .and_then(|_| value[6..].trim_start().split_once('/'))
        .ok_or_else(error)?;
    let total = match spec.1 {
        "*" => None,
        total => Some(digits(total).ok_or_else(error)?),
    };
    if spec.0 == "*" {
        return Ok(None);
    }
    let (start, end) = spec.0.split_once('-').ok_or_else(error)?;
    let (start, end) = (
        digits(start).ok_or_else(error)?,
        digits(end).ok_or_else(error)?,
    );
    if start > end || total.is_some_and(|t| end >= t) {
        return Err(error());
    }
    Ok(Some((start, end, total)))
}

/// Where a [`ChunkDecoder`] is in `Transfer-Encoding: chunked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size {
        value: u64,
        digits: u8,
    },
    /// `;extension` or whitespace after the size, up to LF.
    Ext {
        value: u64,
    },
    SizeLf {
        value: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line; the empty one ends the body.
    TrailerStart,
    Trailer,
    TrailerLf,
    Done,
}

/// Decodes a `Transfer-Encoding: chunked` body (RFC 9112 §7.1) as it
/// arrives, in any pieces. Bare LF is accepted for CRLF; extensions and
/// trailers are skipped; framing lines are limited to [`MAX_HEAD`] bytes
/// between data. Never panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDecoder {
    state: Chunk,
    /// Framing bytes since the last data.
    framing: usize,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkDecoder {
    pub const fn new() -> Self {
        Self {
            state: Chunk::Size {
                value: 0,
                digits: 0,
            },
            framing: 0,
        }
    }

    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Reads framing from `input` up to the next data: returns how many
    /// bytes were consumed and the data among them (empty if none). Call
    /// again with the rest until it is empty or [`is_done`](Self::is_done);
    /// after the end, nothing more is consumed.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, &'a [u8]), FetchError> {
        for (i, &b) in input.iter().enumerate() {
            match self.state {
                Chunk::Done => return Ok((i, &[])),
                Chunk::Data(left) => {
                    let take = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(left)
                    };
                    self.framing = 0;
                    return Ok((i + take, &input[i..i + take]));
                }
                state => {
                    self.framing += 1;
                    if self.framing > MAX_HEAD {
                        return Err(bad("a chunk size or trailer line is too long"));
                    }
                    self.state = chunk_step(state, b).map_err(bad)?;
                }
            }
        }
        Ok((input.len(), &[]))
    }
}

fn chunk_step(state: Chunk, b: u8) -> Result<Chunk, &'static str> {
    let sized = |value| {
        if value == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data(value)
        }
    };
    Ok(match state {
        Chunk::Size { value, digits } => match char::from(b).to_digit(16) {
            Some(_) if digits >= 16 => return Err("chunk size over 16 hex digits"),
            Some(d) => Chunk::Size {
                value: value << 4 | u64::from(d),
                digits: digits + 1,
            },
            None if digits == 0 => return Err("expected a hex chunk size"),
            None => match b {
                b'\r' => Chunk::SizeLf { value },
                b'\n' => sized(value),
                b';' | b' ' | b'\t' => Chunk::Ext { value },
                _ => return Err("bad character after the chunk size"),
            },
        },
        Chunk::Ext { value } | Chunk::SizeLf { value } if b == b'\n' => sized(value),
        Chunk::DataCr if b == b'\r' => Chunk::DataLf,
        Chunk::DataCr | Chunk::DataLf if b == b'\n' => Chunk::Size {
            value: 0,
            digits: 0,
        },
        Chunk::TrailerStart if b == b'\r' => Chunk::TrailerLf,
        Chunk::TrailerStart | Chunk::TrailerLf if b == b'\n' => Chunk::Done,
        Chunk::Trailer if b == b'\n' => Chunk::TrailerStart,
        Chunk::TrailerStart | Chunk::Trailer => Chunk::Trailer,
        Chunk::SizeLf { .. } | Chunk::DataCr | Chunk::DataLf | Chunk::TrailerLf => {
            return Err("expected CRLF in the chunk framing")
        }
        Chunk::Ext { .. } | Chunk::Data(_) | Chunk::Done => state,
    })
}
