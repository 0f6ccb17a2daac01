//! The URL of `root=http://…` and the one error type of a fetch, whose
//! messages name the URL and what to do.
use std::fmt;
use std::io;
use std::net::Ipv6Addr;

use crate::sha256::hex;

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

pub(super) fn bad(why: impl Into<String>) -> FetchError {
    FetchError::BadResponse {
        url: String::new(),
        why: why.into(),
    }
}

impl FetchError {
    /// Names `url` in a [`BadResponse`](Self::BadResponse) from a parser.
    pub(super) fn at(mut self, at: &Url) -> Self {
        if let FetchError::BadResponse { url, .. } = &mut self {
            if url.is_empty() {
                *url = at.to_string();
            }
        }
        self
    }
}

/// The console line, as [`Display`](fmt::Display) prints it: a derived
/// `Debug` of every variant cost 0.8 KiB of `dist/init` (anyhow needs one)
/// and would say no more.
impl fmt::Debug for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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
