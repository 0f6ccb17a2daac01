use super::*;
use crate::sha256::digest;
use proptest::prelude::*;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

// ---- URLs ----

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn url_forms() {
    let u = url("http://Boot.LAN/nix/store.squashfs");
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("boot.lan", 80, "/nix/store.squashfs")
    );
    assert_eq!(u.to_string(), "http://boot.lan/nix/store.squashfs");
    let u = url("HTTP://10.0.2.2:8080");
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("10.0.2.2", 8080, "/")
    );
    assert_eq!(url("http://h:/x").port, 80);
    assert_eq!(url("http://h?a=1").path, "/?a=1");
    assert_eq!(url("http://h/a?b=1#frag").path, "/a?b=1");
    let u = url("http://[fe80::1]:8080/img");
    assert_eq!((u.host.as_str(), u.port), ("fe80::1", 8080));
    assert_eq!(u.authority(), "[fe80::1]:8080");
    assert_eq!(u.to_string(), "http://[fe80::1]:8080/img");
    assert_eq!(url("http://[::1]/").authority(), "[::1]");
}

#[test]
fn url_refusals() {
    let err = Url::parse("https://h/store.img").unwrap_err();
    assert_eq!(
        err.to_string(),
        "https://h/store.img: https is not supported (no TLS in the initrd): serve the image \
         over http:// and pin it with sha256=<hex>"
    );
    let msg = |text: &str| Url::parse(text).unwrap_err().to_string();
    assert_eq!(
        msg("ftp://h/x"),
        "bad URL ftp://h/x: ftp:// is not supported; use http://"
    );
    assert_eq!(msg("h/x"), "bad URL h/x: expected http://host[:port]/path");
    assert_eq!(
        msg("http://u:pw@h/x"),
        "bad URL http://u:pw@h/x: user:password@ is not supported"
    );
    assert_eq!(
        msg("http://h:99999/"),
        "bad URL http://h:99999/: bad port `99999`"
    );
    assert!(msg("http://h:0/").contains("bad port `0`"));
    assert!(msg("http:///x").contains("no host"));
    assert!(msg("http://::1/x").contains("needs brackets"));
    assert!(msg("http://[::1/x").contains("no ]"));
    assert!(msg("http://[zz]/x").contains("not an IPv6 address"));
    assert!(msg("http://[::1]x/").contains("expected :port"));
    assert!(msg("http://h/a b").contains("percent-encoded"));
    assert!(msg("http://h/a\r\nX: y").contains("percent-encoded"));
    assert!(msg("http://h/é").contains("percent-encoded"));
}

#[test]
fn redirect_locations() {
    let base = url("http://h:81/dir/file.img?x=1");
    assert_eq!(base.join("http://other/y").unwrap(), url("http://other/y"));
    assert_eq!(base.join("//other:82/y").unwrap(), url("http://other:82/y"));
    assert_eq!(base.join("/y").unwrap(), url("http://h:81/y"));
    assert_eq!(base.join("y.img").unwrap(), url("http://h:81/dir/y.img"));
    assert!(matches!(
        base.join("https://h/y"),
        Err(FetchError::Https { .. })
    ));
    assert!(matches!(
        base.join("mailto:x"),
        Err(FetchError::BadUrl { .. })
    ));
}

// ---- the response head ----

fn head(text: &str) -> Head {
    let (head, len) = parse_head(text.as_bytes()).unwrap().unwrap();
    assert_eq!(len, text.len());
    head
}

fn head_err(text: &str) -> String {
    parse_head(text.as_bytes()).unwrap_err().to_string()
}

#[test]
fn head_basic() {
    let text = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nETag: \"abc\"\r\n\r\nbody";
    let (h, len) = parse_head(text.as_bytes()).unwrap().unwrap();
    assert_eq!(&text[len..], "body");
    let want = Head {
        status: 200,
        reason: "OK".into(),
        content_length: Some(12),
        validator: Some("\"abc\"".into()),
        ..Head::default()
    };
    assert_eq!(h, want);
    // Bare LF, HTTP/1.0, no reason, odd header case and spacing.
    let h = head("HTTP/1.0 404\nlocation:   /x \n\n");
    assert_eq!(
        (h.status, h.reason.as_str(), h.location.as_deref()),
        (404, "", Some("/x"))
    );
    // Weak ETags cannot be used in If-Range; Last-Modified can.
    let h = head("HTTP/1.1 200 OK\r\nETag: W/\"x\"\r\nLast-Modified: Mon, 1 Jan 2024\r\n\r\n");
    assert_eq!(h.validator.as_deref(), Some("Mon, 1 Jan 2024"));
    let h = head("HTTP/1.1 200 OK\r\nLast-Modified: then\r\nETag: \"e\"\r\n\r\n");
    assert_eq!(h.validator.as_deref(), Some("\"e\""));
}

