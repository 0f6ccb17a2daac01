//! `root=http://host[:port]/path`: an HTTP/1.1 client that streams the
//! store image into a file (on a tmpfs) through one fixed 64 KiB buffer,
//! hashing it as it goes, and resumes with `Range` when the connection drops.
//!
//! The response head ([`parse_head`]) and chunked bodies ([`ChunkDecoder`])
//! are parsed by pure code that takes any bytes and never panics; [`fetch`]
//! does the I/O. No TLS: `https://` is refused with a message that says to
//! pin the image with `sha256=` instead ([`verify`]).
//!
//! # Protocol
//!
//! `GET` with `Host`, `User-Agent: init/<version>`, `Accept-Encoding:
//! identity` and `Connection: close`; one request per connection. The body
//! is `Transfer-Encoding: chunked`, `Content-Length` bytes, or everything to
//! the close. 1xx heads are skipped; 301/302/303/307/308 are followed to
//! `http://` (or relative) locations, at most [`MAX_REDIRECTS`] times.
//!
//! A transfer that stops early (EOF, reset or [`FetchOptions::read_timeout`]
//! without data) reconnects up to [`FetchOptions::retries`] times with
//! `Range: bytes=<have>-` and `If-Range` (strong `ETag`, else
//! `Last-Modified`, if the server sent one): 206 with `Content-Range` from
//! `<have>` resumes the same hasher; 200 starts over (file truncated, hasher
//! reset); anything else is an error. A failed first connection or DNS
//! lookup is not retried: it is reported at once.

use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv6Addr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::sha256::{hex, Sha256};

/// The most bytes a response head may take.
pub const MAX_HEAD: usize = 16 * 1024;
/// The one buffer the body streams through.
pub const BUF_SIZE: usize = 64 * 1024;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 5;
const USER_AGENT: &str = concat!("init/", env!("CARGO_PKG_VERSION"));

