//! A small HTTP/1.1 file server for the netboot VM tests: it binds
//! 127.0.0.1 only (the guest reaches it through QEMU's `guestfwd`), serves
//! a fixed set of files with `Content-Length` and `Range`, and can drop the
//! connection half-way through a file once, to test resuming, and can act
//! as a server without validators whose file changes at that drop (a file
//! replaced on the server mid-download). Every
//! connection is served in a thread with a read timeout; dropping the
//! server stops it.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server does.
#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// Close the connection after this many body bytes, once.
    drop_after: Mutex<Option<usize>>,
    /// Send no `ETag` and honour every `Range` (a naive server), and put
    /// this file in place when the connection is dropped.
    replace_at_drop: Mutex<Option<(String, Arc<Vec<u8>>)>>,
    no_validators: AtomicBool,
    /// Requests seen, as `METHOD PATH [Range]`.
    log: Mutex<Vec<String>>,
}

/// A running server; see the module docs.
pub struct HttpServer {
    port: u16,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    served: Arc<AtomicUsize>,
}

impl HttpServer {
    /// Serve `files` (URL path → content) on 127.0.0.1, on a free port.
    pub fn start(files: Vec<(String, Vec<u8>)>) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            files: Mutex::new(files.into_iter().map(|(p, c)| (p, Arc::new(c))).collect()),
            ..State::default()
        });
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (state, stop, served) = (state.clone(), stop.clone(), served.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let state = state.clone();
                            let served = served.clone();
                            std::thread::spawn(move || {
                                let _ = serve(&conn, &state);
                                served.fetch_add(1, Ordering::Relaxed);
                            });
                        }
                        // Non-blocking accept: look at `stop` every 50 ms.
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
        };
        Ok(HttpServer {
            port,
            state,
            stop,
            thread: Some(thread),
            served,
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Close the next response's connection after `bytes` of its body.
    pub fn drop_once_after(&self, bytes: usize) {
        *self.state.drop_after.lock().expect("lock") = Some(bytes);
    }

    /// From now on behave as a server without validators (no `ETag`, every
    /// `Range` honoured), and at the next dropped connection replace
    /// `path`'s content with `content`: what a client that resumes without
    /// a validator would splice from two versions.
    pub fn change_at_drop_without_validators(&self, path: &str, content: Vec<u8>) {
        self.state.no_validators.store(true, Ordering::Relaxed);
        *self.state.replace_at_drop.lock().expect("lock") = Some((path.into(), Arc::new(content)));
    }

    /// The requests seen so far (`GET /path`, with ` Range: …` if any).
    pub fn requests(&self) -> Vec<String> {
        self.state.log.lock().expect("lock").clone()
    }

    /// Connections served to the end (or dropped on purpose).
    pub fn served(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The validator every file has.
const ETAG: &str = "\"v1\"";

fn serve(conn: &TcpStream, state: &State) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range: Option<u64> = None;
    let mut if_range = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = v
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|n| n.parse().ok());
            } else if k.eq_ignore_ascii_case("if-range") {
                v.trim().clone_into(&mut if_range);
            }
        }
    }
    let mut words = request.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    state.log.lock().expect("lock").push(match range {
        Some(r) => format!("{method} {path} Range: bytes={r}-"),
        None => format!("{method} {path}"),
    });
    let mut out = conn;
    let body = state.files.lock().expect("lock").get(path).cloned();
    let Some(body) = body.filter(|_| method == "GET") else {
        let msg = "not here\n";
        write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        )?;
        return Ok(());
    };
    // The files never change: one strong ETag for all, and a range only
    // for a request that shows it (as stage-1 resumes: RFC 9110 If-Range).
    // Without validators a naive server honours any range.
    let naive = state.no_validators.load(Ordering::Relaxed);
    let range = range.filter(|_| naive || if_range == ETAG);
    let etag = if naive {
        String::new()
    } else {
        format!("ETag: {ETAG}\r\n")
    };
    let start = range.unwrap_or(0).min(body.len() as u64) as usize;
    if range.is_some() {
        write!(
            out,
            "HTTP/1.1 206 Partial Content\r\n{etag}Content-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
            body.len() - start,
            body.len().saturating_sub(1),
            body.len()
        )?;
    } else {
        write!(
            out,
            "HTTP/1.1 200 OK\r\n{etag}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
    }
    let drop_after = state.drop_after.lock().expect("lock").take();
    let end = drop_after.map_or(body.len(), |n| (start + n).min(body.len()));
    out.write_all(&body[start..end])?;
    out.flush()?;
    if drop_after.is_some() {
        if let Some((path, content)) = state.replace_at_drop.lock().expect("lock").take() {
            state.files.lock().expect("lock").insert(path, content);
        }
        let _ = conn.shutdown(Shutdown::Both);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(port: u16, path: &str, range: Option<u64>) -> String {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let extra = range.map_or(String::new(), |r| {
            format!("Range: bytes={r}-\r\nIf-Range: {ETAG}\r\n")
        });
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn serves_files_ranges_404_and_a_dropped_body() {
        let srv = HttpServer::start(vec![("/f".into(), b"0123456789".to_vec())]).unwrap();
        let r = get(srv.port(), "/f", None);
        assert!(
            r.starts_with("HTTP/1.1 200 OK") && r.ends_with("\r\n\r\n0123456789"),
            "{r}"
        );
        let r = get(srv.port(), "/f", Some(4));
        assert!(
            r.contains("206") && r.contains("bytes 4-9/10") && r.ends_with("456789"),
            "{r}"
        );
        assert!(get(srv.port(), "/nope", None).starts_with("HTTP/1.1 404"));
        srv.drop_once_after(3);
        assert!(get(srv.port(), "/f", None).ends_with("\r\n\r\n012"));
        assert!(get(srv.port(), "/f", None).ends_with("0123456789"));
        assert_eq!(srv.requests().len(), 5);
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;

    /// stage-1's client against this server: a dropped body is resumed.
    #[test]
    fn stage1_fetch_resumes_a_dropped_body() {
        let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let srv = HttpServer::start(vec![("/img".into(), body.clone())]).unwrap();
        srv.drop_once_after(300_000);
        let url = net::http::Url::parse(&format!("http://127.0.0.1:{}/img", srv.port())).unwrap();
        let path = std::env::temp_dir().join(format!("fetch-resume-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        let opts = net::http::FetchOptions {
            read_timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let report = net::http::fetch(&url, &mut file, &opts, &mut |_| {}).unwrap();
        let got = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(report.resumes, 1, "{:?}", srv.requests());
        assert!(got == body, "the resumed file differs");
    }
}

#[cfg(test)]
mod changed_file_tests {
    use super::*;

    /// A server without validators whose file is replaced at the dropped
    /// connection: stage-1 must start over, not splice the two versions.
    /// (Resuming with `Range` here would get the new file's tail after the
    /// old file's head: this server honours any range.)
    #[test]
    fn stage1_fetch_starts_over_when_a_validatorless_file_changes() {
        let old: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let new: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
        let srv = HttpServer::start(vec![("/img".into(), old)]).unwrap();
        srv.change_at_drop_without_validators("/img", new.clone());
        srv.drop_once_after(300_000);
        let url = net::http::Url::parse(&format!("http://127.0.0.1:{}/img", srv.port())).unwrap();
        let path = std::env::temp_dir().join(format!("fetch-change-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        let opts = net::http::FetchOptions {
            read_timeout: Duration::from_secs(5),
            ..Default::default()
        };
        net::http::fetch(&url, &mut file, &opts, &mut |_| {}).unwrap();
        let got = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let reqs = srv.requests();
        assert!(
            reqs.iter().all(|r| !r.contains("Range")),
            "resumed without a validator: {reqs:?}"
        );
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert!(got == new, "the fetched file is not the new version");
    }
}
