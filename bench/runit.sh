#!/usr/bin/env bash
# Supervision benchmark (issue 5): `init runsvdir` against Debian's runit
# (runsvdir + one runsv per service), one run, side by side.
#
#   bench/runit.sh                  markdown table on stdout and in
#                                   bench/results/runit.md; progress on stderr
#
# What it measures:
#   memory   PSS and RSS (/proc/PID/smaps_rollup) of the supervisors only,
#            for 100 and 1000 trivial services: our one process against
#            runsvdir + every runsv. The services themselves are not counted.
#   restart  first restart after a crash: a service that has been up for
#            more than a second is SIGKILLed; time from the kill until the
#            new pid is in supervise/status (bytes 12-15, little-endian).
#            Each run uses a different service, so each is a first crash.
#   idle     voluntary + involuntary context switches of every supervisor
#            thread over an idle window, both supervisors at once.
#   size     bytes of runit_compat in an unstripped build of the same release
#            binary: its symbols (nm -S) and code from its source lines (DWARF).
#
# Environment:
#   INIT_BIN             binary to test (default <repo>/dist/init)
#   BENCH_IDLE_SECS      idle window (default 60)
#   BENCH_SIZES          service counts for memory (default "100 1000"); the
#                        last one is also used for the idle and restart runs
#   BENCH_RESTARTS       restart samples per supervisor (default 7)
#   BENCH_UP_TIMEOUT     seconds to wait for all services to be up (default 90)
#   INIT_NM_BIN          an unstripped build of init for the size row; if
#                        unset it is built with cargo (release, musl,
#                        strip=false, debug=line-tables-only) in
#                        ${CARGO_TARGET_DIR:-target}/unstripped
#   BENCH_NO_BUILD=1     do not build; without INIT_NM_BIN the size row is n/a
#   BENCH_LOG            1 (default): every service has a log/ (`exec cat`);
#                        0: services without log/
#   RUNSVDIR_BIN         runit's runsvdir (default /usr/bin/runsvdir; it
#                        starts `runsv` from $PATH)
#
# Everything runs in a mktemp directory under /tmp (a tmpfs mounted there
# when run as root; BENCH_TMPFS=0 to not mount). Every process started
# here has its cwd inside it, which is how cleanup finds them (trap EXIT).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INIT_BIN=${INIT_BIN:-$REPO/dist/init}
RUNSVDIR_BIN=${RUNSVDIR_BIN:-/usr/bin/runsvdir}
IDLE=${BENCH_IDLE_SECS:-60}
SIZES=${BENCH_SIZES:-100 1000}
RESTARTS=${BENCH_RESTARTS:-7}
UP_TIMEOUT=${BENCH_UP_TIMEOUT:-90}
OUT_DIR=$REPO/bench/results
OUT=$OUT_DIR/runit.md
START=$SECONDS
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -x "$INIT_BIN" ] || die "INIT_BIN=$INIT_BIN is not executable (make init?)"
[ -x "$RUNSVDIR_BIN" ] || die "$RUNSVDIR_BIN missing (apt-get install runit)"
command -v runsv >/dev/null || die "runsv not in PATH"
command -v python3 >/dev/null || die "python3 needed for the restart timing"

TMP=$(mktemp -d /tmp/bench-runit.XXXXXX)
# A tmpfs, as /run is for real supervise/ directories: status writes do not
# touch the disk, and 2000 service directories are removed at once (on this
# ext4 with discard, rm -rf took 30 s). BENCH_TMPFS=0, or not root: plain /tmp.
MOUNTED=0
if [ "${BENCH_TMPFS:-1}" = 1 ] && [ "$(id -u)" = 0 ] &&
    mount -t tmpfs -o mode=0700,size=256m bench-runit "$TMP" 2>/dev/null; then
    MOUNTED=1
fi

# Pids of processes whose cwd is under $1 (all of ours: the supervisors run
# in their service directory, runsv and the services in theirs).
procs_under() {
    find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "$1" -o -lname "$1/*" \) \
        2>/dev/null | cut -d/ -f3 || true
}

