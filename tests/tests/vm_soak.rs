//! The lossless shutdown soak (issue 11): `SOAK_ROUNDS` boots (default 5,
//! one of each ending, what `make test` runs; `make soak` runs 20) of one ext4 root
//! (`realroot=/dev/vdb`, made once with `mkfs.ext4`, so damage would
//! accumulate from round to round), each ended in turn by `poweroff`,
//! `reboot` (QEMU runs with `-no-reboot`, so a reboot ends it too),
//! ctrl-alt-del (the monitor's `sendkey`), SIGPWR to PID 1 and the ACPI
//! power button (the monitor's `system_powerdown`, what a hypervisor's
//! "shut down" sends; issue 17: its driver comes from the toplevel's
//! `kernel-modules`, loaded by stage-2's coldplug).
//!
//! In every round the fixture service `soak-writer`
//! (`tests/fixtures/soak/`, built into the store by
//! `scripts/variants/soak-variant.sh`) appends numbered records to
//! `/soak/round-N`, fsyncs each and only then acknowledges its number in
//! `/run/soak-ack`. Right before the shutdown the host reads that number;
//! after QEMU has exited the round passes only if QEMU exited 0 (the guest
//! reached reboot(2)), the console shows the shutdown's steps and no
//! panic, `e2fsck -fn` finds the image clean with nothing left in its
//! journal, and every record up to the
//! acknowledged one is in the file, intact and in order (read out of the
//! image with `debugfs`), with nothing but whole later records (and at
//! most one torn last write) after them. A figures table goes to stderr.
//!
//! Console logs and the variant are kept under
//! `$CARGO_TARGET_TMPDIR/vm_soak/`, and so is the image when a round fails.
mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::stage1::{no_panic, BOOT, HELLO_LOGGED};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// From the shutdown request to QEMU's exit: 7 s for services, 3 s for
/// the rest, plus TCG slowness.
const SHUTDOWN: Duration = Duration::from_secs(90);
/// Records the writer must have acknowledged before a round ends it, so
/// that every shutdown meets a writer in full swing.
const MIN_ACKED: u64 = 100;
/// How long the writer may take to acknowledge `MIN_ACKED` records.
const WRITING: Duration = Duration::from_mins(3);
/// The record file's length per record: `rRRRR nNNNNNNNNN\n`.
const RECORD_LEN: usize = 17;
/// The ext4 image's size.
const IMAGE_BYTES: u64 = 64 << 20;

/// How a round ends the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Poweroff,
    Reboot,
    CtrlAltDel,
    Sigpwr,
    PowerButton,
}

const ENDINGS: [Ending; 5] = [
    Ending::Poweroff,
    Ending::Reboot,
    Ending::CtrlAltDel,
    Ending::Sigpwr,
    Ending::PowerButton,
];

/// PID 1's line once the ACPI power button's event device is open.
const BUTTON_WATCHED: &str = "watching /dev/input/event";

impl Ending {
    fn name(self) -> &'static str {
        match self {
            Ending::Poweroff => "poweroff",
            Ending::Reboot => "reboot",
            Ending::CtrlAltDel => "ctrl-alt-del",
            Ending::Sigpwr => "SIGPWR",
            Ending::PowerButton => "power button",
        }
    }

    /// The verb of init's shutdown lines (`stopping services to …`).
    fn verb(self) -> &'static str {
        match self {
            Ending::Poweroff | Ending::Sigpwr | Ending::PowerButton => "power off",
            Ending::Reboot | Ending::CtrlAltDel => "reboot",
        }
    }

    /// The kernel's last line once reboot(2) runs.
    fn kernel_line(self) -> &'static str {
        match self {
            Ending::Poweroff | Ending::Sigpwr | Ending::PowerButton => "reboot: Power down",
            Ending::Reboot | Ending::CtrlAltDel => "reboot: Restarting system",
        }
    }

    /// Ask the guest to shut down this way. The guest commands are sent
    /// without waiting for an answer, which the shutdown may cut short;
    /// whether the request took effect is seen from QEMU's exit.
    fn trigger(self, vm: &mut Vm) -> Result<()> {
        match self {
            Ending::Poweroff => vm.run_ending_boot("poweroff"),
            Ending::Reboot => vm.run_ending_boot("reboot"),
            Ending::Sigpwr => vm.run_ending_boot("kill -PWR 1"),
            Ending::CtrlAltDel => {
                let out = vm.monitor("sendkey ctrl-alt-delete")?;
                ensure!(out.trim().is_empty(), "sendkey: {out}");
                Ok(())
            }
            Ending::PowerButton => {
                // Pressed before PID 1 watches it, the press would be lost.
                vm.wait_for_console(BUTTON_WATCHED, BOOT)?;
                let out = vm.monitor("system_powerdown")?;
                ensure!(out.trim().is_empty(), "system_powerdown: {out}");
                Ok(())
            }
        }
    }
}

