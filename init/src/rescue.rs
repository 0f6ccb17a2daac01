//! The built-in rescue prompt, for initramfs images without `/bin/sh`:
//! enough to look around, fix a missing module or mount, and go on. Its
//! answer is a [`Resolution`] for the caller to act on; `switch-root`
//! switches the root itself (errors stay at the prompt) but leaves
//! starting the system to the PID-1 flow.
use std::io::{BufRead, Read, Write};
use std::path::Path;

use stage1::cmdline::BootParams;

use crate::action::Action;
use crate::resolution::{Resolution, SwitchedRoot};
use crate::{network, shutdown};

const HELP: &str = "commands:
  ls [DIR]                 list a directory
  cat FILE                 print a file
  dmesg                    print the kernel log
  blkid                    list block devices with filesystem, label and UUID
  modprobe NAME            load a kernel module with its dependencies
  mount                    list mounts
  mount [-t TYPE] [-o OPTS] SOURCE DIR   mount a filesystem
  mkdir DIR                create a directory
  plan                     show what stage-1 does (modules, mounts)
  ip                       list network interfaces and what was configured
  ip SPEC                  configure the network as ip=SPEC would (ip dhcp, ip eth0:dhcp,
                           ip 10.0.0.5::10.0.0.1:255.255.255.0::eth0:off)
  fetch URL FILE [SHA256]  download http://URL into FILE (checked against SHA256)
  switch-root [DIR [TOPLEVEL]]  switch to DIR (default /mnt-root) and start TOPLEVEL's
                           stage-2 (default toplevel=, or the one system in DIR's store)
  retry                    try the failed step again
  continue                 ignore the failure and go on booting
  reboot | poweroff        end here";

/// Read commands from the console until `retry`, `continue` or a
/// `switch-root` that worked.
pub fn prompt(params: &BootParams) -> Resolution {
    println!("init rescue prompt (no /bin/sh in this initramfs); type `help`.");
    let stdin = std::io::stdin();
    loop {
        print!("rescue> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                std::thread::sleep(std::time::Duration::from_secs(1));
                continue;
            }
            Ok(_) => {}
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["help" | "?"] => println!("{HELP}"),
            ["retry"] => return Resolution::Retry,
            ["continue"] => return Resolution::Ignore,
            ["reboot"] => shutdown::reboot_now(Action::Reboot),
            ["poweroff"] => shutdown::reboot_now(Action::PowerOff),
            ["ls"] => ls(Path::new(".")),
            ["ls", dir] => ls(Path::new(dir)),
            ["cat", file] => cat(Path::new(file)),
            ["dmesg"] => dmesg(),
            ["blkid"] => blkid(),
            ["modprobe", name] => modprobe(params, name),
            ["mount"] => cat(Path::new("/proc/self/mounts")),
            ["mount", rest @ ..] => mount(rest),
            ["mkdir", dir] => report(std::fs::create_dir_all(dir).map_err(anyhow::Error::from)),
            ["plan"] => plan(params),
            ["ip"] => print!("{}", network::interfaces()),
            ["ip", spec] => report(network::setup(params, &[spec])),
            ["fetch", url, file] => report(stage1::fetch::fetch_store(url, Path::new(file), None)),
            ["fetch", url, file, sum] => {
                report(stage1::fetch::fetch_store(url, Path::new(file), Some(sum)));
            }
            ["switch-root", rest @ ..] if rest.len() <= 2 => {
                let dir = rest
                    .first()
                    .map_or(Path::new(stage1::plan::NEW_ROOT), Path::new);
                if let Some(s) = switch_root(params, dir, rest.get(1).map(Path::new)) {
                    return Resolution::SwitchedRoot(s);
                }
            }
            _ => println!("unknown command: {}; type `help`", line.trim()),
        }
    }
}

fn report(r: anyhow::Result<()>) {
    if let Err(e) = r {
        println!("error: {e:#}");
    }
}

fn ls(dir: &Path) {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut names: Vec<String> = rd
                .filter_map(Result::ok)
                .map(|e| {
                    let mut n = e.file_name().to_string_lossy().into_owned();
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        n.push('/');
                    }
                    n
                })
                .collect();
            names.sort();
            println!("{}", names.join("  "));
        }
        Err(e) => println!("ls {}: {e}", dir.display()),
    }
}

fn cat(file: &Path) {
    match std::fs::read(file) {
        Ok(bytes) => {
            let _ = std::io::stdout().write_all(&bytes);
        }
        Err(e) => println!("cat {}: {e}", file.display()),
    }
}

