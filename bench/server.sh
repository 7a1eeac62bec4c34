#!/bin/sh
# arcad benchmark: session reads/s and durable writes/s with p50/p99 latency at 1, 16 and 64
# concurrent mutual-TLS clients (bench/loadgen.c). Starts a throw-away arcad on loopback.
#
#   bench/server.sh [BUILD_DIR] [SECONDS]      (default: build, 5)
#
# On a small machine the load generator competes with arcad for CPU; if taskset exists and
# there are >= 2 cores, arcad is pinned to the first half of the cores and loadgen to the rest
# (printed with the figures). Every figure line is followed by the command that reproduces it
# against a running arcad.
#
# Baseline from the same run with the same generator (if nginx is installed, bench/common.sh):
# nginx with mutual TLS (ssl_verify_client on) serving a 6-byte file, keep-alive GETs and a new
# mutual-TLS connection per GET; printed as ratios arca/nginx at the same client count.
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
SECS=${2:-5}
BIN=$BUILD/bin
bench_need arcad arca loadgen
TMP=$(mktemp -d /tmp/arca-bench-XXXXXX)
PID=
cleanup() {
    [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
    [ -z "$PID" ] || wait "$PID" 2>/dev/null || true
    nginx_stop
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
bench_pin
# All load comes from one address: the per-identity request quota and the per-peer cap on
# connections still in their handshake are lifted (bench_arcad) so that they do not shape the
# figures.
bench_arcad
printf 'name: bench-read\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: binary\n' >"$TMP/s.yaml"
"$BIN/arca" --identity "$ID" session create "$TMP/s.yaml" >/dev/null

echo "# arcad $( "$BIN/arcad" --version 2>/dev/null || true) on $(uname -sr), $CORES cores," \
     "$WORKERS arcad workers${SRV_PIN:+, arcad pinned: $SRV_PIN, loadgen: $GEN_PIN}; ${SECS}s per figure"
for mode in read write; do
    for n in 1 16 64; do
        CMD="$BIN/loadgen --cas $ADDR --cas-key $KEY --identity $ID --mode $mode --clients $n --duration $SECS"
        line=$($GEN_PIN $CMD)
        echo "$line"
        echo "  reproduce: ${GEN_PIN:+$GEN_PIN }$CMD"
        [ "$mode" = read ] && eval "READ_$n=$(echo "$line" | bench_rate)"
    done
done
mkdir -m 700 "$TMP/nginx"
nginx_start "$TMP/nginx" "$WORKERS" $SRV_PIN || exit 0
echo "# baseline: nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*\///'), $WORKERS workers, same pinning and generator"
for n in 1 16 64; do
    CMD="$BIN/loadgen --cas $NGINX_ADDR --cas-key $NGINX_KEY --cert $NGINX_CERT --key $NGINX_CLIENT_KEY --mode get --path /hello.txt --clients $n --duration $SECS"
    line=$($GEN_PIN $CMD)
    echo "nginx $line"
    echo "  reproduce: ${GEN_PIN:+$GEN_PIN }$CMD"
    eval "arca=\$READ_$n"
    python3 -c "print('  ratio arca reads / nginx keep-alive GETs at $n clients: %.2f' % ($arca / $(echo "$line" | bench_rate)))"
done
CMD="$BIN/loadgen --cas $NGINX_ADDR --cas-key $NGINX_KEY --cert $NGINX_CERT --key $NGINX_CLIENT_KEY --mode get --path /hello.txt --new-conn --clients 16 --duration $SECS"
echo "nginx $($GEN_PIN $CMD)"
echo "  reproduce: ${GEN_PIN:+$GEN_PIN }$CMD"