/// What one round found.
#[derive(Debug, Default)]
struct Round {
    /// Records acknowledged when the shutdown was requested.
    acked: u64,
    /// Whole records in the file afterwards, from 1 in order.
    on_disk: u64,
    /// Acknowledged records missing or damaged.
    lost: u64,
    /// `e2fsck -fn` clean and nothing left in the journal.
    fsck_clean: bool,
    /// QEMU exited 0 with the shutdown's lines on the console.
    shutdown_ok: bool,
}

/// Totals over the rounds, for the table.
#[derive(Debug, Default)]
struct Figures {
    rounds: Vec<(Ending, Round)>,
}

impl Figures {
    fn table(&self, planned: usize, elapsed: Duration) -> String {
        let r = &self.rounds;
        let sum = |f: fn(&Round) -> u64| r.iter().map(|(_, x)| f(x)).sum::<u64>();
        let count = |f: fn(&Round) -> bool| r.iter().filter(|(_, x)| f(x)).count();
        let mut t = String::new();
        let _ = writeln!(
            t,
            "shutdown soak: {} of {planned} rounds in {elapsed:.0?}",
            r.len()
        );
        let _ = writeln!(t, "| ending | tried | survived |");
        let _ = writeln!(t, "|---|---|---|");
        for e in ENDINGS {
            let tried = r.iter().filter(|(x, _)| *x == e).count();
            let ok = r.iter().filter(|(x, y)| *x == e && survived(y)).count();
            let _ = writeln!(t, "| {} | {tried} | {ok} |", e.name());
        }
        let _ = writeln!(t, "| figure | value |");
        let _ = writeln!(t, "|---|---|");
        let rows = [
            ("rounds", r.len().to_string()),
            (
                "power-offs survived",
                r.iter().filter(|(_, x)| survived(x)).count().to_string(),
            ),
            (
                "clean shutdowns (QEMU exit 0, all steps)",
                count(|x| x.shutdown_ok).to_string(),
            ),
            (
                "filesystem clean (e2fsck -fn, journal empty)",
                count(|x| x.fsck_clean).to_string(),
            ),
            ("records acknowledged", sum(|x| x.acked).to_string()),
            ("records on disk", sum(|x| x.on_disk).to_string()),
            ("acknowledged records lost", sum(|x| x.lost).to_string()),
        ];
        for (k, v) in rows {
            let _ = writeln!(t, "| {k} | {v} |");
        }
        t
    }
}

/// A power-off is survived when the shutdown was clean, the filesystem is
/// clean and no acknowledged record is lost.
fn survived(r: &Round) -> bool {
    r.shutdown_ok && r.fsck_clean && r.lost == 0
}

fn soak_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_soak")
}

fn rounds() -> Result<usize> {
    match std::env::var("SOAK_ROUNDS") {
        Ok(s) if !s.is_empty() => {
            let n: usize = s
                .parse()
                .with_context(|| format!("SOAK_ROUNDS={s:?} is not a number"))?;
            ensure!(n > 0, "SOAK_ROUNDS must be at least 1");
            Ok(n)
        }
        _ => Ok(ENDINGS.len()),
    }
}