#[test]
fn head_needs_more() {
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(parse_head(&full[..cut]).unwrap(), None, "{cut}");
    }
}

#[test]
fn head_framing() {
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
    assert!(h.chunked);
    assert_eq!(h.content_length, None);
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, Chunked\r\n\r\n");
    assert!(h.chunked);
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(h.content_length, Some(5));
    assert!(
        head_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
            .contains("two different Content-Length")
    );
    assert!(head_err("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n").contains("not a number"));
    assert!(
        head_err("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n")
            .contains("not a number")
    );
    assert!(
        head_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .contains("gzip is not supported")
    );
    assert!(
        head_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
            .contains("not the last")
    );
}

#[test]
fn head_content_range() {
    let h = head("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-199/1000\r\n\r\n");
    assert_eq!(h.content_range, Some((100, 199, Some(1000))));
    let h = head("HTTP/1.1 206 Partial Content\r\ncontent-range: BYTES 5-9/*\r\n\r\n");
    assert_eq!(h.content_range, Some((5, 9, None)));
    let h = head("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */1000\r\n\r\n");
    assert_eq!(h.content_range, None);
    for bad in [
        "bytes 9-5/10",
        "bytes 0-10/10",
        "bytes 1-2",
        "items 1-2/3",
        "bytes -1/3",
        "bytes",
    ] {
        let err = head_err(&format!("HTTP/1.1 206 P\r\nContent-Range: {bad}\r\n\r\n"));
        assert!(
            err.contains("is not `bytes START-END/TOTAL`"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn head_garbage() {
    assert_eq!(
        head_err("SSH-2.0-OpenSSH\r\n\r\n"),
        "bad HTTP response: `SSH-2.0-OpenSSH` is not an HTTP/1.x status line"
    );
    for bad in [
        "HTTP/2 200 OK",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 999 X",
        "HTTP/1.1 2000",
        "HTTP/1.1200 OK",
    ] {
        assert!(
            head_err(&format!("{bad}\r\n\r\n")).contains("status line"),
            "{bad}"
        );
    }
    assert!(head_err("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n").contains("has no colon"));
    assert!(head_err("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n").contains("bad header line"));
    let long = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD));
    assert!(head_err(&long).contains("longer than 16 KiB"));
    // A complete head is found even when more than 16 KiB of body follows.
    let mut big = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    big.resize(3 * MAX_HEAD, b'x');
    assert_eq!(parse_head(&big).unwrap().unwrap().1, 19);
}

// ---- chunked bodies ----

/// Decodes `input` fed in pieces of `step` bytes.
fn dechunk(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), FetchError> {
    let mut decoder = ChunkDecoder::new();
    let mut out = Vec::new();
    for mut piece in input.chunks(step) {
        while !piece.is_empty() && !decoder.is_done() {
            let (used, data) = decoder.decode(piece)?;
            assert!(used > 0 && used <= piece.len() && data.len() <= used);
            out.extend_from_slice(data);
            piece = &piece[used..];
        }
    }
    Ok((out, decoder.is_done()))
}

#[test]
fn chunked_in_any_pieces() {
    let body = b"4\r\nWiki\r\n7;name=value\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nleftover";
    for step in 1..body.len() {
        let (out, done) = dechunk(body, step).unwrap();
        assert_eq!(out, b"Wikipedia in \r\nchunks.", "{step}");
        assert!(done);
    }
    assert_eq!(
        dechunk(b"3\nabc\n0\n\n", 100).unwrap(),
        (b"abc".to_vec(), true)
    );
    assert_eq!(
        dechunk(b"3  \r\nabc\r\n0\r\n", 100).unwrap(),
        (b"abc".to_vec(), false)
    );
    assert_eq!(
        dechunk(b"ffffffffffffffff\r\nab", 100).unwrap(),
        (b"ab".to_vec(), false)
    );
}

#[test]
fn chunked_garbage() {
    for (bad, why) in [
        (&b"\r\n"[..], "expected a hex chunk size"),
        (b"g\r\n", "expected a hex chunk size"),
        (b"3x\r\n", "bad character after the chunk size"),
        (b"3\rabc", "expected CRLF"),
        (b"3\r\nabcd", "expected CRLF"),
        (b"10000000000000000\r\n", "over 16 hex digits"),
        (b"0\r\n\rx", "expected CRLF"),
    ] {
        let err = dechunk(bad, 100).unwrap_err().to_string();
        assert!(err.contains(why), "{bad:?}: {err}");
    }
    let long = [b"1;".to_vec(), vec![b'x'; MAX_HEAD]].concat();
    assert!(dechunk(&long, 100)
        .unwrap_err()
        .to_string()
        .contains("too long"));
}

proptest! {
    #[test]
    fn parse_head_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_head(&bytes);
    }

    #[test]
    fn parse_head_never_panics_on_near_heads(
        lines in proptest::collection::vec("[A-Za-z-]{0,16}:[ -~]{0,24}", 0..6),
        status in "HTTP/1\\.[01] [0-9]{3}[ -~]{0,8}",
        nl in "\r?\n",
    ) {
        let text = format!("{status}{nl}{}{nl}{nl}", lines.join(&nl));
        let _ = parse_head(text.as_bytes());
    }

    #[test]
    fn chunk_decoder_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        step in 1..64usize,
    ) {
        if let Ok((out, _)) = dechunk(&bytes, step) {
            prop_assert!(out.len() <= bytes.len());
        }
    }

    #[test]
    fn chunk_decoder_on_near_chunks(sizes in proptest::collection::vec(0..40usize, 0..6), step in 1..16usize) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..*size).map(|j| (i * 31 + j) as u8).collect();
            wire.extend(format!("{size:x}\r\n").bytes());
            wire.extend(&data);
            wire.extend(b"\r\n");
            want.extend(data);
            if *size == 0 { break; }
        }
        // A body cut anywhere decodes to a prefix of the data.
        let (out, _) = dechunk(&wire, step).unwrap();
        prop_assert!(want.starts_with(&out));
    }
}

