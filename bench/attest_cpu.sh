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
# during the last run into FILE (`perf record --call-graph dwarf`, 499 Hz) and prints it by
# part: each sample is charged to the first part in the list below whose marker is on its
# stack (docs/performance.md, "Where an attestation's CPU goes").
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
SECS=${2:-4}
[ $# -ge 2 ] && shift 2 || shift $#
CLIENTS=${*:-8}
BIN=$BUILD/bin
TMP=$(mktemp -d /tmp/arca-bench-acpu-XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
WORKERS=1 SRV_PIN= bench_arcad --allow-simulation --max-connections 4096 --rate-limit 1000000 \
    --rate-burst 1000000 --global-rate-limit 0
bench_attest_session "$BIN" "$TMP"
HZ=$(getconf CLK_TCK)
# Parts of an attestation and the frames that mark them (libssl has no symbols: what is left
# of the handshake shows as libssl.so).
PARTS='
import sys
parts = [
    ("audit line: signature", ["sign_line"]),
    ("audit line: fsync (group commit)", ["sync_fd", "sync_written"]),
    ("audit line: rest (encoding, write, waiting for the group)", ["arca_attest_audit", "arca_audit_append"]),
    ("handshake: client certificate parse (d2i_X509, OpenSSL key decoder)", ["ASN1_item_d2i_ex", "d2i_X509"]),
    ("handshake: client certificate chain check (X509_verify_cert)", ["X509_verify_cert"]),
    ("handshake: ECDHE key generation", ["EVP_PKEY_keygen", "EVP_PKEY_generate"]),
    ("handshake: ECDHE derive", ["EVP_PKEY_derive"]),
    ("handshake: server signature", ["EVP_DigestSign"]),
    ("handshake: client CertificateVerify check", ["EVP_DigestVerify"]),
    ("handshake: SSL object new/free", ["SSL_new", "SSL_free"]),
    ("evidence verification", ["arca_attest_evidence_verify"]),
    ("attest: body, nonce, binding, policy, secrets, config", ["arca_attest_exchange", "h_attest"]),
    ("challenge", ["h_challenge"]),
    ("job-pool hand-off (both sides)", ["pool_main", "offload_start", "job_done", "offload_done"]),
    ("TLS record write (SSL_write)", ["SSL_write"]),
    ("TLS record read (SSL_read)", ["SSL_read"]),
    ("HTTP (evhttp, routing, rate limit, request set-up)", ["evhttp_", "on_request", "arcad_dispatch", "evbuffer_"]),
    ("handshake: rest of libssl (key schedule, transcript, records)", ["libssl.so"]),
    ("connection accept, admission, close", ["accept", "tls_bevcb", "conns_", "bufferevent_free", "close"]),
    ("event loop (epoll, libevent)", ["event_base_loop", "epoll"]),
]
count = dict.fromkeys([p[0] for p in parts] + ["other"], 0)
total = 0
for s in sys.stdin.read().split("\n\n"):
    lines = s.strip().split("\n")
    if len(lines) < 2:
        continue
    total += 1
    stack = "\n".join(lines[1:])
    name = next((p[0] for p in parts if any(m in stack for m in p[1])), "other")
    count[name] += 1
print("profile by part (%d samples):" % total)
for name, n in count.items():
    print("  %-70s %5.1f %%" % (name, 100.0 * n / max(total, 1)))
'
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
    [ -n "$PERF_PID" ] && perf script -i "$ARCA_PERF" 2>/dev/null | python3 -c "$PARTS"
    python3 -c "print('attest clients=$n attestations=$ops errors=$errs arcad_cpu_s=%.2f cpu_us_per_attest=%.0f' % (($t1 - $t0) / $HZ, ($t1 - $t0) / $HZ * 1e6 / max($ops, 1)))"
done