/// An `http://` URL: what `root=` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// A name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    pub port: u16,
    /// From the first `/` on, query included, fragment dropped; never empty.
    pub path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, FetchError> {
        let bad = |why: &str| FetchError::BadUrl {
            url: text.to_owned(),
            why: why.to_owned(),
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(bad("expected http://host[:port]/path"));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(FetchError::Https { url: text.into() });
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad(&format!("{scheme}:// is not supported; use http://")));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "spaces, control and non-ASCII characters must be percent-encoded",
            ));
        }
        let rest = rest.split_once('#').map_or(rest, |(url, _fragment)| url);
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(bad("user:password@ is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return Err(bad("no ] after the IPv6 address"));
            };
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(bad(&format!("[{host}] is not an IPv6 address")));
            }
            match after.strip_prefix(':') {
                Some(port) => (host, port),
                None if after.is_empty() => (host, ""),
                None => return Err(bad("expected :port after the IPv6 address")),
            }
        } else {
            let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
            if port.contains(':') {
                return Err(bad("an IPv6 address needs brackets: http://[::1]:8080/"));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            "" => 80,
            p => match p.parse() {
                Ok(port) if port != 0 => port,
                _ => return Err(bad(&format!("bad port `{p}`"))),
            },
        };
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Url {
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }

    /// `host[:port]`, as in the `Host` header: brackets around IPv6, no
    /// port 80.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            80 => host,
            port => format!("{host}:{port}"),
        }
    }

    /// Where a `Location` header leads from here: an absolute `http://`
    /// URL, `//host/path`, `/path`, or a path relative to this one's
    /// directory.
    pub fn join(&self, location: &str) -> Result<Url, FetchError> {
        let scheme = location
            .find(':')
            .filter(|&i| !location[..i].contains(['/', '?']));
        let absolute = if scheme.is_some() {
            location.to_owned()
        } else if location.starts_with("//") {
            format!("http:{location}")
        } else if location.starts_with('/') {
            format!("http://{}{location}", self.authority())
        } else {
            let dir = self.path.split('?').next().unwrap_or("/");
            let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
            format!("http://{}{dir}{location}", self.authority())
        };
        Url::parse(&absolute)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

/// Why a fetch failed. Each message is one console line that names the URL
/// and says what to do.
#[derive(Debug)]
pub enum FetchError {
    /// Not an `http://host[:port]/path` URL.
    BadUrl { url: String, why: String },
    /// `https://`: there is no TLS in the initrd.
    Https { url: String },
    /// A redirect to somewhere that cannot be fetched.
    Redirect { from: String, to: Box<FetchError> },
    /// DNS gave no address.
    Resolve {
        url: String,
        host: String,
        error: String,
    },
    /// No connection: refused, unreachable or timed out.
    Connect {
        url: String,
        addr: String,
        error: io::Error,
    },
    /// An error status, or too many redirects (`status` 3xx).
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    /// A response that is not HTTP/1.x as we understand it. `url` is empty
    /// when it comes from the pure parsers.
    BadResponse { url: String, why: String },
    /// The connection kept dropping; `last` is the last reason.
    Truncated {
        url: String,
        received: u64,
        total: Option<u64>,
        retries: u32,
        last: String,
    },
    /// [`FetchOptions::expected_size_check`] refused the image.
    TooLarge { url: String, message: String },
    /// Writing the destination file failed (a full tmpfs, most likely).
    Write { url: String, error: io::Error },
    /// [`verify`]: the image is not the one `sha256=` names.
    Checksum {
        url: String,
        expected: [u8; 32],
        actual: [u8; 32],
    },
}

fn bad(why: impl Into<String>) -> FetchError {
    FetchError::BadResponse {
        url: String::new(),
        why: why.into(),
    }
}

impl FetchError {
    /// Names `url` in a [`BadResponse`](Self::BadResponse) from a parser.
    fn at(mut self, at: &Url) -> Self {
        if let FetchError::BadResponse { url, .. } = &mut self {
            if url.is_empty() {
                *url = at.to_string();
            }
        }
        self
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::BadUrl { url, why } => write!(f, "bad URL {url}: {why}"),
            FetchError::Https { url } => write!(
                f,
                "{url}: https is not supported (no TLS in the initrd): serve the image over \
                 http:// and pin it with sha256=<hex>"
            ),
            FetchError::Redirect { from, to } => write!(f, "{from} redirects to {to}"),
            FetchError::Resolve { url, host, error } => write!(
                f,
                "cannot resolve host {host} in URL {url} ({error}): check DNS (nameserver from \
                 DHCP or ip=) or use an IP address"
            ),
            FetchError::Connect { url, addr, error } => write!(
                f,
                "{url}: cannot connect to {addr}: {error}: check that the server is up and \
                 reachable from here (ip=, cable, firewall)"
            ),
            FetchError::Status {
                url,
                status,
                reason,
            } => {
                let hint = match status {
                    300..=399 => "give the final URL in root=",
                    401 | 403 => "the server refuses access: check its permissions",
                    500.. => "the server failed: check its log, then retry",
                    _ => "check the URL",
                };
                write!(f, "{url}: HTTP {status} {reason}: {hint}")
            }
            FetchError::BadResponse { url, why } if url.is_empty() => {
                write!(f, "bad HTTP response: {why}")
            }
            FetchError::BadResponse { url, why } => write!(
                f,
                "{url}: bad HTTP response: {why}: check that this is a plain HTTP/1.1 server"
            ),
            FetchError::Truncated {
                url,
                received,
                total,
                retries,
                last,
            } => {
                let of = total.map(|t| format!("of {t} ")).unwrap_or_default();
                write!(
                    f,
                    "{url}: received {received} {of}bytes after {retries} retries ({last}): \
                     check the network and the server, then retry"
                )
            }
            FetchError::TooLarge { url, message } => write!(f, "{url}: {message}"),
            FetchError::Write { url, error } => write!(
                f,
                "{url}: cannot write the image: {error}: if the tmpfs is full, give the machine \
                 more memory or use a smaller image"
            ),
            FetchError::Checksum {
                url,
                expected,
                actual,
            } => write!(
                f,
                "{url}: SHA-256 mismatch: sha256= is {}, the image is {}: check sha256= against \
                 `sha256sum` of the image on the server",
                hex(expected),
                hex(actual)
            ),
        }
    }
}

/// No `source()`: the messages already include the I/O error they wrap,
/// and a chain printed with `{:#}` would repeat it.
impl std::error::Error for FetchError {}

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

/// How [`fetch`] behaves; [`Default`] gives the defaults named below.
/// Timeouts must not be zero.
pub struct FetchOptions<'a> {
    /// Reconnections after a dropped connection (5).
    pub retries: u32,
    /// The wait before the first reconnection, doubled for each next one
    /// up to 8× (500 ms).
    pub backoff: Duration,
    /// Per address tried (10 s).
    pub connect_timeout: Duration,
    /// How long without a byte before the connection counts as dropped (30 s).
    pub read_timeout: Duration,
    /// The least time between two progress reports (3 s).
    pub progress_every: Duration,
    /// Called with the image's size once it is known, before any byte of
    /// the body is written (again if a restart announces another size);
    /// when no size is announced, with the size so far before each write.
    /// An `Err(message)` stops the fetch with [`FetchError::TooLarge`].
    pub expected_size_check: Option<&'a dyn Fn(u64) -> Result<(), String>>,
}

