//! `init kexec` inside a booted guest: load dist's kernel and initrd from a
//! disk (`scripts/variants/kexec-variant.sh`: a squashfs with `kernel`,
//! `initrd`, `init`, `command-line` and `kexec-boot`, as `/dev/vdb`), carry
//! root's `authorized_keys` along, and reboot through the clean shutdown into
//! the second kernel, which must reach the service again and have the keys;
//! and with `--carry-network`, come up on the static addresses, routes and
//! DNS servers the first system had, instead of DHCP, reachable from the
//! host through QEMU's `hostfwd` on 127.0.0.1, unless the next command line
//! has an `ip=` of its own.
mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::bin::workspace_root;
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// Generous: two TCG guests may share two host cores.
const BOOT: Duration = Duration::from_secs(150);
const STAGE1: &str = "stage-1: init";
const HELLO_LOGGED: &str = "[hello-log] hello: service started";
/// Our binary in the guest: the backdoor's busybox sh would run its own
/// `init` applet for a bare `init`.
const INIT: &str = "/run/current-system/sw/bin/init";
/// Options and a command= with quotes: the handover must keep them.
const KEY: &str = "no-pty,command=\"true\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheKexecHandoverTest0000000000 test@host";
/// runvm adds no_timer_check to the first boot only (under TCG); the
/// second kernel gets its command line from the disk, so it goes there.
const EXTRA_PARAMS: &str = "no_timer_check";

/// The disk for the guest, under Cargo's tmp dir.
fn build_image(dist: &Path, test: &str) -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_kexec");
    std::fs::create_dir_all(&dir)?;
    let image = dir.join(format!("{test}.squashfs"));
    let script = workspace_root().join("scripts/variants/kexec-variant.sh");
    let out = Command::new(&script)
        .arg(&image)
        .env("DIST", dist)
        .env("KEXEC_EXTRA_PARAMS", EXTRA_PARAMS)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    ensure!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(image)
}

/// The first boot of `dist` with the disk of [`build_image`] mounted on
/// `/mnt`, its console logged under Cargo's tmp dir, up to the service;
/// `None` when the machine cannot boot VMs (skipped loudly).
fn boot_with_disk(
    dist: &Path,
    test: &str,
    nic: Option<&str>,
    qemu_args: Vec<String>,
) -> Result<Option<Vm>> {
    if !can_boot(dist, test) {
        return Ok(None);
    }
    let image = build_image(dist, test)?;
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("vm_kexec")
        .join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    let mut vm = Vm::boot(&VmConfig {
        drives: vec![image],
        console_log: Some(log),
        dist: dist.to_path_buf(),
        nic: nic.map(str::to_owned),
        qemu_args,
        ..VmConfig::default()
    })?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    mount_disk(&mut vm)?;
    Ok(Some(vm))
}

/// The disk of [`build_image`] on `/mnt`, in each boot.
fn mount_disk(vm: &mut Vm) -> Result<()> {
    ok(vm, "mkdir -p /mnt && mount -t squashfs -o ro /dev/vdb /mnt").map(drop)
}

/// Run `cmd` in the guest and require exit status 0; return its output
/// (with the newline it ends with, if it does).
fn ok(vm: &mut Vm, cmd: &str) -> Result<String> {
    let (out, code) = vm.run(cmd)?;
    ensure!(code == 0, "{cmd:?} exited {code}: {out}");
    Ok(out)
}

