#!/bin/sh
# arcad CPU time per keep-alive session read: a figure that, unlike reads/s, does not depend on
# what else the machine runs (utime + stime of arcad from /proc around one loadgen run).
#
#   bench/read_cpu.sh [BUILD_DIR] [SECONDS] [CLIENTS...]      (default: build, 4, 1 16 64)
#
# Starts a throw-away arcad with one worker on loopback, as bench/server.sh does, creates the
# session bench-read and runs `loadgen --mode read` once per client count.
set -eu
BUILD=${1:-build}
SECS=${2:-4}
[ $# -ge 2 ] && shift 2 || shift $#
CLIENTS=${*:-1 16 64}
BIN=$BUILD/bin
. "$(dirname "$0")/common.sh"
TMP=$(mktemp -d /tmp/arca-bench-cpu-XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
WORKERS=1 SRV_PIN= bench_arcad
printf 'name: bench-read\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n' >"$TMP/s.yaml"
"$BIN/arca" --identity "$ID" session create "$TMP/s.yaml" >/dev/null
HZ=$(getconf CLK_TCK)
for n in $CLIENTS; do
    t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    line=$("$BIN/loadgen" --cas "$ADDR" --cas-key "$KEY" --identity "$ID" --mode read \
        --clients "$n" --duration "$SECS")
    t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    req=$(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/')
    python3 -c "print('reads clients=$n requests=$req arcad_cpu_s=%.2f cpu_us_per_read=%.0f' % (($t1 - $t0) / $HZ, ($t1 - $t0) / $HZ * 1e6 / max($req, 1)))"
done