/// Every ending, in turn, on one ext4 image: nothing acknowledged is lost
/// and the filesystem stays clean (module doc).
#[test]
fn shutdown_soak_loses_no_acknowledged_record() -> Result<()> {
    let test = "shutdown_soak_loses_no_acknowledged_record";
    let dist = default_dist();
    if !can_boot(&dist, test) {
        return Ok(());
    }
    let planned = rounds()?;
    let dir = soak_dir();
    fs::create_dir_all(&dir)?;
    let variant = build_variant(&dist, &dir.join("dist"))?;
    let img = dir.join(format!("soak-{}.ext4", std::process::id()));
    common::make_ext4(&img, IMAGE_BYTES, "soakroot")?;

    let started = Instant::now();
    let mut figures = Figures::default();
    let mut failure = None;
    for n in 1..=planned {
        let ending = ENDINGS[(n - 1) % ENDINGS.len()];
        let mut round = Round::default();
        let res = run_round(&variant, &img, n, ending, &mut round);
        eprintln!(
            "round {n}/{planned} {}: acked {} on disk {} lost {} fsck {} shutdown {}{}",
            ending.name(),
            round.acked,
            round.on_disk,
            round.lost,
            if round.fsck_clean {
                "clean"
            } else {
                "NOT clean"
            },
            if round.shutdown_ok { "ok" } else { "NOT ok" },
            res.as_ref()
                .err()
                .map_or(String::new(), |e| format!(": {e:#}")),
        );
        figures.rounds.push((ending, round));
        if let Err(e) = res {
            failure = Some(e.context(format!("round {n} ({})", ending.name())));
            break;
        }
    }
    eprint!("{}", figures.table(planned, started.elapsed()));
    if let Some(e) = failure {
        eprintln!("{test}: disk image kept at {}", img.display());
        return Err(e);
    }
    let lost: u64 = figures.rounds.iter().map(|(_, r)| r.lost).sum();
    ensure!(lost == 0, "{lost} acknowledged records lost");
    let _ = fs::remove_file(&img);
    Ok(())
}

fn build_variant(dist: &Path, out: &Path) -> Result<PathBuf> {
    common::variant::run("soak-variant.sh", &[out.as_os_str()], dist, &[])?;
    Ok(out.to_path_buf())
}