impl Default for FetchOptions<'_> {
    fn default() -> Self {
        Self {
            retries: 5,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            progress_every: Duration::from_secs(3),
            expected_size_check: None,
        }
    }
}

/// Where a fetch is, for the console line ([`Display`](fmt::Display)
/// prints it: `412.0 MiB of 812.0 MiB (50%), 98.2 MiB/s, 4 s left`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Bytes of the image in the file.
    pub done: u64,
    pub total: Option<u64>,
    /// Body bytes received (over all connections) per second since the start.
    pub rate_bytes_per_s: f64,
    pub eta: Option<Duration>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
        write!(f, "{:.1} MiB", mib(self.done as f64))?;
        if let Some(total) = self.total.filter(|&t| t > 0) {
            let percent = self.done.saturating_mul(100) / total;
            write!(f, " of {:.1} MiB ({percent}%)", mib(total as f64))?;
        }
        write!(f, ", {:.1} MiB/s", mib(self.rate_bytes_per_s))?;
        match self.eta {
            Some(eta) => write!(f, ", {} s left", eta.as_secs()),
            None => Ok(()),
        }
    }
}

/// A finished fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The URL the image came from, after redirects.
    pub url: String,
    /// The file's length.
    pub bytes: u64,
    /// Of the whole file, from byte 0.
    pub sha256: [u8; 32],
    pub elapsed: Duration,
    /// Reconnections after a dropped connection (resumed or restarted).
    pub resumes: u32,
}

/// Checks a fetched image against `sha256=`.
pub fn verify(report: &FetchReport, expected: &[u8; 32]) -> Result<(), FetchError> {
    if report.sha256 == *expected {
        return Ok(());
    }
    Err(FetchError::Checksum {
        url: report.url.clone(),
        expected: *expected,
        actual: report.sha256,
    })
}

/// Fetches `url` into `dest` (truncated first) as described in the module
/// documentation, calling `progress` at most every
/// [`FetchOptions::progress_every`] and once at the end.
pub fn fetch(
    url: &Url,
    dest: &mut File,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<FetchReport, FetchError> {
    let started = Instant::now();
    let mut t = Transfer {
        url: url.clone(),
        dest,
        opts,
        progress,
        hasher: Sha256::new(),
        have: 0,
        total: None,
        checked: None,
        validator: None,
        responded: false,
        started,
        received: 0,
        reported: started,
    };
    t.restart()?;
    let mut buf = vec![0; BUF_SIZE];
    let (mut redirects, mut retries) = (0, 0);
    // Each turn returns, or uses up one of the redirects or retries.
    loop {
        match t.attempt(&mut buf, redirects) {
            Ok(None) => break,
            Ok(Some(next)) => {
                redirects += 1;
                t.url = next;
            }
            Err(Fail::Fatal(e)) => return Err(e.at(&t.url)),
            // All announced bytes are here; only the framing was cut.
            Err(Fail::Retry(_)) if t.total == Some(t.have) => break,
            Err(Fail::Retry(last)) if retries >= opts.retries => {
                return Err(FetchError::Truncated {
                    url: t.url.to_string(),
                    received: t.have,
                    total: t.total,
                    retries,
                    last,
                })
            }
            Err(Fail::Retry(_)) => {
                retries += 1;
                std::thread::sleep(opts.backoff.saturating_mul(1 << (retries - 1).min(3)));
            }
        }
    }
    t.total = Some(t.have);
    t.report(true);
    Ok(FetchReport {
        url: t.url.to_string(),
        bytes: t.have,
        sha256: std::mem::take(&mut t.hasher).finish(),
        elapsed: started.elapsed(),
        resumes: retries,
    })
}

/// How one connection ended, if not with the whole image.
enum Fail {
    Fatal(FetchError),
    /// Dropped, cut short or silent: reconnect (the reason, for the error
    /// if the retries run out).
    Retry(String),
}

impl From<FetchError> for Fail {
    fn from(e: FetchError) -> Self {
        Fail::Fatal(e)
    }
}

fn io_failure(e: &io::Error, read_timeout: Duration) -> Fail {
    Fail::Retry(match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("no data for {} s", read_timeout.as_secs())
        }
        _ => e.to_string(),
    })
}

