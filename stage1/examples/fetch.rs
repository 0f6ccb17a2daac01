//! `fetch --hash FILE`: the SHA-256 alone over a file, in the 64 KiB reads
//! the download uses.
//!
//! `fetch URL FILE [--sha256 HEX]`: stage-1's own download (the plan's
//! fetch step: sizing against RAM and tmpfs, resume, `sha256=`) run natively,
//! for `bench/fetch.sh`. Prints one line: bytes, seconds, MiB/s, which
//! SHA-256 code ran, and the peak RSS (VmHWM) in KiB.
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, file] = args.as_slice() {
        if flag == "--hash" {
            hash_file(file);
            return;
        }
    }
    let (url, file, hex) = match args.as_slice() {
        [url, file] => (url, file, None),
        [url, file, flag, hex] if flag == "--sha256" => (url, file, Some(hex.as_str())),
        _ => {
            eprintln!("usage: fetch URL FILE [--sha256 HEX] | fetch --hash FILE");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    if let Err(e) = stage1::fetch::fetch_store(url, Path::new(file), hex) {
        eprintln!("fetch: {e:#}");
        std::process::exit(1);
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(file).map_or(0, |m| m.len());
    let sha = if hex.is_some() {
        net::sha256::implementation()
    } else {
        "none"
    };
    report(bytes, secs, sha);
}

fn hash_file(file: &str) {
    use std::io::Read;
    let start = Instant::now();
    let mut f = std::fs::File::open(file).unwrap_or_else(|e| {
        eprintln!("fetch: {file}: {e}");
        std::process::exit(1);
    });
    let mut h = net::sha256::Sha256::new();
    let mut buf = vec![0; 64 << 10];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) => {
                eprintln!("fetch: {file}: {e}");
                std::process::exit(1);
            }
        }
    }
    let bytes = h.len();
    let digest = h.finish();
    eprintln!("{}", net::sha256::hex(&digest));
    report(
        bytes,
        start.elapsed().as_secs_f64(),
        net::sha256::implementation(),
    );
}

/// `BYTES SECONDS MIB/S SHA PEAK_RSS_KIB`
fn report(bytes: u64, secs: f64, sha: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!(
        "{bytes} {secs:.3} {:.1} {sha} {hwm}",
        bytes as f64 / secs / f64::from(1 << 20)
    );
}