/// One boot of the image ended by `ending`; fills `round` as far as it
/// gets, and fails on the first check that does not hold.
fn run_round(
    variant: &Path,
    img: &Path,
    n: usize,
    ending: Ending,
    round: &mut Round,
) -> Result<()> {
    let log = soak_dir().join(format!("round-{n}.log"));
    let cfg = VmConfig {
        console_log: Some(log.clone()),
        dist: variant.to_path_buf(),
        drives: vec![img.to_path_buf()],
        kernel_params: [
            "realroot=/dev/vdb",
            "rootfstype=ext4",
            "loglevel=6",
            &format!("soak_round={n}"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        ..VmConfig::default()
    };
    let mut vm = Vm::boot(&cfg).with_context(|| format!("console log {}", log.display()))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    vm.wait_for_console(&format!("soak-writer: round {n} writing"), BOOT)?;
    let root_type = guest(
        &mut vm,
        "awk '$2 == \"/\" { t = $3 } END { print t }' /proc/mounts",
    )?;
    ensure!(root_type == "ext4", "/ is {root_type:?}, not ext4");

    let deadline = Instant::now() + WRITING;
    round.acked = loop {
        let acked = read_ack(&mut vm)?;
        if acked >= MIN_ACKED {
            break acked;
        }
        if Instant::now() >= deadline {
            bail!("the writer acknowledged only {acked} records in {WRITING:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    ending.trigger(&mut vm)?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    drop(vm);

    let shutdown = check_shutdown(&console, ending, status.success())
        .with_context(|| format!("QEMU exited with {status}; console log {}", log.display()));
    round.shutdown_ok = shutdown.is_ok();
    let fsck = fsck(img);
    round.fsck_clean = fsck.is_ok();
    let data = read_records(img, n)?;
    let check = check_records(&data, n, round.acked);
    round.on_disk = check.intact;
    round.lost = check.lost;
    let mut failed: Vec<String> = [shutdown.err(), fsck.err()]
        .into_iter()
        .flatten()
        .map(|e| format!("{e:#}"))
        .collect();
    failed.extend(
        check
            .problems
            .iter()
            .map(|p| format!("/soak/round-{n}: {p}")),
    );
    ensure!(failed.is_empty(), "{}", failed.join("\n"));
    Ok(())
}

/// Run `cmd` in the guest; it must exit 0. Its output, trimmed at the end.
fn guest(vm: &mut Vm, cmd: &str) -> Result<String> {
    let (out, code) = vm.run(cmd)?;
    ensure!(code == 0, "guest command {cmd:?} exited {code}: {out}");
    Ok(out.trim_end().to_owned())
}

/// The writer's last acknowledged record (0 before the first).
fn read_ack(vm: &mut Vm) -> Result<u64> {
    let out = guest(vm, "cat /run/soak-ack 2>/dev/null || echo 0")?;
    out.trim()
        .parse()
        .with_context(|| format!("/run/soak-ack holds {out:?}"))
}

/// The whole console once QEMU has exited: `wait_exit` returns when QEMU
/// is gone, possibly before the console thread has read the last bytes
/// from the socket; wait (bounded) until it has seen the socket close.
fn console_after_exit(vm: &Vm) -> String {
    let _ = vm.wait_for_console("\u{1}never printed\u{2}", Duration::from_secs(10));
    vm.console()
}

/// QEMU exited 0, and the console has the shutdown's steps in order (the
/// kernel echoes init's phase lines at loglevel=6, so they share one
/// ordering with the kernel's last line), the root remounted read-only,
/// and no panic of the kernel or of init.
fn check_shutdown(console: &str, ending: Ending, exited_0: bool) -> Result<()> {
    ensure!(exited_0, "QEMU did not exit 0; console:\n{console}");
    let pressed = (ending == Ending::PowerButton)
        .then(|| "init: power button pressed: powering off".to_owned());
    let steps: Vec<String> = pressed
        .into_iter()
        .chain([
            format!("init: shutdown: stopping services to {}", ending.verb()),
            "init: shutdown: all services are down".to_owned(),
            "init: shutdown: sending SIGTERM to all processes".to_owned(),
            format!("init: shutdown: syncing filesystems and {}", ending.verb()),
            ending.kernel_line().to_owned(),
        ])
        .collect();
    let mut from = 0;
    for s in &steps {
        match console[from..].find(s.as_str()) {
            Some(i) => from += i + s.len(),
            None => bail!("console lacks {s:?} (in order: {steps:?}); console:\n{console}"),
        }
    }
    ensure!(
        console.contains("shutdown: remounted / read-only"),
        "/ was not remounted read-only; console:\n{console}"
    );
    ensure!(
        !console.contains("init panicked"),
        "init panicked:\n{console}"
    );
    no_panic(console)
}

/// The filesystem was left clean: `e2fsck -fn` (a forced, read-only
/// check) exits 0, and nothing waits in the journal. The second matters:
/// `e2fsck -n` skips journal recovery and still exits 0 when the journal
/// holds transactions never written home (as after a power cut), and
/// `debugfs` reads around the journal too; only a filesystem whose
/// journal is empty shows the records where they live.
fn fsck(img: &Path) -> Result<()> {
    let out = Command::new("e2fsck")
        .arg("-fn")
        .arg(img)
        .output()
        .context("running e2fsck")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "e2fsck -fn {} exited {}:\n{text}",
        img.display(),
        out.status
    );
    let sb = Command::new("dumpe2fs")
        .arg("-h")
        .arg(img)
        .output()
        .context("running dumpe2fs (e2fsprogs)")?;
    ensure!(
        sb.status.success(),
        "dumpe2fs -h exited {}: {}",
        sb.status,
        String::from_utf8_lossy(&sb.stderr)
    );
    let features = String::from_utf8_lossy(&sb.stdout)
        .lines()
        .find(|l| l.starts_with("Filesystem features:"))
        .map(str::to_owned)
        .context("dumpe2fs -h shows no features")?;
    ensure!(
        !features.split_whitespace().any(|f| f == "needs_recovery"),
        "the journal needs recovery (the shutdown did not leave the filesystem clean): {features}\ne2fsck -fn:\n{text}"
    );
    Ok(())
}

/// The record file of round `n`, read out of the image (empty if missing).
fn read_records(img: &Path, n: usize) -> Result<Vec<u8>> {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat /soak/round-{n}"))
        .arg(img)
        .output()
        .context("running debugfs (e2fsprogs)")?;
    ensure!(
        out.status.success(),
        "debugfs exited {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// Record `i` of round `n`, as the writer writes it.
fn record(n: usize, i: u64) -> String {
    format!("r{n:04} n{i:09}\n")
}

/// What the record file holds.
#[derive(Debug, PartialEq, Eq)]
struct RecordCheck {
    /// Leading whole records 1, 2, … in order.
    intact: u64,
    /// Acknowledged records not among them.
    lost: u64,
    /// Everything wrong: lost records, bytes that are no record.
    problems: Vec<String>,
}

/// Check `data` against round `n` with `acked` records acknowledged:
/// records 1..=acked must lead the file, whole and in order; after them
/// only later records in order, of which the last may be cut short (a
/// write the shutdown interrupted, never acknowledged).
fn check_records(data: &[u8], n: usize, acked: u64) -> RecordCheck {
    let mut intact = 0;
    for chunk in data.chunks(RECORD_LEN) {
        if chunk != record(n, intact + 1).as_bytes() {
            break;
        }
        intact += 1;
    }
    let lost = acked.saturating_sub(intact);
    let mut problems = Vec::new();
    if lost > 0 {
        problems.push(format!(
            "{lost} of {acked} acknowledged records lost (the file has {intact} whole records, {} bytes)",
            data.len()
        ));
    }
    let rest = &data[usize::try_from(intact).expect("record count") * RECORD_LEN..];
    let next = record(n, intact + 1);
    // Nothing, or a prefix of the next record (a torn last write).
    let whole_or_torn = rest.len() < RECORD_LEN && next.as_bytes().starts_with(rest);
    if !whole_or_torn {
        let shown = &rest[..rest.len().min(4 * RECORD_LEN)];
        problems.push(format!(
            "after record {intact}, {} bytes that are not record {}: {:?}",
            rest.len(),
            intact + 1,
            String::from_utf8_lossy(shown)
        ));
    }
    RecordCheck {
        intact,
        lost,
        problems,
    }
}

/// The checker itself, without a VM: it counts a missing, damaged or
/// reordered acknowledged record as lost, and rejects garbage after the
/// records while accepting one torn last write.
#[test]
fn record_check_finds_lost_and_damaged_records() {
    let file = |range: std::ops::RangeInclusive<u64>| -> Vec<u8> {
        range.flat_map(|i| record(7, i).into_bytes()).collect()
    };
    let ok = check_records(&file(1..=5), 7, 5);
    assert_eq!((ok.intact, ok.lost), (5, 0));
    assert!(ok.problems.is_empty(), "{:?}", ok.problems);

    let mut torn = file(1..=6);
    torn.truncate(5 * RECORD_LEN + 8);
    let t = check_records(&torn, 7, 5);
    assert_eq!((t.intact, t.lost), (5, 0));
    assert!(t.problems.is_empty(), "{:?}", t.problems);

    let short = check_records(&file(1..=3), 7, 5);
    assert_eq!(short.lost, 2);
    assert_eq!(short.problems.len(), 1);

    let mut damaged = file(1..=5);
    damaged[2 * RECORD_LEN + 3] = 0;
    let d = check_records(&damaged, 7, 5);
    assert_eq!((d.intact, d.lost), (2, 3));
    assert_eq!(d.problems.len(), 2, "{:?}", d.problems);

    let mut skipped = file(1..=2);
    skipped.extend(file(4..=5));
    assert_eq!(check_records(&skipped, 7, 4).lost, 2);

    assert_eq!(
        check_records(&file(1..=5), 8, 5).lost,
        5,
        "another round's records"
    );
    assert_eq!(check_records(b"", 7, 1).lost, 1);

    let mut zeros = file(1..=5);
    zeros.extend([0u8; RECORD_LEN]);
    assert_eq!(
        check_records(&zeros, 7, 5).problems.len(),
        1,
        "zeros after the records"
    );
}