/// `read`, retried when a signal interrupts it.
fn read(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    for _ in 0..100 {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
    Err(io::ErrorKind::Interrupted.into())
}

fn connect(url: &Url, opts: &FetchOptions) -> Result<TcpStream, FetchError> {
    let resolve = |error: String| FetchError::Resolve {
        url: url.to_string(),
        host: url.host.clone(),
        error,
    };
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| resolve(e.to_string()))?;
    let mut last = resolve("no address".into());
    for addr in addrs {
        let connected = TcpStream::connect_timeout(&addr, opts.connect_timeout).and_then(|s| {
            s.set_read_timeout(Some(opts.read_timeout))?;
            s.set_write_timeout(Some(opts.read_timeout))?;
            Ok(s)
        });
        match connected {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                let (url, addr) = (url.to_string(), addr.to_string());
                last = FetchError::Connect { url, addr, error };
            }
        }
    }
    Err(last)
}

/// Reads up to the end of a final (not 1xx) head: the head, where the body
/// starts in `buf` and how much of `buf` is filled.
fn read_head(
    s: &mut TcpStream,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<(Head, usize, usize), Fail> {
    let mut filled = 0;
    for _ in 0..=MAX_HEAD {
        match parse_head(&buf[..filled])? {
            Some((head, len)) if head.status < 200 => {
                buf.copy_within(len..filled, 0);
                filled -= len;
                continue;
            }
            Some((head, len)) => return Ok((head, len, filled)),
            None => {}
        }
        match read(s, &mut buf[filled..]) {
            Ok(0) => {
                return Err(Fail::Retry(
                    "the server closed the connection unanswered".into(),
                ))
            }
            Ok(n) => filled += n,
            Err(e) => return Err(io_failure(&e, timeout)),
        }
    }
    Err(bad("too many interim (1xx) responses").into())
}

enum Body {
    Length(u64),
    Chunked(ChunkDecoder),
    /// Neither: the body ends when the server closes.
    Close,
}

/// One fetch across its connections.
struct Transfer<'a, 'o> {
    url: Url,
    dest: &'a mut File,
    opts: &'a FetchOptions<'o>,
    progress: &'a mut dyn FnMut(&Progress),
    /// Of `dest[..have]`.
    hasher: Sha256,
    have: u64,
    total: Option<u64>,
    /// The size last passed to the size check.
    checked: Option<u64>,
    validator: Option<String>,
    /// Whether any response came: from then on a failed connect is retried.
    responded: bool,
    started: Instant,
    received: u64,
    reported: Instant,
}

impl Transfer<'_, '_> {
    /// One connection: `Some(url)` for a redirect, `None` when the image is whole.
    fn attempt(&mut self, buf: &mut [u8], redirects: u32) -> Result<Option<Url>, Fail> {
        let timeout = self.opts.read_timeout;
        let mut stream = match connect(&self.url, self.opts) {
            Err(FetchError::Connect { addr, error, .. }) if self.responded => {
                return Err(Fail::Retry(format!("cannot reconnect to {addr}: {error}")))
            }
            connected => connected?,
        };
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n\
             Accept-Encoding: identity\r\nConnection: close\r\n",
            self.url.path,
            self.url.authority()
        );
        if self.have > 0 {
            let _ = write!(request, "Range: bytes={}-\r\n", self.have);
            if let Some(validator) = &self.validator {
                let _ = write!(request, "If-Range: {validator}\r\n");
            }
        }
        request += "\r\n";
        stream
            .write_all(request.as_bytes())
            .map_err(|e| io_failure(&e, timeout))?;
        let (head, mut pos, mut filled) = read_head(&mut stream, buf, timeout)?;
        self.responded = true;
        let status_error = |reason: String| FetchError::Status {
            url: self.url.to_string(),
            status: head.status,
            reason,
        };
        let mut body = match (head.status, head.content_range) {
            (301 | 302 | 303 | 307 | 308, _) => {
                let Some(location) = &head.location else {
                    return Err(bad(format!("HTTP {} without a Location", head.status)).into());
                };
                if redirects >= MAX_REDIRECTS {
                    let why = format!("{} (after {MAX_REDIRECTS} redirects)", head.reason);
                    return Err(status_error(why).into());
                }
                return match self.url.join(location) {
                    Ok(next) => Ok(Some(next)),
                    Err(to) => Err(FetchError::Redirect {
                        from: self.url.to_string(),
                        to: Box::new(to),
                    }
                    .into()),
                };
            }
            (200, _) => {
                if self.have > 0 {
                    self.restart()?;
                }
                self.validator.clone_from(&head.validator);
                self.total = head.content_length;
                head.content_length.map_or(Body::Close, Body::Length)
            }
            (206, Some((start, end, total))) if self.have > 0 && start == self.have => {
                if let (Some(was), Some(now)) = (self.total, total) {
                    if was != now {
                        let why =
                            format!("the image changed on the server (was {was} bytes, now {now})");
                        return Err(bad(why).into());
                    }
                }
                self.total = self.total.or(total);
                Body::Length(head.content_length.unwrap_or(end - start + 1))
            }
            (206, range) => {
                let why = format!(
                    "asked for bytes {}- and got 206 with Content-Range {range:?}",
                    self.have
                );
                return Err(bad(why).into());
            }
            _ => return Err(status_error(head.reason.clone()).into()),
        };
        if head.chunked {
            body = Body::Chunked(ChunkDecoder::new());
        }
        if let Some(total) = self.total.filter(|&t| self.checked != Some(t)) {
            self.check(total)?;
            self.checked = Some(total);
        }
        let ended = |body: &Body| match body {
            Body::Length(left) => *left == 0,
            Body::Chunked(decoder) => decoder.is_done(),
            Body::Close => false,
        };
        while !ended(&body) {
            while pos < filled && !ended(&body) {
                let input = &buf[pos..filled];
                let (used, data) = match &mut body {
                    Body::Length(left) => {
                        let n = input
                            .len()
                            .min(usize::try_from(*left).unwrap_or(usize::MAX));
                        *left -= n as u64;
                        (n, &input[..n])
                    }
                    Body::Chunked(decoder) => decoder.decode(input)?,
                    Body::Close => (input.len(), input),
                };
                self.write(data)?;
                pos += used;
            }
            if ended(&body) {
                break;
            }
            (pos, filled) = match read(&mut stream, buf) {
                Ok(0) if matches!(body, Body::Close) => break,
                Ok(0) => return Err(Fail::Retry("the server closed the connection".into())),
                Ok(n) => (0, n),
                Err(e) => return Err(io_failure(&e, timeout)),
            };
        }
        match self.total {
            Some(total) if self.have < total => Err(Fail::Retry("the response ended early".into())),
            _ => Ok(None),
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), FetchError> {
        if data.is_empty() {
            return Ok(());
        }
        let end = self.have + data.len() as u64;
        match self.total {
            Some(total) if end > total => {
                return Err(bad(format!("more than the {total} bytes announced")));
            }
            Some(_) => {}
            None => self.check(end)?,
        }
        let url = &self.url;
        self.dest
            .write_all(data)
            .map_err(|error| FetchError::Write {
                url: url.to_string(),
                error,
            })?;
        self.hasher.update(data);
        self.have = end;
        self.received += data.len() as u64;
        if self.reported.elapsed() >= self.opts.progress_every {
            self.report(false);
        }
        Ok(())
    }

    fn check(&self, size: u64) -> Result<(), FetchError> {
        let Some(check) = self.opts.expected_size_check else {
            return Ok(());
        };
        check(size).map_err(|message| FetchError::TooLarge {
            url: self.url.to_string(),
            message,
        })
    }

    /// Back to byte 0: an empty file and a fresh hasher.
    fn restart(&mut self) -> Result<(), FetchError> {
        let url = &self.url;
        let error = |error| FetchError::Write {
            url: url.to_string(),
            error,
        };
        self.dest.set_len(0).map_err(error)?;
        self.dest.seek(SeekFrom::Start(0)).map_err(error)?;
        self.hasher = Sha256::new();
        self.have = 0;
        Ok(())
    }

    fn report(&mut self, finished: bool) {
        let now = Instant::now();
        let secs = now.duration_since(self.started).as_secs_f64();
        let rate = if secs > 0.0 {
            self.received as f64 / secs
        } else {
            0.0
        };
        let eta = if finished {
            Some(Duration::ZERO)
        } else {
            let left = self
                .total
                .filter(|_| rate > 0.0)
                .map(|t| t.saturating_sub(self.have));
            left.and_then(|left| Duration::try_from_secs_f64(left as f64 / rate).ok())
        };
        (self.progress)(&Progress {
            done: self.have,
            total: self.total,
            rate_bytes_per_s: rate,
            eta,
        });
        self.reported = now;
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