// ---- fetch against a server on 127.0.0.1 ----

/// A one-thread HTTP server: `reply(n, request)` gives the bytes to send on
/// the `n`th connection, which is then closed. Records the request heads.
struct Server {
    addr: SocketAddr,
    thread: JoinHandle<Vec<String>>,
}

impl Server {
    fn start(reply: impl Fn(usize, &str) -> Vec<u8> + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for (n, conn) in listener.incoming().take(20).enumerate() {
                let mut conn = conn.unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let request = read_request(&mut conn);
                if request.is_empty() {
                    break; // `finish` knocking.
                }
                // The client may be gone (too large, bad response).
                let _ = conn.write_all(&reply(n, &request));
                requests.push(request);
            }
            requests
        });
        Server { addr, thread }
    }

    fn url(&self, path: &str) -> Url {
        url(&format!("http://{}{path}", self.addr))
    }

    /// Stops the server; the requests it saw.
    fn finish(self) -> Vec<String> {
        drop(TcpStream::connect(self.addr));
        self.thread.join().unwrap()
    }
}

fn read_request(conn: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut byte = [0];
    while !request.ends_with(b"\r\n\r\n") && request.len() < 4096 {
        match conn.read(&mut byte) {
            Ok(1) => request.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8(request).unwrap()
}

/// 300 KB that is not periodic in 64 KiB.
fn image() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    [
        format!("HTTP/1.1 {status}\r\n{headers}\r\n").as_bytes(),
        body,
    ]
    .concat()
}

fn ok(body: &[u8]) -> Vec<u8> {
    response(
        "200 OK",
        &format!("Content-Length: {}\r\n", body.len()),
        body,
    )
}

/// The range asked for: `Range: bytes=N-`.
fn range(request: &str) -> Option<usize> {
    let at = request.find("Range: bytes=")? + 13;
    request[at..].split('-').next()?.parse().ok()
}

/// A file in the temp dir, removed on drop.
struct Temp {
    path: std::path::PathBuf,
    file: File,
}

impl Temp {
    fn new() -> Temp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "init-http-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        Temp { path, file }
    }

    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn opts() -> FetchOptions<'static> {
    FetchOptions {
        backoff: Duration::ZERO,
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..FetchOptions::default()
    }
}

