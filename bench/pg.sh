#!/bin/sh
# Several arcads on one PostgreSQL beside one arcad on SQLite (issue 15): durable writes/s and
# reads/s at 1, 16 and 64 mutual-TLS clients (bench/loadgen.c), in one run. With K arcads the
# clients are split evenly over them (one loadgen per arcad, run at once; the rates add up).
#
#   bench/pg.sh [BUILD_DIR] [SECONDS]      (default: build, 5)
#
# Starts a throw-away PostgreSQL cluster (tests/pg_util.sh, fsync on) and throw-away arcads on
# loopback; members after the first run on a copy of its data dir (same simulated platform).
# Every figure line is followed by the commands that reproduce it against running arcads.
set -eu
BUILD=${1:-build}
SECS=${2:-5}
BIN=$BUILD/bin
HERE=$(cd "$(dirname "$0")" && pwd)
for b in arcad arca loadgen; do
    [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (cmake --build $BUILD)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/arca-benchpg-XXXXXX)
PGD=$(mktemp -d /tmp/arca-pgb-XXXXXX)
mkdir -m 700 "$TMP/sim"
cleanup() {
    stop_all
    sh "$HERE/../tests/pg_util.sh" stop "$PGD" || true
    rm -rf "$TMP" "$PGD"
}
trap cleanup EXIT INT TERM
sh "$HERE/../tests/pg_util.sh" start "$PGD" >/dev/null
WORKERS=${ARCAD_WORKERS:-1}

# start_arcad NAME [--store URL]: starts arcad on TMP/NAME, prints its client address (runs in
# a command substitution: the pid goes to TMP/pids, read by stop_all and cleanup)
start_arcad() {
    name=$1
    shift
    "$BIN/arcad" --data-dir "$TMP/$name" --client-listen 127.0.0.1:0 \
        --enclave-listen 127.0.0.1:0 --sim-dir "$TMP/sim" --workers "$WORKERS" \
        --client-rate 0 --max-pending-per-peer 4096 --log-level warn "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    echo $! >>"$TMP/pids"
    i=0
    until grep -q "arcad ready" "$TMP/$name.out" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 600 ] || { cat "$TMP/$name.err" >&2; exit 1; }
        sleep 0.05
    done
    sed -n 's/^client API listening on //p' "$TMP/$name.out"
}

stop_all() {
    [ -f "$TMP/pids" ] || return 0
    for p in $(cat "$TMP/pids"); do kill "$p" 2>/dev/null || true; done
    for p in $(cat "$TMP/pids"); do
        while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
    done
    rm -f "$TMP/pids"
}

# run LABEL ADDR...: the figures over the given arcads
run() {
    label=$1
    shift
    k=$#
    key=$(sed -n 's/^CAS key: //p' "$TMP/m0.out" 2>/dev/null || true)
    [ -n "$key" ] || key=$(sed -n 's/^CAS key: //p' "$TMP/sqlite.out")
    ID="$TMP/id-$label"
    "$BIN/arca" --identity "$ID" self keygen >/dev/null
    for a in "$@"; do "$BIN/arca" --identity "$ID" cas attest "$a" --accept-simulation >/dev/null; done
    printf 'name: bench-read\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n' >"$TMP/s.yaml"
    "$BIN/arca" --identity "$ID" session create "$TMP/s.yaml" >/dev/null
    for mode in write read; do
        for n in 1 16 64; do
            per=$(( (n + k - 1) / k ))
            cmds=""
            lgs=""
            for a in "$@"; do
                c="$BIN/loadgen --cas $a --cas-key $key --identity $ID --mode $mode --clients $per --duration $SECS"
                cmds="$cmds$c
"
                $c >"$TMP/lg.$(echo "$a" | tr : _)" 2>&1 &
                lgs="$lgs $!"
            done
            for p in $lgs; do wait "$p" || true; done
            total=$(cat "$TMP"/lg.* | sed -n 's/.*rate=\([0-9.]*\)\/s.*/\1/p' | awk '{s+=$1} END {printf "%.1f", s}')
            errs=$(cat "$TMP"/lg.* | sed -n 's/.*errors=\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')
            p50=$(cat "$TMP"/lg.* | sed -n 's/.*p50=\([0-9.]*\)ms.*/\1/p' | sort -n | tail -1)
            printf '%-14s %-5s clients=%-3d rate=%8s/s errors=%s p50(max over arcads)=%sms\n' \
                "$label" "$mode" "$n" "$total" "$errs" "$p50"
            printf '%s' "$cmds" | sed 's/^/    reproduce: /'
            rm -f "$TMP"/lg.*
        done
    done
}

echo "# arcad on $(uname -sr), $(nproc) cores, $WORKERS worker(s) per arcad; ${SECS}s per figure;" \
     "one local PostgreSQL (Unix socket, fsync on); loadgen unpinned"
A=$(start_arcad sqlite)
run sqlite "$A"
stop_all
for k in 1 2 3; do
    URL=$(sh "$HERE/../tests/pg_util.sh" createdb "$PGD" "bench$k")
    rm -rf "$TMP"/m*
    ADDRS=$(start_arcad m0 --store "$URL")
    i=1
    while [ $i -lt $k ]; do
        mkdir "$TMP/m$i"
        cp -r "$TMP/m0/identity" "$TMP/m0/arca.db.key-store" "$TMP/m$i/"
        ADDRS="$ADDRS $(start_arcad m$i --store "$URL")"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    run "pg-$k-arcad" $ADDRS
    stop_all
done
