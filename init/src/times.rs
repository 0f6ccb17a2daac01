//! Boot phase timestamps on CLOCK_BOOTTIME (seconds since the kernel
//! started, suspend included), appended to `/run/init/boot-times`
//! after switch_root as one `phase seconds` line each.
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use stage1::decimal::Fixed;

use nix::time::{clock_gettime, ClockId};

/// Where stage-1 (before it execs a system's `init`) and stage-2 (when
/// supervision starts) append their marks.
pub const BOOT_TIMES: &str = "/run/init/boot-times";

#[derive(Debug, Default, Clone)]
pub struct BootTimes {
    marks: Vec<(String, Duration)>,
}

/// Time since boot.
pub fn now() -> Duration {
    // nix's (libc's, through musl's vDSO lookup that std links anyway),
    // not rustix's, whose own vDSO parser is 2 KiB. CLOCK_BOOTTIME exists
    // since Linux 2.6.39: the error arm is for form's sake.
    clock_gettime(ClockId::CLOCK_BOOTTIME).map_or(Duration::ZERO, |t| {
        Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
    })
}

impl BootTimes {
    pub fn mark(&mut self, phase: &str) {
        self.marks.push((phase.to_owned(), now()));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (phase, secs) in &self.marks {
            let _ = writeln!(out, "{phase} {}", Fixed::secs(*secs, 6));
        }
        out
    }

    /// Append the marks to `file` (creating its directory), best effort:
    /// a failure is logged, never fatal.
    pub fn write(&self, file: &Path) {
        let result = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                use std::io::Write as _;
                // Append: a stage-2 exec'd by our stage-1 adds its own marks.
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)?;
                f.write_all(self.render().as_bytes())
            });
        if let Err(e) = result {
            log::warn!("cannot write {}: {e}", file.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_phase_in_order() {
        let mut t = BootTimes::default();
        t.mark("init");
        t.mark("modules");
        let text = t.render();
        let phases: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(phases, ["init", "modules"]);
        let secs: Vec<Duration> = text
            .lines()
            .map(|l| stage1::decimal::parse_seconds(l.split(' ').nth(1).unwrap()).unwrap())
            .collect();
        assert!(secs[0] <= secs[1]);
    }
}