/// Fetches `path` from `server` with `opts`; the result, the file, the
/// progress reports and the requests the server saw.
fn run(
    server: Server,
    path: &str,
    opts: &FetchOptions,
) -> (
    Result<FetchReport, FetchError>,
    Vec<u8>,
    Vec<Progress>,
    Vec<String>,
) {
    let mut temp = Temp::new();
    let mut reports = Vec::new();
    let result = fetch(&server.url(path), &mut temp.file, opts, &mut |p| {
        reports.push(*p);
    });
    (result, temp.contents(), reports, server.finish())
}

#[test]
fn content_length_200() {
    let body = image();
    let sent = body.clone();
    let server = Server::start(move |_, _| ok(&sent));
    let host = format!("\r\nHost: {}\r\n", server.addr);
    let (result, file, reports, requests) = run(server, "/store.img", &opts());
    let report = result.unwrap();
    assert_eq!(file, body);
    assert_eq!(
        (report.bytes, report.sha256, report.resumes),
        (300_000, digest(&body), 0)
    );
    assert!(report.url.ends_with("/store.img"));
    verify(&report, &digest(&body)).unwrap();
    let request = &requests[0];
    assert!(
        request.starts_with("GET /store.img HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains(&host), "{request}");
    assert!(request.contains(&format!(
        "\r\nUser-Agent: init/{}\r\n",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(request.contains("\r\nConnection: close\r\n"));
    assert!(!request.contains("Range"));
    // The last report is the end.
    let last = reports.last().unwrap();
    assert_eq!(
        (last.done, last.total, last.eta),
        (300_000, Some(300_000), Some(Duration::ZERO))
    );
}

#[test]
fn chunked_200() {
    let body = image();
    let sent = body.clone();
    let server = Server::start(move |_, _| {
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for piece in sent.chunks(70_001) {
            wire.extend(format!("{:x};x=y\r\n", piece.len()).bytes());
            wire.extend(piece);
            wire.extend(b"\r\n");
        }
        wire.extend(b"0\r\nX-Sum: none\r\n\r\n");
        wire
    });
    let (result, file, _, _) = run(server, "/", &opts());
    assert_eq!(result.unwrap().sha256, digest(&body));
    assert_eq!(file, body);
}

#[test]
fn body_until_close_and_interim_head() {
    let server = Server::start(|_, _| {
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nall of it".to_vec()
    });
    let (result, file, _, _) = run(server, "/", &opts());
    assert_eq!(result.unwrap().bytes, 9);
    assert_eq!(file, b"all of it");
}

#[test]
fn not_found_404() {
    let server = Server::start(|_, _| response("404 Not Found", "Content-Length: 0\r\n", b""));
    let (result, file, _, _) = run(server, "/missing.img", &opts());
    let err = result.unwrap_err().to_string();
    assert!(err.starts_with("http://127.0.0.1:"), "{err}");
    assert!(
        err.ends_with("/missing.img: HTTP 404 Not Found: check the URL"),
        "{err}"
    );
    assert!(file.is_empty());
}

#[test]
fn server_error_500() {
    let server = Server::start(|_, _| response("500 Internal Server Error", "", b"oops"));
    let err = run(server, "/x", &opts()).0.unwrap_err().to_string();
    assert!(
        err.ends_with(
            "/x: HTTP 500 Internal Server Error: the server failed: check its log, then retry"
        ),
        "{err}"
    );
}

#[test]
fn redirect_followed() {
    let body = image();
    let sent = body.clone();
    let server = Server::start(move |_, request| {
        if request.starts_with("GET /old ") {
            response("301 Moved Permanently", "Location: /new/store.img\r\n", b"")
        } else if request.starts_with("GET /new/store.img ") {
            response(
                "302 Found",
                "Location: final.img\r\nContent-Length: 3\r\n",
                b"abc",
            )
        } else {
            ok(&sent)
        }
    });
    let (result, file, _, requests) = run(server, "/old", &opts());
    let report = result.unwrap();
    assert!(report.url.ends_with("/new/final.img"), "{}", report.url);
    assert_eq!(file, body);
    assert_eq!(requests.len(), 3);
}

#[test]
fn redirect_limits() {
    let server = Server::start(|n, _| response("302 Found", &format!("Location: /r{n}\r\n"), b""));
    let (result, _, _, requests) = run(server, "/", &opts());
    let err = result.unwrap_err().to_string();
    assert!(
        err.ends_with("/r4: HTTP 302 Found (after 5 redirects): give the final URL in root="),
        "{err}"
    );
    assert_eq!(requests.len(), 6);

    let server =
        Server::start(|_, _| response("307 Temporary Redirect", "Location: https://h/x\r\n", b""));
    let err = run(server, "/a", &opts()).0.unwrap_err().to_string();
    assert!(
        err.contains("/a redirects to https://h/x: https is not supported"),
        "{err}"
    );

    let server = Server::start(|_, _| response("302 Found", "", b""));
    let err = run(server, "/", &opts()).0.unwrap_err().to_string();
    assert!(
        err.contains("bad HTTP response: HTTP 302 without a Location"),
        "{err}"
    );
}

/// Cut `body` after `cut` bytes, announcing all of it.
fn cut_short(body: &[u8], cut: usize, validator: &str) -> Vec<u8> {
    response(
        "200 OK",
        &format!("Content-Length: {}\r\n{validator}", body.len()),
        &body[..cut],
    )
}

#[test]
fn resume_after_drop() {
    let body = image();
    let sent = body.clone();
    let server = Server::start(move |n, request| match (n, range(request)) {
        (0, None) => cut_short(&sent, 150_000, "ETag: \"v1\"\r\n"),
        (_, Some(from)) => {
            let cr = format!(
                "Content-Range: bytes {from}-{}/{}\r\n",
                sent.len() - 1,
                sent.len()
            );
            response(
                "206 Partial Content",
                &format!("{cr}Content-Length: {}\r\n", sent.len() - from),
                &sent[from..],
            )
        }
        _ => response("400 Bad Request", "", b""),
    });
    let (result, file, _, requests) = run(server, "/img", &opts());
    let report = result.unwrap();
    assert_eq!((report.bytes, report.resumes), (300_000, 1));
    assert_eq!(report.sha256, digest(&body));
    assert_eq!(file, body);
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].contains("\r\nRange: bytes=150000-\r\nIf-Range: \"v1\"\r\n"),
        "{}",
        requests[1]
    );
}

/// A server whose first response is `first`; every later one is `then`'s
/// answer to the request.
fn drop_then(first: Vec<u8>, then: impl Fn(&str) -> Vec<u8> + Send + 'static) -> Server {
    Server::start(move |n, request| if n == 0 { first.clone() } else { then(request) })
}

#[test]
fn ignored_range_restarts() {
    warnings("");
    let body = image();
    let sent = body.clone();
    let first = cut_short(&sent, 100_000, "Last-Modified: Mon, 1 Jan 2024\r\n");
    let server = drop_then(first, move |_| ok(&sent));
    let prefix = server.url("/img").to_string();
    let (result, file, _, requests) = run(server, "/img", &opts());
    let report = result.unwrap();
    assert_eq!((report.bytes, report.resumes), (300_000, 1));
    assert_eq!(report.sha256, digest(&body));
    assert_eq!(file, body);
    assert_eq!(range(&requests[1]), Some(100_000));
    assert!(requests[1].contains("\r\nIf-Range: Mon, 1 Jan 2024\r\n"));
    assert_eq!(
        warnings(&prefix)[1],
        format!(
            "{prefix}: the server sent the whole file (200): it changed, or it ignores Range: \
             starting over from byte 0 (had 100000 bytes)"
        )
    );
}

#[test]
fn wrong_range_is_an_error() {
    let body = image();
    let server = Server::start(move |n, _| {
        if n == 0 {
            cut_short(&body, 1000, "ETag: \"a\"\r\n")
        } else {
            response(
                "206 Partial Content",
                "Content-Range: bytes 0-9/300000\r\n",
                b"0123456789",
            )
        }
    });
    let err = run(server, "/", &opts()).0.unwrap_err().to_string();
    assert!(
        err.contains(
            "asked for bytes 1000- and got 206 with Content-Range Some((0, 9, Some(300000)))"
        ),
        "{err}"
    );
}

#[test]
fn unasked_206_is_an_error() {
    let server = Server::start(|_, _| {
        response(
            "206 Partial Content",
            "Content-Range: bytes 5-9/10\r\n",
            b"56789",
        )
    });
    let (result, file, _, requests) = run(server, "/img", &opts());
    let err = result.unwrap_err().to_string();
    assert!(err.contains("asked for bytes 0- and got 206"), "{err}");
    assert!(file.is_empty());
    assert_eq!(requests.len(), 1);
}

#[test]
fn always_drops_unanswered() {
    let server = Server::start(|_, _| Vec::new());
    let options = FetchOptions {
        retries: 2,
        ..opts()
    };
    let (result, _, _, requests) = run(server, "/img", &options);
    let err = result.unwrap_err().to_string();
    assert!(err.ends_with("/img: received 0 bytes after 2 retries (the server closed the connection unanswered): check the network and the server, then retry"), "{err}");
    assert_eq!(requests.len(), 3);
}

#[test]
fn drops_until_retries_run_out() {
    let body = image();
    let server = Server::start(move |_, request| {
        let from = range(request).unwrap_or(0);
        let end = from + 10_000;
        if from == 0 {
            cut_short(&body, end, "ETag: \"a\"\r\n")
        } else {
            let cr = format!(
                "Content-Range: bytes {from}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            );
            response(
                "206 Partial Content",
                &format!("{cr}Content-Length: {}\r\n", body.len() - from),
                &body[from..end],
            )
        }
    });
    let options = FetchOptions {
        retries: 3,
        ..opts()
    };
    let (result, file, _, requests) = run(server, "/img", &options);
    let err = result.unwrap_err().to_string();
    assert!(err.ends_with("/img: received 40000 of 300000 bytes after 3 retries (the server closed the connection): check the network and the server, then retry"), "{err}");
    assert_eq!(file.len(), 40_000);
    assert_eq!(requests.len(), 4);
}

#[test]
fn size_check_refuses() {
    let body = image();
    let server = Server::start(move |_, _| ok(&body));
    let check = |size: u64| crate::meminfo::check_fits(size, 200 << 10, 64 << 10);
    let options = FetchOptions {
        expected_size_check: Some(&check),
        ..opts()
    };
    let (result, file, _, _) = run(server, "/img", &options);
    let err = result.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }));
    assert!(err.to_string().ends_with("/img: the store image is 1 MiB but only 0 MiB of RAM is free (keeping 1 MiB for the system): give the machine more memory or use a smaller image"), "{err}");
    assert!(file.is_empty(), "nothing written before the check");
}

#[test]
fn size_check_without_length() {
    let server = Server::start(|_, _| response("200 OK", "", &[7; 5000]));
    let seen = std::cell::RefCell::new(Vec::new());
    let check = |size: u64| {
        seen.borrow_mut().push(size);
        if size > 3000 {
            Err(format!("{size} is too many"))
        } else {
            Ok(())
        }
    };
    let options = FetchOptions {
        expected_size_check: Some(&check),
        ..opts()
    };
    let err = run(server, "/", &options).0.unwrap_err().to_string();
    assert!(err.ends_with(" is too many"), "{err}");
    assert!(seen.borrow().iter().all(|&s| s > 0 && s <= 5000));
}

#[test]
fn wrong_expected_hash() {
    let server = Server::start(|_, _| ok(b"abc"));
    let report = run(server, "/img", &opts()).0.unwrap();
    let err = verify(&report, &[0x11; 32]).unwrap_err().to_string();
    let want = format!(
        "/img: SHA-256 mismatch: sha256= is {}, the image is {}: check sha256= against `sha256sum` of the image on the server",
        "11".repeat(32),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(err.ends_with(&want), "{err}");
}

#[test]
fn connection_refused() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut temp = Temp::new();
    let url = url(&format!("http://{addr}/img"));
    let err = fetch(&url, &mut temp.file, &opts(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.starts_with(&format!("http://{addr}/img: cannot connect to {addr}: ")),
        "{err}"
    );
    assert!(
        err.ends_with(
            ": check that the server is up and reachable from here (ip=, cable, firewall)"
        ),
        "{err}"
    );
}

#[test]
fn progress_reports() {
    let body = image();
    let server = Server::start(move |_, _| ok(&body));
    let options = FetchOptions {
        progress_every: Duration::ZERO,
        ..opts()
    };
    let (result, _, reports, _) = run(server, "/", &options);
    result.unwrap();
    assert!(reports.len() >= 2, "{reports:?}");
    assert!(reports.windows(2).all(|w| w[0].done <= w[1].done));
    assert!(reports.iter().all(|r| r.total == Some(300_000)));
    let p = Progress {
        done: 3 << 20,
        total: Some(12 << 20),
        rate_bytes_per_s: 1_572_864,
        eta: Some(Duration::from_secs(6)),
    };
    assert_eq!(
        p.to_string(),
        "3.0 MiB of 12.0 MiB (25%), 1.5 MiB/s, 6 s left"
    );
    let p = Progress {
        done: 0,
        total: None,
        rate_bytes_per_s: 0,
        eta: None,
    };
    assert_eq!(p.to_string(), "0.0 MiB, 0.0 MiB/s");
}

#[test]
fn mib_rounds_half_up_to_one_decimal() {
    assert_eq!(Mib(0).to_string(), "0.0");
    assert_eq!(Mib(3 * 1_048_576 + 524_288).to_string(), "3.5");
    assert_eq!(Mib(1_048_575).to_string(), "1.0");
    assert_eq!(Mib(52_428).to_string(), "0.0");
    assert_eq!(Mib(52_429).to_string(), "0.1");
    assert_eq!(Mib(u64::MAX).to_string(), "17592186044416.0");
}

#[test]
fn error_messages() {
    let err = FetchError::Resolve {
        url: "http://boot.lan/x".into(),
        host: "boot.lan".into(),
        error: "failed to lookup address".into(),
    };
    assert_eq!(
        err.to_string(),
        "cannot resolve host boot.lan in URL http://boot.lan/x (failed to lookup address): check DNS (nameserver from DHCP or ip=) or use an IP address"
    );
    let err = FetchError::Truncated {
        url: "http://h/x".into(),
        received: 5,
        total: None,
        retries: 2,
        last: "reset".into(),
    };
    assert_eq!(err.to_string(), "http://h/x: received 5 bytes after 2 retries (reset): check the network and the server, then retry");
}

// ---- resuming only against a validator; stalls ----

/// Captures the warnings `fetch` logs (nextest runs each test in a process
/// of its own; under `cargo test` each test filters by its server's URL).
struct Capture(std::sync::Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(std::sync::Mutex::new(Vec::new()));

/// The warnings logged so far about URLs starting with `prefix`.
fn warnings(prefix: &str) -> Vec<String> {
    // Set by the first caller, before its fetch; the others fail harmlessly.
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let all = CAPTURE.0.lock().unwrap();
    all.iter()
        .filter(|w| w.starts_with(prefix))
        .cloned()
        .collect()
}

/// The whole of `body` with `etag`, or its rest from a `Range` if the
/// request's `If-Range` matches `etag` (as RFC 9110 §13.1.5 says a server
/// does).
fn honour_if_range(request: &str, body: &[u8], etag: &str) -> Vec<u8> {
    let tag = format!("ETag: {etag}\r\n");
    match range(request) {
        Some(from) if request.contains(&format!("If-Range: {etag}\r\n")) => response(
            "206 Partial Content",
            &format!(
                "{tag}Content-Range: bytes {from}-{}/{}\r\nContent-Length: {}\r\n",
                body.len() - 1,
                body.len(),
                body.len() - from
            ),
            &body[from..],
        ),
        _ => response(
            "200 OK",
            &format!("{tag}Content-Length: {}\r\n", body.len()),
            body,
        ),
    }
}

/// (a) Dropped mid-body by a server that gave no validator: the second
/// request asks for everything, and the console says why.
#[test]
fn drop_without_validator_starts_over() {
    warnings("");
    let body = image();
    let sent = body.clone();
    let server = drop_then(cut_short(&sent, 120_000, ""), move |_| ok(&sent));
    let prefix = server.url("/img").to_string();
    let (result, file, _, requests) = run(server, "/img", &opts());
    let report = result.unwrap();
    assert_eq!((report.bytes, report.resumes), (300_000, 1));
    assert_eq!(report.sha256, digest(&body));
    assert_eq!(file, body);
    assert_eq!(requests.len(), 2);
    assert!(!requests[1].contains("Range"), "{}", requests[1]);
    assert_eq!(
        warnings(&prefix),
        [
            format!("{prefix}: the server closed the connection: reconnecting in 0 ms (1 of 5)"),
            format!(
                "{prefix}: no strong ETag or Last-Modified to resume against: \
                 starting over from byte 0 (had 120000 bytes)"
            ),
        ]
    );
}

/// (b) The file changes on the server between two attempts. With an ETag
/// the server sees that `If-Range` no longer matches and sends the new file
/// whole; the result is the new file, not a splice of the two.
#[test]
fn changed_file_with_validator_restarts() {
    warnings("");
    let (old, new) = (image(), image().iter().map(|b| !b).collect::<Vec<_>>());
    let sent = new.clone();
    let first = cut_short(&old, 150_000, "ETag: \"v1\"\r\n");
    let server = drop_then(first, move |request| {
        honour_if_range(request, &sent, "\"v2\"")
    });
    let prefix = server.url("/img").to_string();
    let (result, file, _, requests) = run(server, "/img", &opts());
    assert_eq!(result.unwrap().sha256, digest(&new));
    assert_eq!(file, new);
    assert!(requests[1].contains("\r\nRange: bytes=150000-\r\nIf-Range: \"v1\"\r\n"));
    assert!(warnings(&prefix)[1].contains("(200): it changed"));
}

/// (b) The same without a validator: the second attempt starts from 0.
#[test]
fn changed_file_without_validator_restarts() {
    let (old, new) = (image(), image().iter().map(|b| !b).collect::<Vec<_>>());
    let sent = new.clone();
    let server = drop_then(cut_short(&old, 150_000, ""), move |request| {
        if range(request).is_some() {
            // What a server without validators would splice.
            let cr = "Content-Range: bytes 150000-299999/300000\r\n";
            response("206 Partial Content", cr, &sent[150_000..])
        } else {
            ok(&sent)
        }
    });
    let (result, file, _, _) = run(server, "/img", &opts());
    assert_eq!(result.unwrap().sha256, digest(&new));
    assert_eq!(file, new);
}

/// A server that sends part of the body and then nothing, for `stall`.
/// Each connection gets a thread; the first stalls, the next honour ETag
/// `"s"` unless `always` stall too.
fn stalling_server(body: Vec<u8>, stall: Duration, always: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let body = std::sync::Arc::new(body);
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().take(10).enumerate() {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut conn = conn.unwrap();
                let request = read_request(&mut conn);
                if n == 0 || always {
                    let cut = cut_short(&body, 50_000 + n * 1000, "ETag: \"s\"\r\n");
                    let _ = conn.write_all(&cut);
                    std::thread::sleep(stall);
                } else {
                    let _ = conn.write_all(&honour_if_range(&request, &body, "\"s\""));
                }
            });
        }
    });
    addr
}

