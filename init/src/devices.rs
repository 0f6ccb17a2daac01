//! Devices while the system runs (stage-2): drivers for what appears
//! after stage-1, and the power button — what udev and logind do on
//! NixOS, without a daemon.
//!
//! * **Drivers.** PID 1 keeps a uevent socket in its event loop (no
//!   thread, no timer). It never loads a module itself — a probe can take
//!   seconds, and supervision must answer meanwhile —: a child,
//!   `init coldplug` ([`crate::coldplug_cmd`]), resolves and loads with
//!   stage-1's code, against the system's module tree ([`module_dir`]).
//!   The first child, at the start of stage-2, takes every device in
//!   `/sys` and the modules-load.d lists; later ones the devices announced
//!   meanwhile. One child at a time: what comes while one runs waits in a
//!   queue of at most [`MAX_QUEUE`] devices, and a longer flood (or lost
//!   events) turns into one rescan of `/sys` by the next child, so memory
//!   stays bounded whatever the kernel sends.
//! * **The power button.** Every input device whose key capabilities
//!   include `KEY_POWER` (or `KEY_SLEEP`) is read in the loop; a power key
//!   press asks for the same shutdown as `poweroff`, or what
//!   `/etc/init/power-button` or `boot.power_button=` say. The sleep key is
//!   logged and ignored. A service that wants the button (acpid) either
//!   sets `ignore`, or grabs the device (`EVIOCGRAB`): PID 1 then reads
//!   nothing from it.
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use runit_compat::{Exec, Fd, Session, Supervisor, HOST_TOKENS};
use stage1::cmdline::{BootParams, PowerButton};
use stage1::devices::uevent::UeventSocket;
use stage1::modules::NameSet;

use crate::action::Action;
use crate::process::{phase, Ended};

/// Devices waiting for the next `init coldplug`; beyond, it rescans.
pub const MAX_QUEUE: usize = 256;
/// The running system's choice for the power button (one word).
pub const POWER_BUTTON_FILE: &str = "/etc/init/power-button";
const UEVENT_TOKEN: u64 = HOST_TOKENS;

/// `KEY_POWER` and `KEY_SLEEP` of `linux/input-event-codes.h`.
const KEY_POWER: u16 = 116;
const KEY_SLEEP: u16 = 142;
const EV_KEY: u16 = 1;
/// `struct input_event` on a 64-bit kernel: a `timeval`, then type
/// (u16), code (u16) and value (i32).
const INPUT_EVENT_SIZE: usize = 24;

/// The running system's devices; see the module docs.
pub struct Devices {
    socket: Option<UeventSocket>,
    module_dir: Option<PathBuf>,
    coldplug: bool,
    /// The `init coldplug` running now.
    loader: Option<Pid>,
    queue: Vec<String>,
    rescan: bool,
    /// Modaliases handed to a loader already: one entry per distinct
    /// modalias, however many events repeat them.
    seen: NameSet,
    buttons: Vec<Button>,
    next_token: u64,
    setting: Option<PowerButton>,
    /// The shutdown began: no more loaders, no more presses.
    stopped: bool,
}

struct Button {
    fd: OwnedFd,
    /// `/dev/input/event0`.
    node: String,
    token: u64,
}

