#!/bin/sh
# Start-up after a long audit log (issue 14 item 6; docs/performance.md "Start-up after a long
# audit log"): for each arcad binary, fills a throw-away data directory with keep-alive session
# reads (one signed audit line each: bench/loadgen --mode read, 16 clients, READ_SECONDS),
# stops arcad, then restarts the binaries alternately RUNS times each and reports the lines in
# the audit file, wall time and arcad's CPU (utime + stime of all its threads) until
# "arcad ready".
#
#   bench/audit_startup.sh [BUILD_DIR] [READ_SECONDS] [RUNS] [BASE_BIN_DIR]
#   e.g. bench/audit_startup.sh build 10 3 /tmp/main-bin     (default: build, 10, 3, none)
#
# BASE_BIN_DIR holds another arcad to compare with (e.g. a copy of main's build/bin/arcad);
# each binary gets a data directory of its own (the store is sealed for the arcad binary).
# ARCA_BENCH_KEEP=1 keeps the directories (their path is printed) for profiling start-up.
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
SECS=${2:-10}
RUNS=${3:-3}
BASE=${4:-}
BIN=$BUILD/bin
NEWBIN=$BIN
bench_need arcad arca loadgen
ROOT=$(mktemp -d /tmp/arca-bench-astart-XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
    if [ -n "${ARCA_BENCH_KEEP:-}" ]; then echo "kept: $ROOT" >&2; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT INT TERM
bench_pin

# fill NAME ARCAD_BIN_DIR: a data directory $ROOT/NAME whose audit log holds the reads.
fill() {
    TMP=$ROOT/$1
    mkdir -p "$TMP"
    BIN=$2
    bench_arcad --rate-limit 1000000 --rate-burst 1000000 --global-rate-limit 0
    printf 'name: bench-read\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n' \
        >"$TMP/r.yaml"
    "$NEWBIN/arca" --identity "$ID" session create "$TMP/r.yaml" >/dev/null
    $GEN_PIN "$NEWBIN/loadgen" --cas "$ADDR" --cas-key "$KEY" --identity "$ID" --mode read \
        --clients 16 --duration "$SECS" >/dev/null
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}

# start NAME ARCAD_BIN_DIR: one timed start-up on $ROOT/NAME, then a clean stop.
start() {
    TMP=$ROOT/$1
    lines=$(wc -l <"$TMP/data/audit.log")
    : >"$TMP/arcad.out"
    t0=$(date +%s%N)
    "$2/arcad" --data-dir "$TMP/data" --client-listen 127.0.0.1:0 --enclave-listen 127.0.0.1:0 \
        --sim-dir "$TMP/sim" --workers "$WORKERS" --log-level warn >"$TMP/arcad.out" \
        2>>"$TMP/arcad.err" &
    PID=$!
    bench_ready "$TMP/arcad.out" "$TMP/arcad.err"
    ms=$((($(date +%s%N) - t0) / 1000000))
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
    echo "$1 $lines $ms $STARTUP_CPU_MS"
}

echo "# $(date -u +%FT%TZ) $(uname -srm), $CORES cores, ${SECS}s of reads per data directory"
fill new "$NEWBIN"
[ -z "$BASE" ] || fill base "$BASE"
echo "# binary audit_lines startup_wall_ms startup_cpu_ms"
i=0
while [ $i -lt "$RUNS" ]; do
    [ -z "$BASE" ] || start base "$BASE"
    start new "$NEWBIN"
    i=$((i + 1))
done