/// The whole hand-off: usage and missing-file errors, a load with
/// `--carry-ssh-keys` (kexec_loaded turns 1), then `kexec-boot` from the
/// disk: PID 1 shuts down and starts the loaded kernel; the second boot
/// runs stage-1 and the hello service again, on exactly the disk's command
/// line, with the key installed byte for byte, 0600 in a 0700 `.ssh`, owned
/// by root.
#[test]
fn kexec_boots_a_second_kernel_with_the_ssh_keys() -> Result<()> {
    let test = "kexec_boots_a_second_kernel_with_the_ssh_keys";
    let dist = default_dist();
    let Some(mut vm) = boot_with_disk(&dist, test, None, Vec::new())? else {
        return Ok(());
    };
    ok(
        &mut vm,
        &format!("mkdir -p /root/.ssh && printf '%s\\n' '{KEY}' >/root/.ssh/authorized_keys"),
    )?;

    let (out, code) = vm.run(&format!("{INIT} kexec /mnt/kernel"))?;
    ensure!(code == 100, "a usage error exits 100, not {code}: {out}");
    let (out, code) = vm.run(&format!(
        "{INIT} kexec /mnt/nope /mnt/initrd --command-line-file /mnt/command-line"
    ))?;
    ensure!(
        code == 111 && out.contains("kexec: cannot open the kernel /mnt/nope"),
        "a missing kernel exits 111 naming it, not {code}: {out}"
    );
    let out = ok(
        &mut vm,
        &format!("{INIT} kexec /mnt/kernel /mnt/initrd --command-line-file /mnt/command-line --carry-ssh-keys && cat /sys/kernel/kexec_loaded"),
    )?;
    ensure!(
        out.ends_with("\n1\n"),
        "kexec_loaded is not 1 after the load: {out}"
    );

    // Loads again (replacing the image) with the disk's `init` and asks
    // PID 1 to boot it.
    vm.run_ending_boot("sh /mnt/kexec-boot --carry-ssh-keys")?;
    vm.wait_for_console("shutdown: stopping services to reboot", BOOT)?;
    vm.wait_for_console("starting the loaded kernel (kexec)", BOOT)?;
    vm.wait_for_console_nth(STAGE1, 2, BOOT)?;
    vm.wait_for_console_nth(HELLO_LOGGED, 2, BOOT)?;

    let line = std::fs::read_to_string(dist.join("command-line"))?;
    let expected = format!("{} {EXTRA_PARAMS}", line.trim());
    let cmdline = ok(&mut vm, "cat /proc/cmdline")?;
    ensure!(
        cmdline.strip_suffix('\n') == Some(expected.as_str()),
        "the second kernel's command line is {cmdline:?}, not the disk's {expected:?}"
    );
    let keys = ok(&mut vm, "cat /root/.ssh/authorized_keys")?;
    ensure!(
        keys == format!("{KEY}\n"),
        "authorized_keys in the second system: {keys:?}"
    );
    let modes = ok(
        &mut vm,
        "stat -c '%a %u %g' /root/.ssh /root/.ssh/authorized_keys",
    )?;
    ensure!(modes == "700 0 0\n600 0 0\n", "modes and owners: {modes:?}");
    let console = vm.console();
    ensure!(
        !console.contains("Kernel panic"),
        "the kernel panicked:\n{console}"
    );
    Ok(())
}

/// The first system's network, set by hand as on a rescue system without
/// DHCP: a static IPv4 and IPv6 address, a default route, DNS servers of
/// both families. QEMU's user network (IPv4 and IPv6 both on, as by
/// default) also gives a SLAAC address, which is not carried.
const STATIC_NETWORK: &str = "ip link set eth0 up && ip addr add 10.0.2.77/24 dev eth0 \
     && ip route add default via 10.0.2.2 && ip -6 addr add fd00::77/64 dev eth0 \
     && rm -f /etc/resolv.conf \
     && printf 'nameserver 10.0.2.3\\nnameserver fd00::3\\nsearch example.org\\n' >/etc/resolv.conf";

/// The guest port of the listener the host reaches through `hostfwd`.
const LISTEN_PORT: u16 = 8077;
/// The static `ip=` of the third boot, which must win over the carried
/// network.
const IP_PARAM: &str = "ip=10.0.2.88::10.0.2.2:255.255.255.0::eth0:off";

/// A free TCP port on the host's 127.0.0.1, for a `hostfwd`.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// QEMU's user network with IPv4 and IPv6, named `net0` (for the dump),
/// and 127.0.0.1:`port` on the host forwarded to the carried address
/// 10.0.2.77:[`LISTEN_PORT`] in the guest; and a dump of every frame into
/// `pcap`.
fn network_with_forward(port: u16, pcap: &Path) -> (String, Vec<String>) {
    let nic = format!(
        "user,id=net0,model=virtio-net-pci,ipv4=on,ipv6=on,\
         hostfwd=tcp:127.0.0.1:{port}-10.0.2.77:{LISTEN_PORT}"
    );
    let dump = format!("filter-dump,id=dump0,netdev=net0,file={}", pcap.display());
    (nic, vec!["-object".into(), dump])
}

