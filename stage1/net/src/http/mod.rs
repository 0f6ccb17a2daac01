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
//! without data) reconnects up to [`FetchOptions::retries`] times, after a
//! backoff, each with a warning on the console. It resumes only against a
//! validator: `Range: bytes=<have>-` with `If-Range` (the strong `ETag`,
//! else `Last-Modified`), so that a server whose file changed sends the
//! whole new file (200) instead of the rest of another one. Without a
//! validator the file is truncated and fetched from byte 0, and a warning
//! says so. 206 with `Content-Range` from `<have>` resumes the same hasher;
//! 200 starts over (file truncated, hasher reset); anything else is an
//! error. A failed first connection or DNS lookup is not retried: it is
//! reported at once.

mod head;
mod url;

use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub use head::{parse_head, ChunkDecoder, Head, MAX_HEAD};
pub use url::{FetchError, Url};

use crate::dns;
use crate::sha256::Sha256;
use url::bad;

/// Where the network setup leaves the nameservers for the fetch.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The one buffer the body streams through.
pub const BUF_SIZE: usize = 64 * 1024;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 5;
const USER_AGENT: &str = concat!("init/", env!("CARGO_PKG_VERSION"));

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
    /// Whether to hash the body (true); without it
    /// [`FetchReport::sha256`] is all zeros. Hashing is most of the CPU a
    /// fetch costs, so a caller with nothing to verify turns it off.
    pub hash: bool,
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
            hash: true,
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
    pub rate_bytes_per_s: u64,
    pub eta: Option<Duration>,
}