/// The kernel log: /dev/kmsg read non-blocking until it has no more.
fn dmesg() {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open("/dev/kmsg");
    let mut f = match f {
        Ok(f) => f,
        Err(e) => return println!("dmesg: /dev/kmsg: {e}"),
    };
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                // "<prio>,<seq>,<usec>,<flags>;message"
                if let Some((head, msg)) = rec.split_once(';') {
                    let usec: u64 = head
                        .split(',')
                        .nth(2)
                        .and_then(|u| u.parse().ok())
                        .unwrap_or(0);
                    let stamp = stage1::decimal::Fixed::new(usec, 6).to_string();
                    println!("[{stamp:>12}] {}", msg.trim_end());
                }
            }
            // EPIPE: a record was overwritten while reading; keep going.
            Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => {}
            Err(_) => break,
        }
    }
}

fn blkid() {
    for dev in stage1::devices::block::block_devices() {
        match stage1::devices::block::probe(&dev) {
            Ok(p) => println!(
                "{}: TYPE={} LABEL={} UUID={}",
                dev.display(),
                p.fstype.unwrap_or("?"),
                p.label.unwrap_or_default(),
                p.uuid.unwrap_or_default()
            ),
            Err(e) => println!("{}: {e}", dev.display()),
        }
    }
}

fn modprobe(params: &BootParams, name: &str) {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let moddir = Path::new("/lib/modules").join(&release);
    let result = (|| -> anyhow::Result<()> {
        let index = stage1::modules::ModuleIndex::load(&moddir)?;
        let config = stage1::modules::ModuleConfig::load(Path::new("/"))?;
        let req = stage1::modules::ModuleRequest {
            name: name.to_owned(),
            required: true,
            reason: "typed at the rescue prompt".into(),
        };
        let plan = stage1::modules::plan(&index, &config, params, &[req]);
        if !plan.missing_required.is_empty() {
            anyhow::bail!("no module {name} in {}", moddir.display());
        }
        let report = stage1::modules::load(&moddir, &plan);
        for (m, e) in &report.failed {
            println!("{m}: {e}");
        }
        println!(
            "loaded: {} (already loaded: {})",
            report.loaded.join(" "),
            report.already.join(" ")
        );
        Ok(())
    })();
    report(result);
}

fn mount(args: &[&str]) {
    let mut fstype: Option<&str> = None;
    let mut opts: Option<&str> = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "-t" => fstype = it.next().copied(),
            "-o" => opts = it.next().copied(),
            other => rest.push(other),
        }
    }
    let [source, target] = rest.as_slice() else {
        return println!("usage: mount [-t TYPE] [-o OPTS] SOURCE DIR");
    };
    let fstype = fstype.map(str::to_owned).or_else(|| {
        stage1::devices::block::probe(Path::new(source))
            .ok()
            .and_then(|p| p.fstype.map(str::to_owned))
    });
    let flags = nix::mount::MsFlags::empty();
    let r = nix::mount::mount(
        Some(Path::new(source)),
        Path::new(target),
        fstype.as_deref(),
        flags,
        opts,
    );
    report(
        r.map_err(|e| anyhow::anyhow!("mount {source} on {target}: {}", std::io::Error::from(e))),
    );
}

fn plan(params: &BootParams) {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    match stage1::plan::Plan::compute(params, Path::new("/"), &release) {
        Ok(p) => print!("{p}"),
        Err(e) => println!("error: {e:#}"),
    }
}

/// Finish the boot by hand: switch to `new_root`, for the system
/// `toplevel` (default `toplevel=`, or the one system in the store). The
/// caller starts its stage-2. `None` (said on the console) when no system
/// can be picked or the switch fails.
fn switch_root(
    params: &BootParams,
    new_root: &Path,
    toplevel: Option<&Path>,
) -> Option<SwitchedRoot> {
    let toplevel = match toplevel
        .map(Path::to_path_buf)
        .or_else(|| params.toplevel.clone())
    {
        Some(t) => Some(t),
        None => match stage1::toplevel::discover(&new_root.join("nix/store")) {
            stage1::toplevel::Found::One(t, _) => Some(t),
            stage1::toplevel::Found::Many(all) => {
                println!("several systems in the store; name one: switch-root DIR TOPLEVEL");
                for t in all {
                    println!("  {}", t.display());
                }
                return None;
            }
            stage1::toplevel::Found::None => None,
        },
    };
    if let Err(e) = stage1::switch_root::switch_root(new_root) {
        println!("error: switching to {}: {e:#}", new_root.display());
        return None;
    }
    Some(SwitchedRoot { toplevel })
}
