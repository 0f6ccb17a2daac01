//! From input bytes to lines in the log directories: a line is stamped at
//! its first character, at most `-l` characters are matched (and copied to
//! stderr and UDP, `...` marking the cut), the rest goes only to `current`.
use std::os::fd::OwnedFd;

use super::logdir::LogDir;
use super::options::Opts;
use super::stamp::{now, Stamper};

pub(super) struct Lines {
    linemax: usize,
    kind: u8,
    stamper: Stamper,
    /// `-r`/`-R`: every byte's replacement (None: no replacing).
    map: Option<[u8; 256]>,
    line: Vec<u8>,
    stamp: [u8; 26],
    /// A line has begun (its stamp is taken).
    started: bool,
    /// The line passed `-l`: the rest goes to `current` as it is.
    rest: bool,
    udp: Option<OwnedFd>,
    msg: Vec<u8>,
}

impl Lines {
    pub fn new(o: &Opts) -> Lines {
        let map = (o.repl != 0).then(|| {
            std::array::from_fn(|c| {
                let c = c as u8;
                if !(32..=126).contains(&c) || o.replace.contains(&c) {
                    o.repl
                } else {
                    c
                }
            })
        });
        Lines {
            linemax: o.linemax,
            kind: o.stamp,
            stamper: Stamper::new(o.stamp),
            map,
            line: Vec::with_capacity(o.linemax),
            stamp: [0; 26],
            started: false,
            rest: false,
            udp: None,
            msg: Vec::new(),
        }
    }

    /// Whether a line has begun and not ended.
    pub fn partial(&self) -> bool {
        self.started
    }

    /// Take every byte of `buf`; lines are complete at their newline.
    pub fn feed(&mut self, mut buf: &[u8], dirs: &mut [LogDir]) {
        while !buf.is_empty() {
            if !self.started {
                self.started = true;
                if self.kind > 0 {
                    let (s, us) = now();
                    self.stamp = *self.stamper.stamp(s, us);
                }
            }
            if self.rest {
                let (part, nl) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[..i], true),
                    None => (buf, false),
                };
                for d in dirs
                    .iter_mut()
                    .filter(|d| d.fd.is_some() && d.log && !d.cfg.udp_only)
                {
                    d.put(part);
                }
                buf = &buf[part.len() + usize::from(nl)..];
                if nl {
                    self.end(dirs);
                }
                continue;
            }
            let take = &buf[..buf.len().min(self.linemax - self.line.len())];
            let nl = take.iter().position(|&b| b == b'\n');
            let part = &take[..nl.unwrap_or(take.len())];
            match &self.map {
                Some(m) => self.line.extend(part.iter().map(|&c| m[c as usize])),
                None => self.line.extend_from_slice(part),
            }
            buf = &buf[part.len() + usize::from(nl.is_some())..];
            if nl.is_some() {
                self.head(dirs);
                self.end(dirs);
            } else if self.line.len() == self.linemax {
                self.head(dirs);
                self.rest = true;
            }
        }
    }

    /// End an unfinished line (at the end of input).
    pub fn finish(&mut self, dirs: &mut [LogDir]) {
        if self.started {
            if !self.rest {
                self.head(dirs);
            }
            self.end(dirs);
        }
    }

    fn stamp_len(&self) -> usize {
        if self.kind > 0 {
            26
        } else {
            0
        }
    }

    /// The matched part of the line: select it per directory, copy it to
    /// stderr (`e`) and UDP, write stamp, prefix and text to `current`.
    fn head(&mut self, dirs: &mut [LogDir]) {
        let cut: &[u8] = if self.line.len() == self.linemax {
            b"..."
        } else {
            b""
        };
        for d in dirs.iter_mut().filter(|d| d.fd.is_some()) {
            let err;
            (d.log, err) = d.cfg.select(&self.line);
            if err || (d.log && d.cfg.udp.is_some()) {
                self.msg.clear();
                let stamp = &self.stamp[..self.stamp_len()];
                for p in [stamp, &d.cfg.prefix, &self.line, cut, b"\n"] {
                    self.msg.extend_from_slice(p);
                }
            }
            if err {
                let _ = rustix::io::write(rustix::stdio::stderr(), &self.msg);
            }
            if !d.log {
                continue;
            }
            if let Some(addr) = d.cfg.udp {
                self.send(d, addr);
            }
            if !d.cfg.udp_only {
                d.put(&self.stamp[..self.stamp_len()]);
                let prefix = std::mem::take(&mut d.cfg.prefix);
                d.put(&prefix);
                d.cfg.prefix = prefix;
                d.put(&self.line);
            }
        }
        self.line.clear();
    }

    /// runit writes a failed send into `current`.
    fn send(&mut self, d: &mut LogDir, addr: std::net::SocketAddrV4) {
        use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};
        if self.udp.is_none() {
            let f = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
            self.udp =
                rustix::net::socket_with(AddressFamily::INET, SocketType::DGRAM, f, None).ok();
        }
        let Some(sock) = &self.udp else {
            d.put(b"warning: no udp socket available: ");
            d.put(
                &self.msg[..self.msg.len() - 1 - usize::from(self.line.len() == self.linemax) * 3],
            );
            d.put(b"\n");
            return;
        };
        if rustix::net::sendto(sock, &self.msg, SendFlags::empty(), &addr) != Ok(self.msg.len()) {
            d.put(b"warning: failure sending through udp: ");
            d.put(&self.msg);
        }
    }

    fn end(&mut self, dirs: &mut [LogDir]) {
        for d in dirs
            .iter_mut()
            .filter(|d| d.fd.is_some() && d.log && !d.cfg.udp_only)
        {
            d.put(b"\n");
        }
        self.started = false;
        self.rest = false;
    }
}
