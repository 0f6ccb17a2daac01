//! The logger: every record goes to `/dev/kmsg` with a `<N>` syslog level
//! and an `init` tag (so `dmesg` has the whole boot), and to the console
//! when its level is at or above our console threshold.
//!
//! The kernel itself echoes kmsg records whose level is below its
//! `console_loglevel` (first field of `/proc/sys/kernel/printk`); we write
//! directly to the console only the records the kernel will not echo, so
//! every line appears exactly once.
//!
//! Levels: `error` → 3, `warn` → 4, `info` with target `phase` → 5
//! (notice: one line per boot phase, shown even with `quiet`), other `info`
//! → 6 (progress such as `Loading kernel module …`), `debug`/`trace` → 7.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The target for phase lines: `log::info!(target: "phase", …)`.
pub const PHASE: &str = "phase";

static CONSOLE_THRESHOLD: AtomicU8 = AtomicU8::new(6);
static LOGGER: Logger = Logger {
    kmsg: Mutex::new(None),
    kmsg_tried: Mutex::new(false),
};

struct Logger {
    kmsg: Mutex<Option<File>>,
    kmsg_tried: Mutex<bool>,
}

/// Install the logger. `to_kmsg` is false for applets run by users (`sv`,
/// `init plan`), which log to stderr only.
pub fn init(to_kmsg: bool) {
    if !to_kmsg {
        *LOGGER
            .kmsg_tried
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
    }
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Trace);
}

/// Show records with syslog level `<= level` on the console (0-7).
pub fn set_console_level(level: u8) {
    CONSOLE_THRESHOLD.store(level.min(7), Ordering::Relaxed);
}

/// The console threshold the command line asks for: `loglevel=` wins,
/// then `boot.trace` (everything), then `quiet` (notice and above).
pub fn console_level_for(quiet: bool, loglevel: Option<u8>, trace: bool) -> u8 {
    match (loglevel, trace, quiet) {
        (Some(l), _, _) => l,
        (None, true, _) => 7,
        (None, false, true) => 5,
        (None, false, false) => 6,
    }
}

fn syslog_level(record: &Record<'_>) -> u8 {
    match record.level() {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info if record.target() == PHASE => 5,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// The kernel's console_loglevel: records below it are echoed by the kernel.
fn kernel_console_level() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/printk")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

impl Logger {
    /// Write to kmsg; returns whether it worked.
    fn write_kmsg(&self, level: u8, msg: &str) -> bool {
        let mut tried = self
            .kmsg_tried
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut kmsg = self
            .kmsg
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kmsg.is_none() && !*tried {
            *kmsg = OpenOptions::new().write(true).open("/dev/kmsg").ok();
            // Until /dev is mounted there is no kmsg; try again next time.
            *tried = kmsg.is_some();
        }
        let Some(f) = kmsg.as_mut() else {
            return false;
        };
        // One write per line: kmsg treats each write as one record.
        let mut ok = true;
        for line in msg.lines() {
            ok &= f
                .write_all(format!("<{level}>init: {line}\n").as_bytes())
                .is_ok();
        }
        ok
    }
}

impl Log for Logger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let level = syslog_level(record);
        let msg = record.args().to_string();
        let in_kmsg = self.write_kmsg(level, &msg);
        let kernel_echoes = in_kmsg && level < kernel_console_level();
        if level <= CONSOLE_THRESHOLD.load(Ordering::Relaxed) && !kernel_echoes {
            let prefix = match record.level() {
                Level::Error => "init: error: ",
                Level::Warn => "init: warning: ",
                _ => "",
            };
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{prefix}{msg}");
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_keeps_phase_lines_only() {
        assert_eq!(console_level_for(true, None, false), 5);
        assert_eq!(console_level_for(false, None, false), 6);
        assert_eq!(console_level_for(true, Some(7), false), 7);
        assert_eq!(console_level_for(true, None, true), 7);
    }
}
