#!/bin/sh
# Cost as sessions grow (issue 14 item 6): fills one throw-away arcad's data directory with 1k,
# 10k (and 100k) sessions and at each size restarts arcad and reports
#   - start-up time: from exec to "arcad ready" (opening the store verifies the whole state:
#     every record against the sealed state chain, the audit log's tail against the store),
#     as wall time and as arcad's CPU time (utime + stime of all its threads) until then,
#   - arcad's RSS after start-up and after the load below (VmRSS),
#   - keep-alive session reads/s (bench/loadgen --mode read, 16 clients),
#   - attestations/s (bench/bench_launch: new mutual-TLS connection + challenge + attest, 8
#     clients),
# then, at the largest size, the RSS cost of 1,000 idle connections (TLS handshake done, one
# request answered, then kept open doing nothing).
#
#   bench/scale.sh [BUILD_DIR] [SECONDS] [SIZES]     (default: build, 5, "1000 10000")
#   e.g. bench/scale.sh build 5 "1000 10000 100000"
#   ARCA_BENCH_KEEP=1 keeps the data directory (its path is printed) for profiling start-up.
#   The fill runs bench/bench_fill on the stopped arcad's data directory: the library create
#   path of POST /v1/sessions (arca_cas_session_put, one durable commit per session, the
#   store sealed for this arcad binary), without HTTP/TLS and audit lines, on a copy of the data directory in /dev/shm (100k in minutes
#   instead of 40+ min). ARCA_BENCH_FILL=api fills through the API instead (bench/loadgen
#   --mode create: 16 mutual-TLS clients).
#
# The rates at each size are printed as a ratio to those at the first size (same run). The
# machine is shared: run it several times before trusting a trend.
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
SECS=${2:-5}
SIZES=${3:-"1000 10000"}
BIN=$BUILD/bin
bench_need arcad arca arca-run loadgen bench_launch bench_fill
TMP=$(mktemp -d /tmp/arca-bench-scale-XXXXXX)
mkdir -m 700 "$TMP/sim"
PID=
IDLE_PID=
cleanup() {
    [ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null || true
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
    if [ -n "${ARCA_BENCH_KEEP:-}" ]; then echo "kept: $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT INT TERM
bench_pin

# Starts arcad on the data directory (the same ports each time); sets PID, STARTUP_MS and
# STARTUP_CPU_MS.
start_arcad() {
    : >"$TMP/arcad.out"
    t0=$(date +%s%N)
    "$BIN/arcad" --data-dir "$TMP/data" --client-listen "${CLIENT:-127.0.0.1:0}" \
        --enclave-listen "${ENCLAVE:-127.0.0.1:0}" --sim-dir "$TMP/sim" --allow-simulation \
        --workers "$WORKERS" --log-level warn --client-rate 0 --max-sessions-per-client 0 --max-connections 4096 \
        --max-pending 4096 --max-pending-per-peer 4096 --timeout 600 --rate-limit 1000000 \
        --rate-burst 1000000 --global-rate-limit 0 >"$TMP/arcad.out" 2>>"$TMP/arcad.err" &
    PID=$!
    bench_ready "$TMP/arcad.out" "$TMP/arcad.err"
    STARTUP_MS=$((($(date +%s%N) - t0) / 1000000))
    # start-up uses every core (the verification runs on two threads); the load below runs
    # with arcad's threads on the server half of the cores, as in the other benchmarks
    [ -z "$SRV_PIN" ] || taskset -a -p -c "0-$((HALF - 1))" "$PID" >/dev/null
}
stop_arcad() {
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID/status"; }

start_arcad
EMPTY_MS=$STARTUP_MS
CLIENT=$(sed -n 's/^client API listening on //p' "$TMP/arcad.out")
ENCLAVE=$(sed -n 's/^enclave API listening on //p' "$TMP/arcad.out")
KEY=$(sed -n 's/^CAS key: //p' "$TMP/arcad.out")
ID="$TMP/id"
ARCA="$BIN/arca --identity $ID"
$ARCA self keygen >/dev/null
ARCA_SIM_DIR="$TMP/sim" $ARCA cas attest "$CLIENT" --accept-simulation >/dev/null
printf 'name: bench-read\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n' >"$TMP/r.yaml"
$ARCA session create "$TMP/r.yaml" >/dev/null
M=$(printf '%064d' 0)
cat >"$TMP/a.yaml" <<EOF
name: bench
version: "0.3"
services:
  - name: app
    command: prog --secret \$\$SCONE::s\$\$
    environment: {S: "\$\$SCONE::s\$\$"}
    attestation:
      simulation: {measurement: "$M"}
secrets:
  - name: s
    kind: ascii
security:
  attestation:
    mode: simulation
EOF
$ARCA session create "$TMP/a.yaml" >/dev/null

echo "# $(date -u +%FT%TZ) $(uname -srm), $CORES cores, arcad workers $WORKERS," \
    "server pin '${SRV_PIN:-none}', generator pin '${GEN_PIN:-none}', ${SECS}s per rate"
echo "# start-up of the empty data directory: $EMPTY_MS ms (baseline)"
echo "# sessions startup_ms startup_cpu_ms rss_start_MiB rss_loaded_MiB reads/s attest/s (ratio to first size)"
have=0
first_read=
first_att=
for n in $SIZES; do
    stop_arcad
    if [ "$n" -gt "$have" ]; then
        t0=$(date +%s)
        if [ "${ARCA_BENCH_FILL:-lib}" = api ]; then
            start_arcad
            $GEN_PIN "$BIN/loadgen" --cas "$CLIENT" --cas-key "$KEY" --identity "$ID" --mode create \
                --prefix "s$n" --requests $((n - have)) --clients 16 --duration 100000 >"$TMP/fill" ||
                { cat "$TMP/fill" >&2; echo "bench: filling failed" >&2; exit 1; }
            stop_arcad
        else
            # on a copy in memory (the fsyncs of 100k commits would take 30+ min on this disk),
            # then back: the same files, so arcad verifies them like any others
            SHM=$(mktemp -d /dev/shm/arca-bench-fill-XXXXXX)
            cp -a "$TMP/data/." "$SHM/"
            "$BIN/bench_fill" --data-dir "$SHM" --sim-dir "$TMP/sim" --arcad "$BIN/arcad" \
                --cas-key "$KEY" --identity "$ID" --prefix "s$n" --count $((n - have)) >"$TMP/fill" ||
                { cat "$TMP/fill" >&2; rm -rf "$SHM"; echo "bench: filling failed" >&2; exit 1; }
            rm -f "$TMP/data/arca.db-wal" "$TMP/data/arca.db-shm"
            cp -a "$SHM/." "$TMP/data/"
            rm -rf "$SHM"
            sync
        fi
        echo "  (filled $((n - have)) sessions in $(($(date +%s) - t0)) s: $(cat "$TMP/fill"))"
        have=$n
    fi
    start_arcad
    rss0=$(rss_kib)
    read=$($GEN_PIN "$BIN/loadgen" --cas "$CLIENT" --cas-key "$KEY" --identity "$ID" --mode read \
        --clients 16 --duration "$SECS" | bench_rate)
    att=$($GEN_PIN "$BIN/bench_launch" --addr "$ENCLAVE" --cas-key "$KEY" --config-id bench/app \
        --measurement "$M" --sim-dir "$TMP/sim" --clients 8 --duration "$SECS" | bench_rate)
    rss1=$(rss_kib)
    first_read=${first_read:-$read}
    first_att=${first_att:-$att}
    python3 -c "print('%d %d %d %.1f %.1f %.0f %.0f (%.2f, %.2f)' % ($n, $STARTUP_MS, $STARTUP_CPU_MS, $rss0 / 1024,
        $rss1 / 1024, $read, $att, $read / $first_read, $att / $first_att))"
done
echo "  reproduce a size: fill with $BIN/bench_fill --count N (see above), restart" \
    "arcad, then $BIN/loadgen --mode read --clients 16 and $BIN/bench_launch --clients 8"

# 1,000 idle connections: each finishes its TLS handshake and one keep-alive request, then
# stays open. RSS is read once they are all established.
before=$(rss_kib)
python3 - "$CLIENT" 1000 "$TMP/idle.ready" <<'PY' &
import socket, ssl, sys, time
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conns = []
for _ in range(int(sys.argv[2])):
    s = ctx.wrap_socket(socket.create_connection((host, int(port))))
    s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    conns.append(s)
open(sys.argv[3], "w").write("%d\n" % len(conns))
time.sleep(600)
PY
IDLE_PID=$!
i=0
until [ -s "$TMP/idle.ready" ]; do
    i=$((i + 1))
    [ $i -lt 6000 ] || { echo "idle connections: not established" >&2; exit 1; }
    kill -0 "$IDLE_PID" 2>/dev/null || { echo "idle connections: client failed" >&2; exit 1; }
    sleep 0.05
done
sleep 1
after=$(rss_kib)
python3 -c "print('1000 idle connections at $have sessions: RSS %.1f -> %.1f MiB (+%.1f MiB, %.1f KiB each)' % ($before / 1024, $after / 1024, ($after - $before) / 1024, ($after - $before) / 1000))"