impl Devices {
    /// Listen for uevents, then start the first loader (so that nothing
    /// falls between its scan of `/sys` and the socket), point the
    /// kernel's module requests at our applet, and open the buttons that
    /// are there already.
    pub fn start(params: &BootParams, toplevel: Option<&Path>) -> Self {
        let socket = UeventSocket::open()
            .map_err(|e| {
                log::warn!(
                    "stage-2: cannot listen for uevents ({e}): devices added later get no driver"
                );
            })
            .ok();
        let mut devices = Devices {
            socket,
            module_dir: module_dir(toplevel),
            coldplug: !params.coldplug_off,
            loader: None,
            queue: Vec::new(),
            rescan: true,
            seen: NameSet::default(),
            buttons: Vec::new(),
            next_token: UEVENT_TOKEN + 1,
            setting: params.power_button,
            stopped: false,
        };
        devices.next_loader();
        install_modprobe_helper();
        if let Ok(entries) = std::fs::read_dir("/sys/class/input") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with("event") {
                    devices.consider_input(&entry.path(), &format!("input/{name}"));
                }
            }
        }
        devices
    }

    /// Put the socket and the buttons into the loop's epoll set.
    pub fn watch(&self, sup: &Supervisor) {
        if let Some(socket) = &self.socket {
            if let Err(e) = sup.watch_fd(socket.as_fd(), UEVENT_TOKEN) {
                log::warn!("stage-2: cannot watch uevents: {e}");
            }
        }
        for b in &self.buttons {
            watch_button(sup, b);
        }
    }

    /// The shutdown began: start nothing more, act on no button.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether `pid` was a loader (then the next one starts, if needed).
    pub fn reaped(&mut self, pid: Pid, status: WaitStatus) -> bool {
        if self.loader != Some(pid) {
            return false;
        }
        self.loader = None;
        if !matches!(status, WaitStatus::Exited(_, 0)) {
            log::warn!("init coldplug ended with {}", Ended(status));
        }
        self.next_loader();
        true
    }

    /// The loop says `token` is readable: uevents, or a button. Returns
    /// the shutdown a power key press asks for.
    pub fn ready(&mut self, sup: &Supervisor, token: u64) -> Option<Action> {
        if token == UEVENT_TOKEN {
            self.uevents(sup);
            return None;
        }
        let idx = self.buttons.iter().position(|b| b.token == token)?;
        let mut buf = [0u8; INPUT_EVENT_SIZE * 16];
        let mut pressed = None;
        loop {
            match rustix::io::read(&self.buttons[idx].fd, &mut buf) {
                Ok(0) | Err(rustix::io::Errno::AGAIN) => break,
                Ok(n) => {
                    for ev in buf[..n].chunks_exact(INPUT_EVENT_SIZE) {
                        pressed = pressed.or(key_press(ev));
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    // ENODEV: unplugged. Closing the fd drops it from epoll.
                    log::debug!("{}: {e}; no longer watched", self.buttons[idx].node);
                    self.buttons.swap_remove(idx);
                    break;
                }
            }
        }
        match pressed? {
            KEY_SLEEP => {
                log::info!("sleep button pressed: ignored (init does not suspend)");
                None
            }
            _ if self.stopped => None,
            _ => self.power_key(),
        }
    }

    /// What a power key press does now: the file, else the parameter.
    fn power_key(&self) -> Option<Action> {
        let from_file = std::fs::read_to_string(POWER_BUTTON_FILE).ok().and_then(|text| {
            let choice = PowerButton::parse(&text);
            if choice.is_none() {
                log::warn!(
                    "{POWER_BUTTON_FILE}: \"{}\" is not poweroff, reboot or ignore; using the default",
                    text.trim()
                );
            }
            choice
        });
        match from_file.or(self.setting).unwrap_or(PowerButton::PowerOff) {
            PowerButton::Ignore => {
                log::info!("power button pressed: ignored ({POWER_BUTTON_FILE} or boot.power_button=ignore)");
                None
            }
            PowerButton::PowerOff => {
                phase("power button pressed: powering off");
                Some(Action::PowerOff)
            }
            PowerButton::Reboot => {
                phase("power button pressed: rebooting");
                Some(Action::Reboot)
            }
        }
    }

    fn uevents(&mut self, sup: &Supervisor) {
        let Some(socket) = self.socket.as_mut() else {
            return;
        };
        let mut added = Vec::new();
        let drained = socket.drain(&mut |ev| {
            if ev.is_add() {
                added.push(ev);
            }
        });
        match drained {
            Ok(false) => {}
            Ok(true) => self.rescan = true,
            Err(e) => {
                log::warn!("stage-2: reading uevents: {e}; devices added later get no driver");
                self.socket = None;
            }
        }
        for ev in added {
            if let Some(node) = ev
                .devname
                .as_deref()
                .filter(|n| n.starts_with("input/event"))
            {
                let sys = Path::new("/sys").join(ev.devpath.trim_start_matches('/'));
                if self.consider_input(&sys, node) {
                    if let Some(b) = self.buttons.last() {
                        watch_button(sup, b);
                    }
                }
            }
            if let Some(alias) = ev.modalias {
                if self.coldplug && !self.rescan && self.seen.insert(alias) {
                    if self.queue.len() < MAX_QUEUE {
                        self.queue.push(ev.devpath);
                    } else {
                        // A flood: one scan of /sys covers it all.
                        self.queue = Vec::new();
                        self.rescan = true;
                    }
                }
            }
        }
        self.next_loader();
    }

    /// Open the event device `node` (`input/event3`, sysfs dir `sys`) if it
    /// has a power or sleep key. True when it was added.
    fn consider_input(&mut self, sys: &Path, node: &str) -> bool {
        let caps = std::fs::read_to_string(sys.join("device/capabilities/key")).unwrap_or_default();
        if !has_key(&caps, KEY_POWER) && !has_key(&caps, KEY_SLEEP) {
            return false;
        }
        let node = format!("/dev/{node}");
        if self.buttons.iter().any(|b| b.node == node) {
            return false;
        }
        match rustix::fs::open(
            node.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            Ok(fd) => {
                log::info!("stage-2: watching {node} for the power button");
                self.buttons.push(Button {
                    fd,
                    node,
                    token: self.next_token,
                });
                self.next_token += 1;
                true
            }
            Err(e) => {
                log::warn!("stage-2: cannot open {node} (a power button): {e}");
                false
            }
        }
    }

    /// Start `init coldplug` for what waits, unless one runs.
    fn next_loader(&mut self) {
        if self.loader.is_some() || self.stopped || (!self.rescan && self.queue.is_empty()) {
            return;
        }
        let Some(dir) = &self.module_dir else {
            return;
        };
        let mut argv: Vec<&OsStr> = vec![
            OsStr::new("init"),
            OsStr::new("coldplug"),
            OsStr::new("--module-dir"),
            dir.as_os_str(),
        ];
        if self.rescan {
            argv.push(OsStr::new("--all"));
        } else {
            argv.extend(self.queue.iter().map(OsStr::new));
        }
        let exe = Path::new("/proc/self/exe");
        match Exec::new(exe, &argv, None, Some(Path::new("/")))
            .and_then(|e| runit_compat::spawn(&e, [Fd::Inherit; 3], Session::New, false))
        {
            Ok(pid) => {
                self.loader = Some(Pid::from_raw(pid as i32));
                self.queue.clear();
                self.rescan = false;
            }
            Err(e) => log::warn!("stage-2: cannot start init coldplug: {e}"),
        }
    }
}