/// (c) Silence past the read timeout counts as a drop: reconnect, resume.
#[test]
fn stall_reconnects_and_resumes() {
    warnings("");
    let body = image();
    let addr = stalling_server(body.clone(), Duration::from_secs(10), false);
    let target = url(&format!("http://{addr}/img"));
    let options = FetchOptions {
        read_timeout: Duration::from_secs(1),
        ..opts()
    };
    let mut temp = Temp::new();
    let started = Instant::now();
    let report = fetch(&target, &mut temp.file, &options, &mut |_| {}).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!((report.bytes, report.resumes), (300_000, 1));
    assert_eq!(temp.contents(), body);
    assert_eq!(
        warnings(&target.to_string()),
        [format!(
            "{target}: no data for 1 s: reconnecting in 0 ms (1 of 5)"
        )]
    );
}

/// (c) A server that always stalls: the retries run out, with backoff, and
/// the error (for the failure menu) says why.
#[test]
fn stall_until_retries_run_out() {
    let addr = stalling_server(image(), Duration::from_secs(10), true);
    let target = url(&format!("http://{addr}/img"));
    let options = FetchOptions {
        retries: 2,
        backoff: Duration::from_millis(100),
        read_timeout: Duration::from_secs(1),
        ..opts()
    };
    let mut temp = Temp::new();
    let started = Instant::now();
    let err = fetch(&target, &mut temp.file, &options, &mut |_| {}).unwrap_err();
    // Three silences of 1 s and backoffs of 0.1 and 0.2 s.
    assert!(started.elapsed() >= Duration::from_millis(3300));
    assert!(
        err.to_string().ends_with(
            "/img: received 52000 of 300000 bytes after 2 retries (no data for 1 s): \
             check the network and the server, then retry"
        ),
        "{err}"
    );
}

#[test]
fn rate_is_the_u128_quotient() {
    // The u128 arithmetic `rate` replaces, clamped to u64 as it was.
    let wide = |received: u64, micros: u64| {
        (u128::from(received) * 1_000_000)
            .checked_div(u128::from(micros))
            .map_or(0, |r| u64::try_from(r).unwrap_or(u64::MAX))
    };
    let day = 86_400_000_000;
    for (received, micros) in [
        (0, 0),
        (12_345, 0),
        (0, 7),
        (1, 3),
        (1_572_864, 1_000_000),
        (1_000_000_007, 999_983),
        (u64::MAX / 1_000_000 + 1, 1_000_001),
        (u64::MAX, 1),
        (u64::MAX, 1_000_000),
        (u64::MAX, 3),
        (u64::MAX - 5, 200 * day),
        (u64::MAX, u64::MAX),
    ] {
        assert_eq!(
            rate(received, micros),
            wide(received, micros),
            "{received} B in {micros} µs"
        );
    }
}