/// A listener in the guest: busybox httpd bound to 10.0.2.77 only, serving
/// this boot's `boot_id` (which it returns) as `/id`.
fn start_listener(vm: &mut Vm) -> Result<String> {
    let id = ok(
        vm,
        &format!(
            "mkdir -p /run/listener && cat /proc/sys/kernel/random/boot_id >/run/listener/id \
             && httpd -p 10.0.2.77:{LISTEN_PORT} -h /run/listener && cat /run/listener/id"
        ),
    )?;
    Ok(id.trim().to_owned())
}

/// What the guest's listener answers for `/id`, asked from the host on
/// 127.0.0.1:`port` (QEMU forwards it to 10.0.2.77 in the guest).
fn ask_listener(port: u16) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(90)))?;
    stream.write_all(b"GET /id HTTP/1.0\r\n\r\n")?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .context("reading the listener's answer through hostfwd")?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .with_context(|| format!("not an HTTP answer through hostfwd: {reply:?}"))?;
    ensure!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "the listener through hostfwd answered {head:?}"
    );
    Ok(body.trim().to_owned())
}

/// Frames in the pcap file QEMU's `filter-dump` wrote, and how many of
/// them are IPv4 UDP datagrams to port 67 (DHCP requests).
fn frames_and_dhcp(pcap: &[u8]) -> (usize, usize) {
    let (mut frames, mut dhcp) = (0, 0);
    // The 24-byte file header, then per frame 16 bytes (captured length at
    // 8, in the writer's byte order: QEMU's, little-endian here).
    let mut at = 24;
    while let Some(head) = pcap.get(at..at + 16) {
        let len = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
        let frame = pcap.get(at + 16..at + 16 + len).unwrap_or_default();
        at += 16 + len;
        frames += 1;
        // Ethernet, IPv4, UDP: the destination port after the IP header.
        if frame.len() < 14 + 20 + 4 || frame[12..14] != [0x08, 0x00] || frame[14 + 9] != 17 {
            continue;
        }
        let udp = 14 + usize::from(frame[14] & 0xf) * 4;
        if frame.get(udp + 2..udp + 4) == Some(&[0, 67][..]) {
            dhcp += 1;
        }
    }
    (frames, dhcp)
}

/// [`frames_and_dhcp`] on a dump of two frames: a DHCP request (UDP to
/// port 67, after an IP header with options) and a TCP segment to 67.
#[test]
fn the_dump_reader_counts_dhcp_requests() {
    let frame = |ihl: u8, proto: u8| {
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0u8; usize::from(ihl) * 4];
        ip[0] = 0x40 | ihl;
        ip[9] = proto;
        f.extend(ip);
        f.extend([0, 68, 0, 67, 0, 8, 0, 0]);
        f
    };
    let mut pcap = vec![0u8; 24];
    for f in [frame(6, 17), frame(5, 6)] {
        let mut head = [0u8; 16];
        head[8..12].copy_from_slice(&(f.len() as u32).to_le_bytes());
        pcap.extend(head);
        pcap.extend(f);
    }
    assert_eq!(frames_and_dhcp(&pcap), (2, 1));
}