/// Bytes as MiB with one decimal, rounded half up: `3.2` (fixed point: no
/// floating point in the binary).
struct Mib(u64);

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // At most 10 × 2^44: a u64, printed by the code all u64 share.
        let tenths = ((u128::from(self.0) * 10 + (1 << 19)) >> 20) as u64;
        write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} MiB", Mib(self.done))?;
        if let Some(total) = self.total.filter(|&t| t > 0) {
            let percent = self.done.saturating_mul(100) / total;
            write!(f, " of {} MiB ({percent}%)", Mib(total))?;
        }
        write!(f, ", {} MiB/s", Mib(self.rate_bytes_per_s))?;
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
            Err(Fail::Retry(why)) => {
                retries += 1;
                let wait = opts.backoff.saturating_mul(1 << (retries - 1).min(3));
                log::warn!(
                    "{}: {why}: reconnecting in {} ms ({retries} of {})",
                    t.url,
                    // u64: no u128 printing in the binary (a wait is seconds).
                    wait.as_millis() as u64,
                    opts.retries
                );
                std::thread::sleep(wait);
            }
        }
    }
    t.total = Some(t.have);
    t.report(true);
    Ok(FetchReport {
        url: t.url.to_string(),
        bytes: t.have,
        sha256: if opts.hash {
            std::mem::take(&mut t.hasher).finish()
        } else {
            [0; 32]
        },
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
    let conf = std::fs::read_to_string(RESOLV_CONF).unwrap_or_default();
    let mut conf = dns::ResolvConf::parse(&conf);
    conf.ipv6 = dns::ipv6_configured();
    let ips = dns::resolve(&url.host, &conf).map_err(|e| resolve(e.to_string()))?;
    let mut last = resolve("no address".into());
    for addr in ips.into_iter().map(|ip| SocketAddr::new(ip, url.port)) {
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
        let mut stream = self.send_request()?;
        let (head, pos, filled) = read_head(&mut stream, buf, timeout)?;
        self.responded = true;
        let mut body = match (head.status, head.content_range) {
            (301 | 302 | 303 | 307 | 308, _) => return self.redirect(&head, redirects).map(Some),
            (200, _) => {
                if self.have > 0 {
                    self.start_over(
                        "the server sent the whole file (200): it changed, or it ignores Range",
                    )?;
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
                // `{:?}`'s text, written out: the build's `-Z fmt-debug=shallow`
                // prints a derived Debug (Option's) as its variant's name only.
                let range = match range {
                    None => "None".to_owned(),
                    Some((start, end, None)) => format!("Some(({start}, {end}, None))"),
                    Some((start, end, Some(t))) => format!("Some(({start}, {end}, Some({t})))"),
                };
                let why = format!(
                    "asked for bytes {}- and got 206 with Content-Range {range}",
                    self.have
                );
                return Err(bad(why).into());
            }
            _ => return Err(self.status_error(&head, head.reason.clone())),
        };
        if head.chunked {
            body = Body::Chunked(ChunkDecoder::new());
        }
        if let Some(total) = self.total.filter(|&t| self.checked != Some(t)) {
            self.check(total)?;
            self.checked = Some(total);
        }
        self.receive(&mut stream, buf, (pos, filled), body)?;
        match self.total {
            Some(total) if self.have < total => Err(Fail::Retry("the response ended early".into())),
            _ => Ok(None),
        }
    }

    /// Connects and sends the `GET` (with `Range` and `If-Range` when
    /// resuming, after starting over if there is nothing to resume
    /// against). A failed reconnection, once a server has answered, is
    /// retried.
    fn send_request(&mut self) -> Result<TcpStream, Fail> {
        if self.have > 0 && self.validator.is_none() {
            self.start_over("no strong ETag or Last-Modified to resume against")?;
        }
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
        // Past byte 0 there is a validator: start_over saw to that.
        if let Some(validator) = self.validator.as_ref().filter(|_| self.have > 0) {
            let _ = write!(
                request,
                "Range: bytes={}-\r\nIf-Range: {validator}\r\n",
                self.have
            );
        }
        request += "\r\n";
        stream
            .write_all(request.as_bytes())
            .map_err(|e| io_failure(&e, self.opts.read_timeout))?;
        Ok(stream)
    }

    /// Where a 3xx head sends us, unless it has no `Location`, leaves
    /// `http://` or is one redirect too many.
    fn redirect(&self, head: &Head, redirects: u32) -> Result<Url, Fail> {
        let Some(location) = &head.location else {
            return Err(bad(format!("HTTP {} without a Location", head.status)).into());
        };
        if redirects >= MAX_REDIRECTS {
            let why = format!("{} (after {MAX_REDIRECTS} redirects)", head.reason);
            return Err(self.status_error(head, why));
        }
        self.url.join(location).map_err(|to| {
            FetchError::Redirect {
                from: self.url.to_string(),
                to: Box::new(to),
            }
            .into()
        })
    }

    /// `head`'s status, which we cannot use, and why.
    fn status_error(&self, head: &Head, reason: String) -> Fail {
        Fail::Fatal(FetchError::Status {
            url: self.url.to_string(),
            status: head.status,
            reason,
        })
    }

    /// Streams `body` into the file: first what is already in
    /// `buf[pos..filled]` (read with the head), then from `stream`, until
    /// the body's framing says it ended (or, for [`Body::Close`], the
    /// server closes).
    fn receive(
        &mut self,
        stream: &mut TcpStream,
        buf: &mut [u8],
        (mut pos, mut filled): (usize, usize),
        mut body: Body,
    ) -> Result<(), Fail> {
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
            (pos, filled) = match read(stream, buf) {
                Ok(0) if matches!(body, Body::Close) => break,
                Ok(0) => return Err(Fail::Retry("the server closed the connection".into())),
                Ok(n) => (0, n),
                Err(e) => return Err(io_failure(&e, self.opts.read_timeout)),
            };
        }
        Ok(())
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
        if self.opts.hash {
            self.hasher.update(data);
        }
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

    /// [`restart`](Self::restart) after `have` bytes, saying why on the console.
    fn start_over(&mut self, why: &str) -> Result<(), FetchError> {
        log::warn!(
            "{}: {why}: starting over from byte 0 (had {} bytes)",
            self.url,
            self.have
        );
        self.restart()
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
        let micros =
            u64::try_from(now.duration_since(self.started).as_micros()).unwrap_or(u64::MAX);
        let rate = rate(self.received, micros);
        let eta = if finished {
            Some(Duration::ZERO)
        } else {
            self.total
                .filter(|_| rate > 0)
                .map(|t| Duration::from_secs(t.saturating_sub(self.have) / rate))
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

/// Bytes per second for `received` bytes in `micros` µs (0 for no time):
/// received·10⁶/µs in u64, with no u128 division in the binary. Split as
/// q·10⁶ + r·10⁶/µs (q, r: received divided by µs), it is exact while
/// r·10⁶ fits, i.e. for 211 days of transfer; it saturates beyond u64.
fn rate(received: u64, micros: u64) -> u64 {
    match (received.checked_div(micros), received.checked_rem(micros)) {
        (Some(q), Some(r)) => q
            .saturating_mul(1_000_000)
            .saturating_add(r.saturating_mul(1_000_000) / micros),
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
