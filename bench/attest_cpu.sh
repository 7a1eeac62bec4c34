#!/bin/sh
# arcad CPU time per attestation (new mutual-TLS connection, POST /v1/challenge, POST
# /v1/attest with simulated evidence, the durable audit line): a figure that, unlike
# attestations/s, hardly depends on what else the machine runs (utime + stime of arcad from
# /proc around one bench_launch run, divided by the attestations done).
#
#   bench/attest_cpu.sh [BUILD_DIR] [SECONDS] [CLIENTS...]      (default: build, 4, 8)
#
# Starts a throw-away arcad with one worker on loopback with the session of bench/launch.sh
# and runs bench_launch once per client count. ARCA_PERF=FILE also records arcad's profile
# (`perf record --call-graph dwarf`, 499 Hz) during the last run into FILE (see docs/performance.md for the
# break-down by part).
set -eu
BUILD=${1:-build}
SECS=${2:-4}
[ $# -ge 2 ] && shift 2 || shift $#
CLIENTS=${*:-8}
BIN=$BUILD/bin
TMP=$(mktemp -d /tmp/arca-bench-acpu-XXXXXX)
mkdir -m 700 "$TMP/sim"
"$BIN/arcad" --data-dir "$TMP/data" --client-listen 127.0.0.1:0 --enclave-listen 127.0.0.1:0 \
    --sim-dir "$TMP/sim" --allow-simulation --workers 1 --log-level warn \
    --max-connections 4096 --rate-limit 1000000 --rate-burst 1000000 --global-rate-limit 0 \
    >"$TMP/arcad.out" 2>"$TMP/arcad.err" &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
i=0
until grep -q "arcad ready" "$TMP/arcad.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 400 ] || { cat "$TMP/arcad.err" >&2; exit 1; }
    sleep 0.05
done
CLIENT=$(sed -n 's/^client API listening on //p' "$TMP/arcad.out")
ENCLAVE=$(sed -n 's/^enclave API listening on //p' "$TMP/arcad.out")
KEY=$(sed -n 's/^CAS key: //p' "$TMP/arcad.out")
ARCA="$BIN/arca --identity $TMP/id"
$ARCA self keygen >/dev/null
ARCA_SIM_DIR="$TMP/sim" $ARCA cas attest "$CLIENT" --accept-simulation >/dev/null
printf '#!/bin/sh\nexit 0\n' >"$TMP/prog"
chmod +x "$TMP/prog"
M=$("$BIN/arca-run" --measure "$TMP/prog")
cat >"$TMP/bench.yaml" <<EOF
name: bench
version: "0.3.10"
services:
  - name: app
    command: prog --secret \$\$SCONE::s\$\$
    environment: {S: "\$\$SCONE::s\$\$"}
    pwd: /
    image_name: img
    attestation:
      simulation: {measurement: "$M"}
images:
  - name: img
    injection_files:
      - path: /etc/arca-bench/app.conf
        content: "secret=\$\$SCONE::s\$\$"
secrets:
  - name: s
    kind: ascii
security:
  attestation:
    mode: simulation
EOF
$ARCA session create "$TMP/bench.yaml" >/dev/null
HZ=$(getconf CLK_TCK)
last=$(echo "$CLIENTS" | awk '{print $NF}')
for n in $CLIENTS; do
    PERF_PID=
    if [ -n "${ARCA_PERF:-}" ] && [ "$n" = "$last" ]; then
        perf record -q --call-graph dwarf,16384 -F 499 -o "$ARCA_PERF" -p "$PID" >/dev/null 2>&1 &
        PERF_PID=$!
        sleep 0.5
    fi
    t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    line=$("$BIN/bench_launch" --addr "$ENCLAVE" --cas-key "$KEY" --config-id bench/app \
        --measurement "$M" --sim-dir "$TMP/sim" --clients "$n" --duration "$SECS")
    t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID"
        wait "$PERF_PID" || true
    fi
    ops=$(echo "$line" | sed 's/.*ops=\([0-9]*\).*/\1/')
    errs=$(echo "$line" | sed 's/.*errors=\([0-9]*\).*/\1/')
    python3 -c "print('attest clients=$n attestations=$ops errors=$errs arcad_cpu_s=%.2f cpu_us_per_attest=%.0f' % (($t1 - $t0) / $HZ, ($t1 - $t0) / $HZ * 1e6 / max($ops, 1)))"
done
