//! Stage-1's network, as PID 1 runs it: `ip=` (or DHCP for a store on an
//! HTTP server) applied through `net::setup`, what it found written
//! where the rest of the boot and people look, and the interfaces as the
//! failure menu and the rescue prompt show them.
#[cfg(feature = "net")]
use std::fmt::Write as _;
use std::path::Path;

use stage1::cmdline::{BootParams, RootSpec};

/// `ip=` is given, or the store is on an HTTP server (DHCP then, unless an
/// `ip=` says otherwise).
pub fn wanted(params: &BootParams) -> bool {
    !params.ip.is_empty() || matches!(params.root, Some(RootSpec::Url(_)))
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
    let values: Vec<&str> = if !specs.is_empty() {
        specs.to_vec()
    } else if params.ip.is_empty() {
        log::info!("the store is on an HTTP server and no ip= is given: using DHCP");
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
    let write = |path: &str, text: &str| {
        let p = Path::new(path);
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(p, text) {
            log::warn!("writing {path}: {e}");
        }
    };
    write(RUN_NET, &summary);
    if !resolv.is_empty() {
        write("/etc/resolv.conf", &resolv);
    }
    Ok(())
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
