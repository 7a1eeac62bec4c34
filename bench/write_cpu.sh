#!/bin/sh
# arcad CPU time per durable session write (update), a figure that, unlike writes/s, hardly
# depends on what else the machine runs: utime + stime of arcad from /proc around one
# `loadgen --mode write` run, divided by the writes answered. With `perf` (and the rights to
# trace syscalls) it also prints WAL fdatasyncs per write and the mean members per batch
# (writes / fdatasyncs: every batch makes one COMMIT, i.e. one fdatasync, and audit
# checkpoints add one commit every 128 lines).
#
#   bench/write_cpu.sh [BUILD_DIR] [SECONDS] [CLIENTS...]      (default: build, 4, 1 64)
#
# Starts a throw-away arcad with one worker on loopback pinned as bench/server.sh pins it.
# With PERF_DATA=FILE set, `perf record -g` samples arcad during each run into FILE.CLIENTS
# (then `perf report -i FILE.64 --no-children --percent-limit 1`).
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
SECS=${2:-4}
[ $# -ge 2 ] && shift 2 || shift $#
CLIENTS=${*:-1 64}
BIN=$BUILD/bin
bench_need arcad arca loadgen
TMP=$(mktemp -d /tmp/arca-bench-wcpu-XXXXXX)
PID=
cleanup() {
    [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
    [ -z "$PID" ] || wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
bench_pin
WORKERS=1
bench_arcad
PERF=
if command -v perf >/dev/null 2>&1 &&
    perf stat -e syscalls:sys_enter_fdatasync -p "$PID" -o /dev/null -- sleep 0.1 >/dev/null 2>&1; then
    PERF=1
fi
HZ=$(getconf CLK_TCK)
for n in $CLIENTS; do
    if [ -n "$PERF" ]; then
        perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_futex,context-switches \
            -p "$PID" -o "$TMP/perf" &
        PP=$!
        sleep 0.2
    fi
    if [ -n "${PERF_DATA:-}" ]; then
        perf record -q ${PERF_OPTS:--g} -p "$PID" -o "$PERF_DATA.$n" >/dev/null 2>&1 &
        PR=$!
        sleep 0.2
    fi
    t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    line=$($GEN_PIN "$BIN/loadgen" --cas "$ADDR" --cas-key "$KEY" --identity "$ID" --mode write \
        --clients "$n" --duration "$SECS")
    t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    if [ -n "${PERF_DATA:-}" ]; then
        kill -INT "$PR" 2>/dev/null || true
        wait "$PR" 2>/dev/null || true
    fi
    sync_n=0 futex_n=0 cs_n=0
    if [ -n "$PERF" ]; then
        kill -INT "$PP" 2>/dev/null || true
        wait "$PP" 2>/dev/null || true
        sync_n=$(awk -F, '/fdatasync/ {print $1}' "$TMP/perf")
        futex_n=$(awk -F, '/futex/ {print $1}' "$TMP/perf")
        cs_n=$(awk -F, '/context-switches/ {print $1}' "$TMP/perf")
    fi
    req=$(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/')
    echo "$line"
    python3 -c "
def num(v):
    try:
        return int(v)
    except ValueError:
        return 0
req, cpu, syncs = max($req, 1), ($t1 - $t0) / $HZ, num('$sync_n')
extra = ' fdatasync_per_write=%.2f members_per_batch=%.1f futex_per_write=%.1f cs_per_write=%.1f' % (
    syncs / req, req / syncs, num('$futex_n') / req, num('$cs_n') / req) if syncs else ''
print('  writes clients=$n requests=$req arcad_cpu_s=%.2f cpu_us_per_write=%.0f%s' % (cpu, cpu * 1e6 / req, extra))"
done