# Stop everything under $1, then kill it: stopped supervisors cannot respawn.
kill_under() {
    local pids i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(procs_under "$1")
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086
        kill -STOP $pids 2>/dev/null || true
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 0.2
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    kill_under "$TMP" 2>/dev/null
    wait 2>/dev/null
    [ "$MOUNTED" = 0 ] || umount "$TMP" || umount -l "$TMP"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Our binary is copied so that no other user of the same file shares (and
# so halves) its page-cache pages in PSS, and so a rebuild cannot swap it.
cp "$INIT_BIN" "$TMP/init"
OURS=$TMP/init

if [ -x /bin/busybox ]; then SLEEP='/bin/busybox sleep' CAT='/bin/busybox cat'; else SLEEP=sleep CAT=cat; fi
LOGGED=${BENCH_LOG:-1}
LOGDESC=
[ "$LOGGED" = 0 ] || LOGDESC=", each with a log/ service \`exec $CAT\`"

# mk_services DIR N: N services s0..s(N-1), each `exec sleep 100000`, and
# (BENCH_LOG=1, the default) a log/ service reading its output, as a system
# whose every service logs has them: runit's runsv then supervises two
# processes, ours one more pipe and child per service.
mk_services() {
    local i dirs=()
    for ((i = 0; i < $2; i++)); do
        dirs+=("$1/s$i")
        [ "$LOGGED" = 0 ] || dirs+=("$1/s$i/log")
    done
    mkdir -p "$1" "${dirs[@]}"
    for ((i = 0; i < $2; i++)); do
        printf '#!/bin/sh\nexec %s 100000\n' "$SLEEP" >"$1/s$i/run"
        [ "$LOGGED" = 0 ] || printf '#!/bin/sh\nexec %s\n' "$CAT" >"$1/s$i/log/run"
    done
    chmod 755 "$1"/*/run
    [ "$LOGGED" = 0 ] || chmod 755 "$1"/*/log/run
}

# start_sup ours|runit DIR: prints the supervisor's pid.
start_sup() {
    local bin
    if [ "$1" = ours ]; then bin=("$OURS" runsvdir -P); else bin=("$RUNSVDIR_BIN" -P); fi
    (cd "$2" && exec "${bin[@]}" "$2" </dev/null >>"$TMP/$1.log" 2>&1) &
    echo $!
}

# count_up DIR: services whose supervise/stat says run.
count_up() {
    find "$1" -mindepth 3 -maxdepth 3 -path '*/supervise/stat' -print0 2>/dev/null |
        xargs -0r cat 2>/dev/null | grep -c '^run$' || true
}

# wait_up N: until both trees have N services up; sets UP_SECS[ours|runit]
# (seconds since the supervisors were started at $T_START).
wait_up() {
    local end=$((SECONDS + UP_TIMEOUT)) c who left
    while :; do
        left=0
        for who in ours runit; do
            [ -z "${UP_SECS[$who,$1]:-}" ] || continue
            c=$(count_up "$TMP/$who")
            if [ "$c" -ge "$1" ]; then
                UP_SECS[$who,$1]=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
                say "$who: $1 services up after ${UP_SECS[$who,$1]} s"
            else
                left=1
                [ "$SECONDS" -lt "$end" ] || die "$who: only $c of $1 services up after ${UP_TIMEOUT}s (see $TMP/$who.log)"
            fi
        done
        [ "$left" = 1 ] || return 0
        sleep 0.1
    done
}

# The supervisor processes: ours is one process, runit is runsvdir + its children.
sup_pids() { # ours|runit PID
    echo "$2"
    if [ "$1" = runit ]; then ps -o pid= --ppid "$2" | tr -d ' '; fi
}

# mem PID...: "RSS PSS" in KiB, summed.
mem() {
    local files=() p
    for p in "$@"; do files+=("/proc/$p/smaps_rollup"); done
    awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } END { print r + 0, p + 0 }' "${files[@]}"
}

# ctxt PID...: voluntary + nonvoluntary switches of every thread, summed.
ctxt() {
    local files=() p
    for p in "$@"; do files+=("/proc/$p/task/"*/status); done
    awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }' "${files[@]}"
}