fn watch_button(sup: &Supervisor, b: &Button) {
    if let Err(e) = sup.watch_fd(b.fd.as_fd(), b.token) {
        log::warn!("stage-2: cannot watch {}: {e}", b.node);
    }
}

/// The key of a press (value 1) in one `struct input_event`.
fn key_press(ev: &[u8]) -> Option<u16> {
    let kind = u16::from_ne_bytes([ev[16], ev[17]]);
    let code = u16::from_ne_bytes([ev[18], ev[19]]);
    let value = i32::from_ne_bytes([ev[20], ev[21], ev[22], ev[23]]);
    (kind == EV_KEY && value == 1 && (code == KEY_POWER || code == KEY_SLEEP)).then_some(code)
}

/// Whether the capability bitmap `caps` (sysfs `capabilities/key`: hex
/// words of the kernel's `long`, most significant first) has bit `key`.
fn has_key(caps: &str, key: u16) -> bool {
    let bits = usize::BITS as usize;
    let key = usize::from(key);
    caps.split_whitespace()
        .rev()
        .nth(key / bits)
        .and_then(|w| usize::from_str_radix(w, 16).ok())
        .is_some_and(|w| w >> (key % bits) & 1 == 1)
}

/// Where a system's module tree may be, in order: NixOS's
/// `$toplevel/kernel-modules/lib/modules/RELEASE`, then
/// `/lib/modules/RELEASE` (the `modprobe` applet's too, with
/// `/run/booted-system` as the toplevel).
pub fn module_trees(toplevel: Option<&Path>, release: &str) -> Vec<PathBuf> {
    toplevel
        .map(|t| t.join("kernel-modules/lib/modules").join(release))
        .into_iter()
        .chain([Path::new("/lib/modules").join(release)])
        .collect()
}

