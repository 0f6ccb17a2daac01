#!/usr/bin/env bash
# Re-exec benchmark (issue 20): our `runsvdir` (the same supervisor and the
# same re-exec path as PID 1) is sent SIGQUIT and execs itself with every
# service kept.
#
#   bench/reexec.sh     markdown table on stdout and in bench/results/reexec.md
#
# What it measures:
#   time   from the signal to the new process serving again: its line
#          `re-exec: supervising N services again`, written just before it
#          enters the event loop, timestamped by a reader on a FIFO
#          ($EPOCHREALTIME when the line arrives); median of BENCH_ROUNDS,
#          for 1, 100 and 1000 services (each `exec sleep`, no log/).
#   rss    VmRSS of the supervisor with 100 services before and after 100
#          re-execs in a row (each waited for).
#   idle   context switches of the supervisor over BENCH_IDLE_SECS at rest
#          with 100 services, without and with `notification-fd` (half of
#          them ready, half holding the pipe open and never ready): the
#          readiness pipes must add no wake-up (issue 20: still 0).
#
# Environment: INIT_BIN (default <repo>/dist/init), BENCH_ROUNDS (default 9),
# BENCH_IDLE_SECS (default 10).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
init=${INIT_BIN:-$root/dist/init}
rounds=${BENCH_ROUNDS:-9}
idle_secs=${BENCH_IDLE_SECS:-10}
work=$(mktemp -d /tmp/bench-reexec.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# start N [TAG]: a runsvdir on N services in $work/N$TAG (with TAG
# `ready`, each declares
# notification-fd 3: the odd ones write their ready line, the even ones
# hold the pipe open and never do); sets $sup (pid) and $log (its
# timestamped stderr).
start() {
    local n=$1 d=$work/$1${2:-}
    mkdir -p "$d/sv" "$d/bin"
    cp "$init" "$d/bin/init"
    ln -s init "$d/bin/runsvdir"
    for i in $(seq 1 "$n"); do
        mkdir -p "$d/sv/s$i"
        local ready=
        if [ "${2:-}" = ready ]; then
            echo 3 >"$d/sv/s$i/notification-fd"
            [ $((i % 2)) = 0 ] || ready='echo ready >&3\n'
        fi
        printf "#!/bin/sh\\n${ready}exec sleep 100000\\n" >"$d/sv/s$i/run"
        chmod +x "$d/sv/s$i/run"
    done
    mkfifo "$d/err"
    log=$d/log
    (while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done <"$d/err" >"$log") &
    (cd "$d" && exec setsid "$d/bin/runsvdir" "$d/sv" 2>"$d/err" </dev/null >/dev/null) &
    sup=$!
    pids+=("$sup")
    wait_lines "runsvdir: supervising s" "$n"
    # Every run process started (its pid in supervise/pid).
    local deadline=$((SECONDS + 120))
    while [ "$(cat "$d"/sv/*/supervise/pid 2>/dev/null | grep -c .)" -lt "$n" ]; do
        [ $SECONDS -lt $deadline ] || { echo "services of $n did not start" >&2; exit 1; }
        sleep 0.1
    done
}

# wait_lines TEXT COUNT: until $log has COUNT lines containing TEXT.
wait_lines() {
    local deadline=$((SECONDS + 120))
    local n
    while n=$(grep -c -- "$1" "$log" 2>/dev/null) || true; [ "${n:-0}" -lt "$2" ]; do
        [ $SECONDS -lt $deadline ] || { echo "no $2 x '$1' in $log" >&2; exit 1; }
        sleep 0.001
    done
}

# reexec N K: the K-th re-exec of the supervisor of N services; prints ms.
reexec() {
    local t0 t1
    t0=$EPOCHREALTIME
    kill -QUIT "$sup"
    wait_lines "supervising $1 services again" "$2"
    t1=$(grep -- "supervising $1 services again" "$log" | sed -n "${2}p" | cut -d' ' -f1)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) * 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# Voluntary + involuntary context switches of process $1 so far.
switches() { awk '/ctxt_switches:/ { s += $2 } END { print s }' "/proc/$1/status"; }

# idle [ready]: the supervisor's context switches over $idle_secs at rest
# with 100 services (after a settling second).
idle() {
    start 100 "${1:-idle}"
    sleep 1
    local a b
    a=$(switches "$sup")
    sleep "$idle_secs"
    b=$(switches "$sup")
    kill -TERM "$sup"
    wait "$sup" 2>/dev/null || true
    echo $((b - a))
}

table="| services | re-exec, request to serving again (median of $rounds) | beyond 1 service, per 100 |
|---:|---:|---:|"
for n in 1 100 1000; do
    echo "re-exec with $n services ..." >&2
    start "$n"
    ms=$(for k in $(seq 1 "$rounds"); do reexec "$n" "$k"; done | median)
    [ "$n" = 1 ] && one=$ms
    per=$(awk -v m="$ms" -v o="$one" -v n="$n" 'BEGIN { if (n > 1) printf "%.2f ms", (m - o) * 100 / (n - 1); else printf "–" }')
    table+=$'\n'"| $n | $ms ms | $per |"
    if [ "$n" = 100 ]; then
        before=$(rss "$sup")
        for k in $(seq $((rounds + 1)) $((rounds + 100))); do reexec "$n" "$k" >/dev/null; done
        after=$(rss "$sup")
    fi
    kill -TERM "$sup"
    wait "$sup" 2>/dev/null || true
done
table+=$'\n\n'"PID 1's supervisor RSS with 100 services: $before KiB before, $after KiB after 100 re-execs."
echo "idle wake-ups, without and with notification-fd ..." >&2
plain=$(idle)
ready=$(idle ready)
table+=$'\n\n'"| 100 services at rest, $idle_secs s | supervisor's context switches |
|---|---:|
| without \`notification-fd\` | $plain |
| with \`notification-fd\` (50 ready, 50 never ready, pipes open) | $ready (target 0) |"

out=$root/bench/results/reexec.md
{
    echo "# Re-exec with every service kept (bench/reexec.sh)"
    echo
    echo "$(date -u +%Y-%m-%d), $(nproc) cores, \`$init\`."
    echo
    echo "$table"
} >"$out"
cat "$out"
