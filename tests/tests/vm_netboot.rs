//! Netboot without hands (issue 9): `ip=` networking in userspace, the
//! store fetched over HTTP with a checksum, and a toplevel found without
//! `toplevel=`. The host side is `tests::http::HttpServer`, bound to
//! 127.0.0.1 only; the guest reaches it at 10.0.2.100:80 through QEMU's
//! user networking (`guestfwd`), whose own DHCP server answers the guest.
//! Each guest connection runs `socat - TCP:127.0.0.1:PORT` (a `guestfwd`
//! to a plain chardev carries one connection for the VM's life, and a
//! resumed download needs a second one). No traffic leaves this machine.
use std::path::Path;

use anyhow::{ensure, Context, Result};
use tests::http::HttpServer;
use tests::vm::Vm;

mod common;
use common::stage1::*;

/// Where the guest finds the server.
const SERVER: &str = "10.0.2.100";
const IMAGE: &str = "/nix-store.squashfs";

fn sha256_hex(path: &Path) -> Result<String> {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .context("running sha256sum")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// The `http` variant and a server holding its store image.
struct Netboot {
    dir: std::path::PathBuf,
    server: HttpServer,
    sha256: String,
}

fn netboot(test: &str, dist: &Path) -> Result<Netboot> {
    let dir = build_variant(test, dist, "http")?;
    let image = dir.join("nix-store.squashfs");
    let sha256 = sha256_hex(&image)?;
    let server = HttpServer::start(vec![(IMAGE.into(), std::fs::read(&image)?)])?;
    Ok(Netboot {
        dir,
        server,
        sha256,
    })
}

impl Netboot {
    fn boot(&self, test: &str, params: &[&str]) -> Result<Vm> {
        let mut cfg = config(test, self.dir.clone(), params);
        cfg.nic = Some(format!(
            "user,model=virtio-net-pci,guestfwd=tcp:{SERVER}:80-cmd:socat - TCP:127.0.0.1:{}",
            self.server.port()
        ));
        Vm::boot(&cfg)
    }
}

/// The store came from the fetched file: a loop device on /nix/.ro-store.
fn store_is_the_fetched_file(vm: &mut Vm) -> Result<()> {
    let m = mounts(vm)?;
    check_store_overlay(&m)?;
    let ro = mount_at(&m, "/nix/.ro-store").context("no /nix/.ro-store")?;
    ensure!(ro.0.starts_with("/dev/loop"), "the store is {ro:?}");
    let backing = guest(vm, "cat /sys/block/loop0/loop/backing_file")?;
    ensure!(
        backing.ends_with("nix-store.squashfs"),
        "loop0's backing file is {backing}"
    );
    Ok(())
}

/// `ip=dhcp root=http://… sha256=…`: QEMU's DHCP server configures the
/// NIC, the image streams into RAM and is verified, the boot reaches the
/// service; `/run/init/net` and `/etc/resolv.conf` say what DHCP gave.
#[test]
fn dhcp_and_http_store_boot_to_the_service() -> Result<()> {
    let test = "dhcp_and_http_store_boot_to_the_service";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let nb = netboot(test, &dist)?;
    // Drop the first connection half-way: the fetch must resume.
    nb.server.drop_once_after(300_000);
    let root = format!("root=http://{SERVER}{IMAGE}");
    let sum = format!("sha256={}", nb.sha256);
    let mut vm = nb.boot(test, &["ip=dhcp", &root, &sum])?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    no_panic(&vm.console())?;
    store_is_the_fetched_file(&mut vm)?;
    let net = guest(&mut vm, "cat /run/init/net")?;
    ensure!(net.contains("10.0.2.15"), "/run/init/net: {net}");
    let resolv = guest(&mut vm, "cat /etc/resolv.conf")?;
    ensure!(
        resolv.contains("nameserver 10.0.2.3"),
        "resolv.conf: {resolv}"
    );
    let reqs = nb.server.requests();
    ensure!(
        reqs.iter().any(|r| r.contains("Range: bytes=")),
        "no resumed request after the dropped connection: {reqs:?}"
    );
    Ok(())
}

/// The image is replaced on a server that sends no validator (no ETag, no
/// Last-Modified) while the guest downloads it, and the connection drops:
/// stage-1 starts over from byte 0 and says so, instead of resuming with
/// `Range` into a splice of two versions; the new image passes `sha256=`
/// and boots. The first version differs from the new one in its first
/// 64 KiB, which the guest had already received.
#[test]
fn changed_image_without_validators_is_fetched_again_from_byte_0() -> Result<()> {
    let test = "changed_image_without_validators_is_fetched_again_from_byte_0";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = build_variant(test, &dist, "http")?;
    let image = std::fs::read(dir.join("nix-store.squashfs"))?;
    let sha256 = sha256_hex(&dir.join("nix-store.squashfs"))?;
    let mut old = image.clone();
    for b in &mut old[..65_536] {
        *b = !*b;
    }
    let server = HttpServer::start(vec![(IMAGE.into(), old)])?;
    server.change_at_drop_without_validators(IMAGE, image);
    let nb = Netboot {
        dir,
        server,
        sha256,
    };
    nb.server.drop_once_after(300_000);
    let root = format!("root=http://{SERVER}{IMAGE}");
    let sum = format!("sha256={}", nb.sha256);
    let mut vm = nb.boot(test, &["ip=dhcp", &root, &sum])?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    no_panic(&vm.console())?;
    let console = vm.console();
    ensure!(
        console.contains(
            "no strong ETag or Last-Modified to resume against: starting over from byte 0"
        ),
        "no start-over line on the console:\n{console}"
    );
    store_is_the_fetched_file(&mut vm)?;
    let reqs = nb.server.requests();
    ensure!(
        reqs.len() == 2 && reqs.iter().all(|r| !r.contains("Range")),
        "requests: {reqs:?}"
    );
    Ok(())
}

/// A static `ip=` line (the kernel's form) works as well as DHCP.
#[test]
fn static_ip_and_http_store_boot_to_the_service() -> Result<()> {
    let test = "static_ip_and_http_store_boot_to_the_service";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let nb = netboot(test, &dist)?;
    let root = format!("root=http://{SERVER}{IMAGE}");
    let mut vm = nb.boot(
        test,
        &["ip=10.0.2.16::10.0.2.2:255.255.255.0:demo:eth0:off", &root],
    )?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    store_is_the_fetched_file(&mut vm)?;
    let addr = guest(&mut vm, "ip -4 addr show eth0")?;
    ensure!(addr.contains("10.0.2.16/24"), "eth0: {addr}");
    no_panic(&vm.console())
}

/// A wrong `sha256=` stops at the menu with one line naming both hashes;
/// nothing was mounted from the file.
#[test]
fn wrong_sha256_stops_at_the_menu_naming_both_hashes() -> Result<()> {
    let test = "wrong_sha256_stops_at_the_menu_naming_both_hashes";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let nb = netboot(test, &dist)?;
    let wrong = "0".repeat(64);
    let root = format!("root=http://{SERVER}{IMAGE}");
    let sum = format!("sha256={wrong}");
    let vm = nb.boot(test, &["ip=dhcp", &root, &sum])?;
    let line = line_before(&vm, "mounting filesystems failed", MENU)?;
    ensure!(
        line.contains(&wrong) && line.contains(&nb.sha256),
        "the failure line does not name both hashes: {line}"
    );
    let console = vm.console();
    ensure!(
        !console.contains("stage-2:"),
        "the boot went on after a checksum mismatch:\n{console}"
    );
    no_panic(&console)
}

/// An image that is not on the server: the line names the URL and the
/// status, then the menu.
#[test]
fn http_404_names_the_url() -> Result<()> {
    let test = "http_404_names_the_url";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let nb = netboot(test, &dist)?;
    let url = format!("http://{SERVER}/no-such.squashfs");
    let root = format!("root={url}");
    let vm = nb.boot(test, &["ip=dhcp", &root])?;
    let line = line_before(&vm, "mounting filesystems failed", MENU)?;
    ensure!(
        line.contains(&url) && line.contains("404"),
        "the failure line does not name the URL and 404: {line}"
    );
    no_panic(&vm.console())
}

/// An `ip=` nobody can read: one line naming it and the accepted forms,
/// then the menu.
#[test]
fn unknown_ip_form_names_the_value() -> Result<()> {
    let test = "unknown_ip_form_names_the_value";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let nb = netboot(test, &dist)?;
    let root = format!("root=http://{SERVER}{IMAGE}");
    let vm = nb.boot(test, &["ip=bogus", &root])?;
    let line = line_before(&vm, "ip=bogus", MENU)?;
    ensure!(
        line.contains("expected"),
        "the line does not say which forms work: {line}"
    );
    // The menu shows the interfaces and offers to set them up again.
    vm.wait_for_console("n) to set up the network again", BOOT)?;
    ensure!(
        vm.console().contains("     eth0 52:54:00:12:34:56 "),
        "the menu does not show eth0:\n{}",
        vm.console()
    );
    no_panic(&vm.console())
}

/// No `toplevel=` at all: stage-1 finds the only system in the store,
/// says which, and the boot reaches the service.
#[test]
fn toplevel_is_found_without_toplevel_param() -> Result<()> {
    let test = "toplevel_is_found_without_toplevel_param";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = build_variant(test, &dist, "notoplevel")?;
    let vm = Vm::boot(&config(test, dir, &[]))?;
    let line = line_before(&vm, "stage-1: booting /nix/store/", HELLO_LOGGED)?;
    ensure!(
        line.contains("-toplevel (the only system in the store; no toplevel= given)"),
        "unexpected line: {line}"
    );
    no_panic(&vm.console())
}

/// `make bench` (bench/vm-netboot.sh): for two image sizes, the seconds
/// from link-up (`network` mark) to the mounted store (`mounts` mark)
/// against busybox `wget` fetching the same file over the same path inside
/// the booted guest, and PID 1's peak RSS (VmHWM), which must not grow with
/// the image. Prints `|` table rows.
#[test]
#[ignore = "a benchmark: run by bench/vm-netboot.sh"]
fn bench_netboot() -> Result<()> {
    let test = "bench_netboot";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    println!("| image | ours: link-up → store mounted | wget in the guest | ours ÷ wget throughput (target ≥ 0.90) | PID 1 VmHWM |");
    println!("|---|---|---|---|---|");
    for (mib, verify) in [(32usize, true), (32, false), (96, true), (96, false)] {
        let dir = build_variant(&format!("{test}-{mib}"), &dist, "http")?;
        let mut image = std::fs::read(dir.join("nix-store.squashfs"))?;
        // squashfs reads only up to its bytes_used: padding after it makes
        // a bigger download of the same store.
        let mut x: u32 = 0x1234_5678;
        while image.len() < mib << 20 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            image.extend_from_slice(&x.to_le_bytes());
        }
        let path = dir.join("big.squashfs");
        std::fs::write(&path, &image)?;
        let sha = sha256_hex(&path)?;
        let server = HttpServer::start(vec![(IMAGE.into(), image)])?;
        let nb = Netboot {
            dir: dir.clone(),
            server,
            sha256: sha.clone(),
        };
        let root = format!("root=http://{SERVER}{IMAGE}");
        let sum = if verify {
            format!("sha256={sha}")
        } else {
            "boot.trace=0".to_owned()
        };
        let mut vm = nb.boot(&format!("{test}-{mib}"), &["ip=dhcp", &root, &sum])?;
        vm.wait_for_console(HELLO_LOGGED, BOOT)?;
        let times = guest(&mut vm, "cat /run/init/boot-times")?;
        let ours = common::boot_mark(&times, "mounts")? - common::boot_mark(&times, "network")?;
        let hwm = guest(&mut vm, "grep VmHWM /proc/1/status")?;
        let hwm = hwm.split_whitespace().nth(1).unwrap_or("?").to_owned();
        let out = guest(
            &mut vm,
            &format!("a=$(cut -d' ' -f1 /proc/uptime); wget -q -O /tmp/img http://{SERVER}{IMAGE}; b=$(cut -d' ' -f1 /proc/uptime); rm -f /tmp/img; echo $a $b"),
        )?;
        let v: Vec<f64> = out
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        ensure!(v.len() == 2, "bad wget timing {out:?}");
        let wget = v[1] - v[0];
        println!(
            "| {mib} MiB{} | {ours:.2} s ({:.1} MiB/s) | {wget:.2} s ({:.1} MiB/s) | {:.2} | {hwm} kB |",
            if verify { ", sha256=" } else { ", no sha256=" },
            mib as f64 / ours,
            mib as f64 / wget,
            wget / ours
        );
    }
    Ok(())
}
