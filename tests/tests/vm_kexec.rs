//! `init kexec` inside a booted guest: load dist's kernel and initrd from a
//! disk (`scripts/variants/kexec-variant.sh`: a squashfs with `kernel`,
//! `initrd`, `init`, `command-line` and `kexec-boot`, as `/dev/vdb`), carry
//! root's `authorized_keys` along, and reboot through the clean shutdown into
//! the second kernel, which must reach the service again and have the keys;
//! and with `--carry-network`, come up on the static addresses, routes and
//! DNS servers the first system had, instead of DHCP.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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
fn boot_with_disk(dist: &Path, test: &str, nic: Option<&str>) -> Result<Option<Vm>> {
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
        ..VmConfig::default()
    })?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    ok(
        &mut vm,
        "mkdir -p /mnt && mount -t squashfs -o ro /dev/vdb /mnt",
    )?;
    Ok(Some(vm))
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
    let Some(mut vm) = boot_with_disk(&dist, test, None)? else {
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

/// `init kexec --carry-network`: `--show` prints the plan; after the
/// kexec, stage-1 puts the addresses, the route and the DNS servers back on
/// the NIC with the same MAC (no DHCP: not 10.0.2.15), and `/run/init/net`
/// and `/etc/resolv.conf` say so.
#[test]
fn kexec_carries_the_static_network() -> Result<()> {
    let test = "kexec_carries_the_static_network";
    let nic = "user,model=virtio-net-pci,ipv4=on,ipv6=on";
    let Some(mut vm) = boot_with_disk(&default_dist(), test, Some(nic))? else {
        return Ok(());
    };
    ok(&mut vm, STATIC_NETWORK)?;
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
    Ok(())
}