/// The kernel's module requests (`modprobe -q -- fs-vfat`) go to this
/// path; stage-2 makes it, and `insmod`, `rmmod`, `lsmod` beside it,
/// links to PID 1's own binary (`/proc/1/exe`: whatever happens to the
/// file it was started from), whose name makes it the applet.
pub const MODPROBE_HELPER: &str = "/run/init/bin/modprobe";
const PROC_MODPROBE: &str = "/proc/sys/kernel/modprobe";

fn install_modprobe_helper() {
    let helper = Path::new(MODPROBE_HELPER);
    let result = (|| -> std::io::Result<()> {
        let dir = helper.parent().unwrap_or(helper);
        std::fs::create_dir_all(dir)?;
        for applet in ["modprobe", "insmod", "rmmod", "lsmod"] {
            let link = dir.join(applet);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/proc/1/exe", link)?;
        }
        std::fs::write(PROC_MODPROBE, MODPROBE_HELPER)
    })();
    if let Err(e) = result {
        log::warn!(
            "stage-2: cannot point {PROC_MODPROBE} at {MODPROBE_HELPER} ({e}): the kernel's own module requests (filesystems, protocols, crypto) will fail"
        );
    }
}

/// The booted system's module tree: NixOS's
/// `$toplevel/kernel-modules/lib/modules/RELEASE`, else the new root's
/// `/lib/modules/RELEASE`. None (one warning naming both) when neither
/// has a `modules.dep`.
fn module_dir(toplevel: Option<&Path>) -> Option<PathBuf> {
    let uname = rustix::system::uname();
    let tried = module_trees(toplevel, &uname.release().to_string_lossy());
    if let Some(found) = tried.iter().find(|d| d.join("modules.dep").exists()) {
        return Some(found.clone());
    }
    let names: Vec<String> = tried.iter().map(|d| d.display().to_string()).collect();
    let say = format!(
        "stage-2: no kernel module tree (tried {}): devices added later get no driver",
        names.join(", ")
    );
    if toplevel.is_some() {
        log::warn!("{say}");
    } else {
        log::debug!("{say}");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bits_are_read_from_the_last_word_up() {
        // QEMU's ACPI power button (LNXPWRBN): KEY_POWER only.
        let power = "10000000000000 0";
        assert!(has_key(power, KEY_POWER));
        assert!(!has_key(power, KEY_SLEEP));
        // A sleep button: bit 142 is bit 14 of the third word.
        let sleep = "4000 0 0";
        assert!(has_key(sleep, KEY_SLEEP));
        assert!(!has_key(sleep, KEY_POWER));
        assert!(!has_key("", KEY_POWER));
        assert!(!has_key("zz 0", KEY_POWER));
        // A keyboard: many words, KEY_POWER among them.
        let kbd = "402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe";
        assert!(has_key(kbd, KEY_POWER));
    }

    #[test]
    fn only_presses_of_the_two_keys_count() {
        let ev = |kind: u16, code: u16, value: i32| {
            let mut b = [0u8; INPUT_EVENT_SIZE];
            b[16..18].copy_from_slice(&kind.to_ne_bytes());
            b[18..20].copy_from_slice(&code.to_ne_bytes());
            b[20..24].copy_from_slice(&value.to_ne_bytes());
            b
        };
        assert_eq!(key_press(&ev(EV_KEY, KEY_POWER, 1)), Some(KEY_POWER));
        assert_eq!(key_press(&ev(EV_KEY, KEY_SLEEP, 1)), Some(KEY_SLEEP));
        assert_eq!(key_press(&ev(EV_KEY, KEY_POWER, 0)), None);
        assert_eq!(key_press(&ev(EV_KEY, KEY_POWER, 2)), None);
        assert_eq!(key_press(&ev(0, 0, 0)), None);
        assert_eq!(key_press(&ev(EV_KEY, 30, 1)), None);
    }
}