/// `init kexec --carry-network`: `--show` prints the plan; after the
/// kexec, stage-1 puts the addresses, the route and the DNS servers back on
/// the NIC with the same MAC (no DHCP: not 10.0.2.15), and `/run/init/net`
/// and `/etc/resolv.conf` say so. The host reaches a listener on the
/// carried 10.0.2.77 through `hostfwd` in both boots, and gets each boot's
/// own `boot_id`. A third kexec, with `--carry-network` again but
/// an `ip=` on its command line, comes up on that `ip=` instead. QEMU dumps
/// every frame of the three boots: not one DHCP request among them.
#[test]
fn kexec_carries_the_static_network() -> Result<()> {
    let test = "kexec_carries_the_static_network";
    let dist = default_dist();
    let port = free_port()?;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_kexec");
    std::fs::create_dir_all(&dir)?;
    let pcap = dir.join(format!("{test}.pcap"));
    let _ = std::fs::remove_file(&pcap);
    let (nic, dump) = network_with_forward(port, &pcap);
    let Some(mut vm) = boot_with_disk(&dist, test, Some(&nic), dump)? else {
        return Ok(());
    };
    ok(&mut vm, STATIC_NETWORK)?;
    let first_id = start_listener(&mut vm)?;
    let answer = ask_listener(port)?;
    ensure!(
        answer == first_id,
        "the first boot's listener answered {answer:?}, not its boot_id {first_id:?}"
    );
    let mac = ok(&mut vm, "cat /sys/class/net/eth0/address")?;
    let plan = ok(&mut vm, &format!("{INIT} kexec --carry-network --show"))?;
    for line in [
        "nameserver 10.0.2.3\n",
        "nameserver fd00::3\n",
        "search example.org\n",
        &format!("link {} eth0\n", mac.trim()),
        "address 10.0.2.77/24\n",
        "address fd00::77/64\n",
        "route 0.0.0.0/0 via 10.0.2.2\n",
    ] {
        ensure!(plan.contains(line), "--show lacks {line:?}:\n{plan}");
    }
    ensure!(
        !plan.contains("fe80") && !plan.contains("/128"),
        "--show carries a link-local or host address:\n{plan}"
    );

    vm.run_ending_boot("sh /mnt/kexec-boot --carry-network")?;
    vm.wait_for_console("starting the loaded kernel (kexec)", BOOT)?;
    vm.wait_for_console_nth(STAGE1, 2, BOOT)?;
    vm.wait_for_console("10.0.2.77/24 fd00::77/64 (carried over)", BOOT)?;
    vm.wait_for_console_nth(HELLO_LOGGED, 2, BOOT)?;

    let addresses = ok(&mut vm, "ip addr show dev eth0")?;
    ensure!(
        addresses.contains("inet 10.0.2.77/24")
            && addresses.contains("inet6 fd00::77/64")
            && !addresses.contains("10.0.2.15"),
        "the second boot's addresses:\n{addresses}"
    );
    let routes = ok(&mut vm, "ip route")?;
    ensure!(
        routes.contains("default via 10.0.2.2 dev eth0"),
        "the second boot's routes:\n{routes}"
    );
    let resolv = ok(&mut vm, "cat /etc/resolv.conf")?;
    ensure!(
        resolv.contains("nameserver 10.0.2.3\nnameserver fd00::3\n")
            && resolv.contains("search example.org\n"),
        "the second boot's resolv.conf:\n{resolv}"
    );
    let net = ok(&mut vm, "cat /run/init/net")?;
    ensure!(
        net.contains(
            "source=carried\naddress=10.0.2.77/24\naddress=fd00::77/64\n\
             route=0.0.0.0/0 via 10.0.2.2\n"
        ),
        "/run/init/net:\n{net}"
    );
    let console = vm.console();
    ensure!(
        !console.contains("Kernel panic") && !console.contains("DHCP"),
        "a panic or DHCP in the second boot:\n{console}"
    );
    // Reachable from the host on the carried address, and it is the
    // second boot that answers.
    let second_id = start_listener(&mut vm)?;
    ensure!(second_id != first_id, "the same boot_id after the kexec");
    let answer = ask_listener(port)?;
    ensure!(
        answer == second_id,
        "the second boot's listener answered {answer:?}, not its boot_id {second_id:?}"
    );

    // An `ip=` on the next command line wins over the carried network.
    let plan = ok(&mut vm, &format!("{INIT} kexec --carry-network --show"))?;
    ensure!(
        plan.contains("address 10.0.2.77/24\n"),
        "the second boot would not carry its network on:\n{plan}"
    );
    let line = std::fs::read_to_string(dist.join("command-line"))?;
    ok(
        &mut vm,
        &format!(
            "echo '{} {EXTRA_PARAMS} {IP_PARAM}' >/run/command-line-ip",
            line.trim()
        ),
    )?;
    mount_disk(&mut vm)?;
    ok(
        &mut vm,
        &format!(
            "{INIT} kexec /mnt/kernel /mnt/initrd --command-line-file /run/command-line-ip \
             --carry-network"
        ),
    )?;
    vm.run_ending_boot(&format!("{INIT} kexec --exec"))?;
    vm.wait_for_console_nth("starting the loaded kernel (kexec)", 2, BOOT)?;
    vm.wait_for_console_nth(STAGE1, 3, BOOT)?;
    vm.wait_for_console("stage-1: network: eth0 10.0.2.88/24 via 10.0.2.2", BOOT)?;
    vm.wait_for_console_nth(HELLO_LOGGED, 3, BOOT)?;
    let addresses = ok(&mut vm, "ip addr show dev eth0")?;
    ensure!(
        addresses.contains("inet 10.0.2.88/24")
            && !addresses.contains("10.0.2.77")
            && !addresses.contains("fd00::77"),
        "the third boot's addresses (ip= must win over the carried network):\n{addresses}"
    );
    let net = ok(&mut vm, "cat /run/init/net")?;
    ensure!(
        net.contains("source=static\n") && !net.contains("carried"),
        "/run/init/net of the third boot:\n{net}"
    );
    let console = vm.console();
    let carried = console.matches("(carried over)").count();
    ensure!(
        carried == 1,
        "{carried} boots restored the carried network, not 1"
    );

    // Not one DHCP request in the three boots, in a dump that has the
    // frames of the listener's answers.
    let (frames, dhcp) = frames_and_dhcp(&std::fs::read(&pcap)?);
    ensure!(
        frames > 0 && dhcp == 0,
        "{} holds {frames} frames, {dhcp} of them DHCP requests",
        pcap.display()
    );
    Ok(())
}

