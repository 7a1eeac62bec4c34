#!/bin/sh
# Attested-launch benchmark (issue 5):
#   1. attestations/s against arcad's enclave API with N concurrent clients, each attestation a
#      new mutual-TLS connection doing POST /v1/challenge + POST /v1/attest (simulated
#      evidence, INSECURE simulation TEE), p50/p99 latency (bench/bench_launch.c);
#   2. arca-run start-to-exec overhead over a bare exec of the same program (with one injected
#      file, so the private mount namespace and tmpfs are part of it);
#   3. if nginx is installed (bench/bench-deps), nginx with mutual TLS serving a small static
#      file under the same load generator (new connection + GET), and the ratio arca/nginx.
#
#   bench/launch.sh [BUILD_DIR] [SECONDS] [RUNS]      (default: build, 5, 200)
#
# Starts throw-away servers on loopback. On >= 2 cores the servers are pinned to the first half
# of the cores and the load generator to the rest (taskset). Each figure line is followed by the
# command that reproduces it.
set -eu
BUILD=${1:-build}
SECS=${2:-5}
RUNS=${3:-200}
BIN=$BUILD/bin
for b in arcad arca arca-run bench_launch; do
    [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (cmake --build $BUILD)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/arca-bench-launch-XXXXXX)
mkdir -m 700 "$TMP/sim"
ARCAD_PID=
NGINX_PID=
cleanup() {
    [ -n "$ARCAD_PID" ] && kill "$ARCAD_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
    sleep 0.2
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

CORES=$(nproc)
SRV_PIN=""
GEN_PIN=""
if command -v taskset >/dev/null 2>&1 && [ "$CORES" -ge 2 ]; then
    HALF=$((CORES / 2))
    SRV_PIN="taskset -c 0-$((HALF - 1))"
    GEN_PIN="taskset -c $HALF-$((CORES - 1))"
fi
WORKERS=${ARCAD_WORKERS:-$((CORES / 2 > 0 ? CORES / 2 : 1))}
echo "# $(date -u +%FT%TZ) $(uname -srm), $CORES cores, arcad workers $WORKERS," \
    "server pin '${SRV_PIN:-none}', generator pin '${GEN_PIN:-none}'"

# All load comes from one address: lift the per-peer rate limit of /v1/challenge and /v1/attest.
$SRV_PIN "$BIN/arcad" --data-dir "$TMP/data" --client-listen 127.0.0.1:0 \
    --enclave-listen 127.0.0.1:0 --sim-dir "$TMP/sim" --allow-simulation --workers "$WORKERS" \
    --log-level warn --max-connections 4096 --rate-limit 1000000 --rate-burst 1000000 \
    --global-rate-limit 0 >"$TMP/arcad.out" 2>"$TMP/arcad.err" &
ARCAD_PID=$!
i=0
until grep -q "arcad ready" "$TMP/arcad.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 400 ] || { cat "$TMP/arcad.err"; exit 1; }
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

echo "## attestations/s (new mTLS connection per attestation: challenge + attest)"
for c in 1 8 32; do
    set -- --addr "$ENCLAVE" --cas-key "$KEY" --config-id bench/app --measurement "$M" \
        --sim-dir "$TMP/sim" --clients "$c" --duration "$SECS"
    line=$($GEN_PIN "$BIN/bench_launch" "$@")
    echo "arca $line"
    echo "  cmd: $BIN/bench_launch $*"
    [ "$c" = 32 ] && ARCA32=$(echo "$line" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
done

echo "## arca-run start-to-exec overhead ($RUNS runs each, one injected file)"
ms_per_run() { # command...: mean wall ms over RUNS runs
    t0=$(date +%s%N)
    n=0
    while [ $n -lt "$RUNS" ]; do
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        n=$((n + 1))
    done
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / RUNS / 1000))" # microseconds
}
bare=$(ms_per_run "$TMP/prog")
export ARCA_CAS_ADDR="$ENCLAVE" ARCA_CAS_KEY="$KEY" ARCA_CONFIG_ID=bench/app ARCA_TEE=sim \
    ARCA_SIM_DIR="$TMP/sim" ARCA_LOG_LEVEL=error
launched=$(ms_per_run "$BIN/arca-run" "$TMP/prog")
echo "bare exec: ${bare} us/run; arca-run: ${launched} us/run; overhead $((launched - bare)) us"
echo "  cmd: ARCA_CAS_ADDR=$ENCLAVE ARCA_CAS_KEY=$KEY ARCA_CONFIG_ID=bench/app ARCA_TEE=sim" \
    "ARCA_SIM_DIR=... $BIN/arca-run $TMP/prog   (vs $TMP/prog)"

echo "## nginx (mutual TLS, small static file, same load generator)"
if ! command -v nginx >/dev/null 2>&1; then
    echo "nginx not installed: skipped (apt-get install nginx; see bench/bench-deps)"
    exit 0
fi
mkdir -p "$TMP/nginx/www" "$TMP/nginx/logs"
echo "hello" >"$TMP/nginx/www/hello.txt"
chmod 711 "$TMP"                                  # nginx workers run as www-data
chmod 755 "$TMP/nginx" "$TMP/nginx/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=nginx \
    -keyout "$TMP/nginx/key.pem" -out "$TMP/nginx/cert.pem" 2>/dev/null
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/logs;
    proxy_temp_path $TMP/nginx/logs;
    fastcgi_temp_path $TMP/nginx/logs;
    uwsgi_temp_path $TMP/nginx/logs;
    scgi_temp_path $TMP/nginx/logs;
    server {
        listen 127.0.0.1:$PORT ssl;
        ssl_certificate $TMP/nginx/cert.pem;
        ssl_certificate_key $TMP/nginx/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_verify_client optional_no_ca;
        location / { root $TMP/nginx/www; }
    }
}
EOF
$SRV_PIN nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
NGINX_PID=$!
sleep 0.5
set -- --addr "127.0.0.1:$PORT" --get /hello.txt --clients 32 --duration "$SECS"
line=$($GEN_PIN "$BIN/bench_launch" "$@")
echo "nginx $line"
echo "  cmd: $BIN/bench_launch $*"
NGX=$(echo "$line" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
python3 -c "print('ratio arca/nginx at 32 clients: %.3f (attestations/s over new-connection GETs/s)' % ($ARCA32 / $NGX))"