nfds() { local n=0 p f; for p in "$@"; do f=("/proc/$p/fd/"*); n=$((n + ${#f[@]})); done; echo "$n"; }

# Helpers for the table.
kib() { awk -v k="$1" 'BEGIN { if (k >= 10240) printf "%.1f MiB", k / 1024; else printf "%d KiB", k }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else if (a == 0) print "0"; else printf "%.3f (1/%.0f)", a / b, b / a }'; }

declare -A RSS PSS NPROC FDS UP_SECS

# ---------------------------------------------------------------- size ----
NM_BIN=${INIT_NM_BIN:-}
NM_NOTE=""
if [ -z "$NM_BIN" ] && [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    tdir=${CARGO_TARGET_DIR:-$REPO/target}/unstripped
    say "building an unstripped release binary in $tdir (for the size row)"
    if (cd "$REPO" && CARGO_TARGET_DIR=$tdir CARGO_PROFILE_RELEASE_STRIP=false \
        CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release --target x86_64-unknown-linux-musl -p init) >"$TMP/build.log" 2>&1; then
        NM_BIN=$tdir/x86_64-unknown-linux-musl/release/init
    else
        tail -5 "$TMP/build.log" >&2
        NM_NOTE="build failed"
    fi
fi
SIZE_SUM=n/a
if [ -n "$NM_BIN" ] && [ -f "$NM_BIN" ]; then
    cat >"$TMP/attr.py" <<'EOF'
# Bytes of BIN attributable to runit_compat: "nm_text nm_data line_text union_text"
# (line_text/union_text are -1 without DWARF line tables).
import re, subprocess, sys, shutil
binp = sys.argv[1]
nm = subprocess.run(["nm", "-C", "-S", binp], capture_output=True, text=True, check=True).stdout
text, data, ranges = 0, 0, []
for l in nm.splitlines():
    f = l.split(None, 3)
    if len(f) < 4 or "runit_compat" not in f[3]:
        continue
    a, s, t = int(f[0], 16), int(f[1], 16), f[2]
    if t in "tTwW":
        text += s; ranges.append((a, a + s))
    elif t in "rRdD":
        data += s
line = -1
dd = shutil.which("llvm-dwarfdump")
if dd:
    out = subprocess.run([dd, "--debug-line", binp], capture_output=True, text=True).stdout
    dirs, files, rows, cur = {}, {}, [], None
    row = re.compile(r"^0x([0-9a-f]+)\s+\d+\s+\d+\s+(\d+)\s.*?(end_sequence)?\s*$")
    lr = []
    for l in out.splitlines():
        if l.startswith("debug_line["):
            dirs, files, prev = {}, {}, None
        elif m := re.match(r'include_directories\[\s*(\d+)\] = "(.*)"', l):
            dirs[int(m[1])] = m[2]
        elif m := re.match(r"file_names\[\s*(\d+)\]:", l):
            cur = int(m[1]); files[cur] = ["", 0]
        elif m := re.match(r'\s+name: "(.*)"', l):
            files[cur][0] = m[1]
        elif m := re.match(r"\s+dir_index: (\d+)", l):
            files[cur][1] = int(m[1])
        elif m := row.match(l):
            a = int(m[1], 16)
            if prev is not None and a > prev[0] and prev[1]:
                lr.append((prev[0], a))
            if m[3]:
                prev = None
            else:
                n, d = files.get(int(m[2]), ["", 0])
                p = n if n.startswith("/") else dirs.get(d, "") + "/" + n
                prev = (a, "runit-compat/src/" in p)
    if lr:
        def merge(rs):
            rs = sorted(rs); outr = []
            for a, b in rs:
                if outr and a <= outr[-1][1]:
                    outr[-1][1] = max(outr[-1][1], b)
                else:
                    outr.append([a, b])
            return sum(b - a for a, b in outr)
        line = merge(lr)
        union = merge(lr + ranges)
print(text, data, line, union if line >= 0 else -1)
EOF
    read -r NM_TEXT NM_DATA LINE_TEXT UNION_TEXT < <(python3 "$TMP/attr.py" "$NM_BIN")
    if [ "$UNION_TEXT" -ge 0 ]; then
        SIZE_SUM=$((UNION_TEXT + NM_DATA))
        SIZE_DETAIL="text $UNION_TEXT = union of $NM_TEXT in runit_compat functions (nm) and $LINE_TEXT from runit-compat/src lines (DWARF, inlined included); data $NM_DATA"
    else
        SIZE_SUM=$((NM_TEXT + NM_DATA))
        SIZE_DETAIL="text $NM_TEXT in runit_compat functions (nm; no line tables); data $NM_DATA"
    fi
else
    NM_NOTE=${NM_NOTE:-no unstripped binary}
fi
INIT_SIZE=$(stat -c %s "$INIT_BIN")

# -------------------------------------------------------------- memory ----
LAST=${SIZES##* }
for n in $SIZES; do
    say "memory, $n services: creating service directories"
    rm -rf "$TMP/ours" "$TMP/runit"
    mk_services "$TMP/ours" "$n"
    mk_services "$TMP/runit" "$n"
    T_START=$EPOCHREALTIME
    OPID=$(start_sup ours "$TMP/ours")
    RPID=$(start_sup runit "$TMP/runit")
    wait_up "$n"
    sleep 2
    mapfile -t rp < <(sup_pids runit "$RPID")
    [ "${#rp[@]}" -eq $((n + 1)) ] || die "runit: expected $((n + 1)) supervisor processes, found ${#rp[@]}"
    read -r "RSS[ours,$n]" "PSS[ours,$n]" < <(mem "$OPID")
    read -r "RSS[runit,$n]" "PSS[runit,$n]" < <(mem "${rp[@]}")
    NPROC[ours,$n]=1 NPROC[runit,$n]=${#rp[@]}
    FDS[ours,$n]=$(nfds "$OPID") FDS[runit,$n]=$(nfds "${rp[@]}")
    say "memory, $n services: ours PSS ${PSS[ours,$n]} KiB RSS ${RSS[ours,$n]} KiB;" \
        "runit PSS ${PSS[runit,$n]} KiB RSS ${RSS[runit,$n]} KiB"
    [ "$n" = "$LAST" ] && break
    kill_under "$TMP/ours"
    kill_under "$TMP/runit"
done

# ---------------------------------------------------------------- idle ----
say "idle: $IDLE s, $LAST services each, both supervisors at once"
c0_ours=$(ctxt "$OPID")
c0_runit=$(ctxt "${rp[@]}")
sleep "$IDLE"
c1_ours=$(ctxt "$OPID")
c1_runit=$(ctxt "${rp[@]}")
mapfile -t rp2 < <(sup_pids runit "$RPID")
[ "${#rp2[@]}" -eq "${#rp[@]}" ] || say "warning: runit's process set changed during the idle window"
IDLE_OURS=$((c1_ours - c0_ours))
IDLE_RUNIT=$((c1_runit - c0_runit))
say "idle: ours $IDLE_OURS, runit $IDLE_RUNIT context switches"

# ------------------------------------------------------------- restart ----
# Services s0..s(R-1) have been up since before the idle window.
cat >"$TMP/restart.py" <<'EOF'
import os, signal, struct, sys, time
TAI = (1 << 62) + 10
def status(path):
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 20:
        return 0, 0.0
    since = struct.unpack_from(">Q", b, 0)[0] - TAI + struct.unpack_from(">I", b, 8)[0] / 1e9
    return struct.unpack_from("<I", b, 12)[0], since
out = []
for path in sys.argv[1:]:
    old, since = status(path)
    while not old or time.time() - since <= 1.05:   # up for more than a second
        time.sleep(0.05)
        old, since = status(path)
    t0 = time.monotonic_ns()
    os.kill(old, signal.SIGKILL)
    ms = float("nan")
    while time.monotonic_ns() - t0 < 5_000_000_000:
        time.sleep(0.0001)   # ~0.1 ms resolution without taking a CPU away
        try:
            pid, _ = status(path)
        except OSError:
            continue
        if pid and pid != old:
            ms = (time.monotonic_ns() - t0) / 1e6
            break
    out.append(ms)
    time.sleep(0.1)
print(" ".join("%.3f" % m for m in out))
EOF
restart() { # DIR
    local files=() i
    for ((i = 0; i < RESTARTS; i++)); do files+=("$1/s$i/supervise/status"); done
    (cd "$1" && exec python3 "$TMP/restart.py" "${files[@]}")
}
# "median min max" of the arguments
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'; }
say "restart: $RESTARTS SIGKILLs per supervisor"
read -ra LAT_OURS < <(restart "$TMP/ours")
read -ra LAT_RUNIT < <(restart "$TMP/runit")
read -r MED_OURS MIN_OURS MAX_OURS < <(stats "${LAT_OURS[@]}")
read -r MED_RUNIT MIN_RUNIT MAX_RUNIT < <(stats "${LAT_RUNIT[@]}")
say "restart: ours ${LAT_OURS[*]} ms; runit ${LAT_RUNIT[*]} ms"

kill_under "$TMP/ours"
kill_under "$TMP/runit"

# --------------------------------------------------------------- table ----
ok() { if awk "BEGIN { exit !($1) }"; then echo "✓"; else echo "✗"; fi; }
RUNIT_VER=$(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo "?")
P_OURS=${PSS[ours,$LAST]} P_RUNIT=${PSS[runit,$LAST]}
ELAPSED=$((SECONDS - START))
{
    echo "## Supervision: \`init runsvdir\` vs runit $RUNIT_VER"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, load average at start $LOAD;" \
        "\`$INIT_BIN\` ($INIT_SIZE bytes);" \
        "services: \`#!/bin/sh\` + \`exec $SLEEP 100000\`$LOGDESC on $( [ "$MOUNTED" = 1 ] && echo tmpfs || echo "$(stat -f -c %T "$TMP")");" \
        "supervisors only (the services are not counted)."
    echo
    echo "| metric | ours (\`init runsvdir\`) | runit (runsvdir + N runsv) | ours/runit | target |"
    echo "|---|---|---|---|---|"
    for n in $SIZES; do
        tgt="" r=$(ratio "${PSS[ours,$n]}" "${PSS[runit,$n]}")
        [ "$n" = 1000 ] && tgt="≤ 1/20 $(ok "${PSS[ours,$n]} * 20 <= ${PSS[runit,$n]}")"
        echo "| PSS, $n services | $(kib "${PSS[ours,$n]}") | $(kib "${PSS[runit,$n]}")" \
            "($(awk -v k="${PSS[runit,$n]}" -v n="$n" 'BEGIN { printf "%.0f", k / n }') KiB/service) | $r | $tgt |"
        echo "| RSS, $n services | $(kib "${RSS[ours,$n]}") | $(kib "${RSS[runit,$n]}")" \
            "($(awk -v k="${RSS[runit,$n]}" -v n="$n" 'BEGIN { printf "%.0f", k / n }') KiB/service) |" \
            "$(ratio "${RSS[ours,$n]}" "${RSS[runit,$n]}") | |"
        echo "| all $n services up (started together, polled every 0.1 s) | ${UP_SECS[ours,$n]} s | ${UP_SECS[runit,$n]} s | | |"
        echo "| processes / open fds, $n services | ${NPROC[ours,$n]} / ${FDS[ours,$n]} |" \
            "${NPROC[runit,$n]} / ${FDS[runit,$n]} | | |"
    done
    echo "| first restart after SIGKILL (up > 1 s), median of $RESTARTS [min–max] |" \
        "$MED_OURS ms [$MIN_OURS–$MAX_OURS] | $MED_RUNIT ms [$MIN_RUNIT–$MAX_RUNIT] |" \
        "$(ratio "$MED_OURS" "$MED_RUNIT" | cut -d' ' -f1) | ≤ 10 ms (median) $(ok "$MED_OURS <= 10") |"
    echo "| context switches at rest, $IDLE s, $LAST services | $IDLE_OURS | $IDLE_RUNIT | | 0 $(ok "$IDLE_OURS == 0") |"
    if [ "$SIZE_SUM" = n/a ]; then
        echo "| bytes attributed to runit_compat symbols | n/a ($NM_NOTE) | | | |"
    else
        echo "| ≈ bytes attributed to runit_compat (text+data, a lower bound) | $SIZE_SUM" \
            "($SIZE_DETAIL; $(awk -v a="$SIZE_SUM" -v b="$INIT_SIZE" 'BEGIN { printf "%.1f", 100 * a / b }') % of the binary) | — | | |"
    fi
    echo
    echo "Restart samples (ms): ours ${LAT_OURS[*]}; runit ${LAT_RUNIT[*]}."
    echo "Size: an unstripped build of the same release profile with line tables (\`$NM_BIN\`). Counted:"
    echo "symbols whose name contains \`runit_compat\` (\`nm -C -S\`: its functions, statics, generic instances"
    echo "over its types), plus machine code whose DWARF line is in runit-compat/src (code inlined elsewhere)."
    echo "Not counted: std/nix/rustix code pulled in only for this crate, and its string constants (rodata)."
    echo "Wall time: ${ELAPSED} s."
} | tee "$TMP/table.md"
mkdir -p "$OUT_DIR"
cp "$TMP/table.md" "$OUT"
say "wrote $OUT (${ELAPSED} s)"
