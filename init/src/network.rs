//! Stage-1's network, as PID 1 runs it: `ip=` (or DHCP for a store on an
//! HTTP server), else the network `init kexec --carry-network` handed
//! over, applied through `net::setup`, what it found written where the rest
//! of the boot and people look, and the interfaces as the failure menu and
//! the rescue prompt show them.
#[cfg(feature = "net")]
use std::fmt::Write as _;
use std::path::Path;

use stage1::cmdline::{BootParams, RootSpec};

/// `ip=` is given, the store is on an HTTP server (DHCP then, unless an
/// `ip=` says otherwise), or a previous system handed its network over.
pub fn wanted(params: &BootParams) -> bool {
    !params.ip.is_empty()
        || matches!(params.root, Some(RootSpec::Url(_)))
        || cfg!(feature = "net") && carried().exists()
}

/// What `init kexec --carry-network` appended to the initrd: the path its
/// writer puts in the archive, from the initramfs root.
fn carried() -> std::path::PathBuf {
    Path::new("/").join(crate::kexec::cpio::HANDOVER_NETWORK)
}

/// Where stage-1 leaves what the network setup found, for stage-2 and
/// people: one `key=value` block per interface (see `net::setup`).
#[cfg(feature = "net")]
const RUN_NET: &str = "/run/init/net";

/// `ip=` (or DHCP for an HTTP store) applied: addresses, routes,
/// `/etc/resolv.conf` (for the fetch, and carried into the new root) and
/// [`RUN_NET`]. `specs` replace the command line's `ip=` values when not
/// empty (the rescue prompt's `ip SPEC`).
#[cfg(feature = "net")]
pub fn setup(params: &BootParams, specs: &[&str]) -> anyhow::Result<()> {
    if specs.is_empty() && params.ip.is_empty() && restore_carried()? {
        return Ok(());
    }
    let values: Vec<&str> = if !specs.is_empty() {
        specs.to_vec()
    } else if params.ip.is_empty() {
        log::info!("network: no ip= is given: using DHCP");
        vec!["dhcp"]
    } else {
        params.ip.iter().map(String::as_str).collect()
    };
    let config = net::config::parse_all(&values).map_err(|e| anyhow::anyhow!("{e}"))?;
    for note in &config.notes {
        log::info!("{note}");
    }
    let states = net::setup::configure(
        &config,
        params.bootif.as_deref(),
        &params.ifname,
        &net::setup::Options::default(),
    )?;
    let mut summary = String::new();
    let mut resolv = String::new();
    for st in &states {
        crate::process::phase(&format!(
            "stage-1: network: {} {}/{}{} ({:?})",
            st.iface,
            st.address,
            st.prefix,
            st.gateway.map(|g| format!(" via {g}")).unwrap_or_default(),
            st.source
        ));
        summary.push_str(&st.summary());
        if resolv.is_empty() {
            resolv = st.resolv_conf();
        }
    }
    write_results(&summary, &resolv);
    Ok(())
}

/// [`RUN_NET`] and, unless `resolv` is empty, `/etc/resolv.conf`.
#[cfg(feature = "net")]
fn write_results(summary: &str, resolv: &str) {
    let write = |path: &str, text: &str| {
        let p = Path::new(path);
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(p, text) {
            log::warn!("writing {path}: {e}");
        }
    };
    write(RUN_NET, summary);
    if !resolv.is_empty() {
        write("/etc/resolv.conf", resolv);
    }
}

/// The network a previous system handed over ([`carried`]), put back on
/// the interfaces with its MACs: `Ok(true)` when at least one had it, else
/// (no handover, no such MAC) the caller runs DHCP.
#[cfg(feature = "net")]
// Not inlined into the network setup: measured 960 bytes smaller
// together (LTO otherwise copies the shared netlink helpers in).
#[inline(never)]
fn restore_carried() -> anyhow::Result<bool> {
    let Ok(text) = std::fs::read_to_string(carried()) else {
        return Ok(false);
    };
    let timeout = net::setup::Options::default().link_timeout;
    let mut done = net::setup::restore::restore(&text, timeout)?;
    if !done.missing.is_empty() {
        let macs: Vec<String> = done.missing.iter().map(ToString::to_string).collect();
        log::warn!(
            "network: no interface has the carried MAC {} (after {} s){}",
            macs.join(", "),
            timeout.as_secs(),
            if done.configured.is_empty() {
                ": using DHCP instead"
            } else {
                ""
            }
        );
    }
    for line in &done.configured {
        crate::process::phase(&format!("stage-1: network: {line} (carried over)"));
    }
    if done.configured.is_empty() {
        return Ok(false);
    }
    if let Some(name) = &done.hostname {
        if let Err(e) = rustix::system::sethostname(name.as_bytes()) {
            log::warn!("network: the carried hostname {name:?}: {e}");
        }
    }
    if !done.resolver.is_empty() {
        done.resolver.insert_str(
            0,
            "# Written by stage-1 from the network init kexec carried over.\n",
        );
    }
    write_results(&done.summary, &done.resolver);
    Ok(true)
}

/// The initramfs's `/etc/resolv.conf` (from the network setup) into the new
/// root, unless the system brings its own.
pub fn carry_resolv_conf(new_root: &Path) {
    let Ok(text) = std::fs::read_to_string("/etc/resolv.conf") else {
        return;
    };
    let etc = new_root.join("etc");
    let target = etc.join("resolv.conf");
    if target.symlink_metadata().is_ok() {
        return;
    }
    let r = std::fs::create_dir_all(&etc).and_then(|()| std::fs::write(&target, text));
    if let Err(e) = r {
        log::warn!("writing {}: {e}", target.display());
    }
}

/// The network interfaces as the menu shows them: name, MAC, up or down,
/// carrier, and what `/run/init/net` says was configured.
#[cfg(feature = "net")]
pub fn interfaces() -> String {
    let mut text = String::from("  network interfaces:\n");
    match net::rtnl::Rtnl::open().and_then(|mut r| r.links()) {
        Ok(links) => {
            for l in links.iter().filter(|l| !l.is_loopback()) {
                let _ = writeln!(
                    text,
                    "     {} {} {}{}",
                    l.name,
                    l.mac.map(|m| m.to_string()).unwrap_or_default(),
                    if l.is_up() { "up" } else { "down" },
                    if l.has_carrier() {
                        ", carrier"
                    } else {
                        ", no carrier"
                    }
                );
            }
            if links.iter().all(net::rtnl::Link::is_loopback) {
                text.push_str("     none (is the NIC's driver in the initrd?)\n");
            }
        }
        Err(e) => {
            let _ = writeln!(text, "     cannot list them: {e}");
        }
    }
    if let Ok(net) = std::fs::read_to_string(RUN_NET) {
        for line in net
            .lines()
            .filter(|l| l.starts_with("iface=") || l.starts_with("address="))
        {
            let _ = writeln!(text, "     {line}");
        }
    }
    text
}

/// Without the network stack (no cargo feature `net`): asked for by `ip=`,
/// `root=http://…` or the rescue prompt's `ip`, it fails saying so.
#[cfg(not(feature = "net"))]
pub fn setup(_params: &BootParams, _specs: &[&str]) -> anyhow::Result<()> {
    anyhow::bail!("{}", stage1::NO_NETWORK)
}

/// Without the network stack: no interfaces to show, and why.
#[cfg(not(feature = "net"))]
pub fn interfaces() -> String {
    format!("  network interfaces: unknown, {}\n", stage1::NO_NETWORK)
}