/// `make bench` (bench/vm-kexec.sh): from `init kexec --exec` to the first
/// service of the next boot, without and with `--carry-network`, in one
/// guest that kexecs into dist's kernel again and again, the two kinds in
/// turn (`BENCH_KEXEC_ROUNDS` rounds, default 5), each from the same static
/// IPv4 and IPv6 network. Per kind, medians of: seconds on the host from
/// the command to the service's log line on the console (the shutdown
/// included); in the next boot, seconds from the kernel's start to the
/// first service started (the `supervise` mark of `/run/init/boot-times`,
/// as bench/vm-stage1.sh counts it), and stage-1's network
/// step (`modules` → `network`: the carried network restored, duplicate
/// address detection waited for; none without it). Prints `|` table rows.
#[test]
#[ignore = "a benchmark: run by bench/vm-kexec.sh"]
fn bench_kexec() -> Result<()> {
    let test = "bench_kexec";
    let rounds: usize = std::env::var("BENCH_KEXEC_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let nic = "user,model=virtio-net-pci,ipv4=on,ipv6=on";
    let Some(mut vm) = boot_with_disk(&default_dist(), test, Some(nic), Vec::new())? else {
        return Ok(());
    };
    let kinds = [("without", ""), ("`--carry-network`", " --carry-network")];
    let mut figures: Vec<Vec<[f64; 3]>> = vec![Vec::new(); kinds.len()];
    let mut boots = 1;
    for _ in 0..rounds.max(1) {
        for (kind, (_, args)) in kinds.iter().enumerate() {
            // A boot with the carried network has it already.
            if !ok(&mut vm, "ip -4 addr show dev eth0")?.contains("10.0.2.77/24") {
                ok(&mut vm, STATIC_NETWORK)?;
            }
            let start = Instant::now();
            vm.run_ending_boot(&format!("sh /mnt/kexec-boot{args}"))?;
            boots += 1;
            vm.wait_for_console_nth(HELLO_LOGGED, boots, BOOT)?;
            let host = start.elapsed().as_secs_f64();
            mount_disk(&mut vm)?;
            let times = ok(&mut vm, "cat /run/init/boot-times")?;
            let mark = |name| common::boot_mark(&times, name);
            let ready = mark("supervise")?;
            // A boot without a network step (DHCP off) has no network mark.
            let network = match (mark("modules"), mark("network")) {
                (Ok(modules), Ok(network)) => network - modules,
                _ => 0.0,
            };
            figures[kind].push([host, ready, network]);
        }
    }
    println!(
        "BENCH {rounds} rounds, the two kinds in turn, medians; the network: static IPv4 \
         and IPv6 (`fd00::77/64`), set by hand before each kexec that does not carry it"
    );
    println!("| kexec | `init kexec --exec` → the service's log line (host) | kernel start → first service (guest) | stage-1's network step |");
    println!("|---|---|---|---|");
    for ((name, _), runs) in kinds.iter().zip(&figures) {
        let median = |i: usize| {
            let mut v: Vec<f64> = runs.iter().map(|r| r[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "| {name} | {:.2} s | {:.2} s | {:.2} s |",
            median(0),
            median(1),
            median(2)
        );
    }
    Ok(())
}
