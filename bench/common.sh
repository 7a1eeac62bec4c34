# Helpers of the benchmark scripts (sourced by bench/*.sh, not run on its own).
#
#   bench_pin: on >= 2 cores with taskset, servers on the first half of the cores and the load
#   generator on the rest: sets CORES, SRV_PIN, GEN_PIN (command prefixes, empty when not
#   pinned) and WORKERS (arcad/nginx workers: ARCAD_WORKERS or half the cores).
bench_pin() {
    CORES=$(nproc)
    SRV_PIN=""
    GEN_PIN=""
    if command -v taskset >/dev/null 2>&1 && [ "$CORES" -ge 2 ]; then
        HALF=$((CORES / 2))
        SRV_PIN="taskset -c 0-$((HALF - 1))"
        GEN_PIN="taskset -c $HALF-$((CORES - 1))"
    fi
    WORKERS=${ARCAD_WORKERS:-$((CORES / 2 > 0 ? CORES / 2 : 1))}
}

# Exits 2 unless every named program is built in $BIN.
bench_need() {
    for b in "$@"; do
        [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (cmake --build $BUILD)" >&2; exit 2; }
    done
}

# The rate=N/s figure of a loadgen / bench_launch line on stdin.
bench_rate() { sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }

# Starts a throw-away arcad on loopback in $TMP (which must exist) with $WORKERS workers,
# pinned by $SRV_PIN (bench_pin) and with the per-identity quotas lifted (all load comes from
# one address), waits until it is ready and makes the client identity $TMP/id attested to it.
# Sets PID, ADDR, KEY (hex CAS key for --cas-key) and ID. The caller stops it (kill "$PID").
# Arguments are further arcad flags.
bench_arcad() {
    mkdir -m 700 "$TMP/sim"
    ${SRV_PIN:-} "$BIN/arcad" --data-dir "$TMP/data" --client-listen 127.0.0.1:0 \
        --enclave-listen 127.0.0.1:0 --sim-dir "$TMP/sim" --workers "$WORKERS" --client-rate 0 \
        --max-pending-per-peer 4096 --log-level warn "$@" >"$TMP/arcad.out" 2>"$TMP/arcad.err" &
    PID=$!
    _n=0
    until grep -q "arcad ready" "$TMP/arcad.out" 2>/dev/null; do
        _n=$((_n + 1)); [ $_n -lt 200 ] || { cat "$TMP/arcad.err" >&2; return 1; }
        sleep 0.05
    done
    ADDR=$(sed -n 's/^client API listening on //p' "$TMP/arcad.out")
    KEY=$(sed -n 's/^CAS key: //p' "$TMP/arcad.out")
    ID="$TMP/id"
    "$BIN/arca" --identity "$ID" self keygen >/dev/null
    "$BIN/arca" --identity "$ID" cas attest "$ADDR" --accept-simulation >/dev/null
}

# bench_ready OUT ERR: waits until the arcad $PID has printed "arcad ready" to OUT (its stdout;
# exits 1 with ERR, its stderr, if it died first), then sets STARTUP_CPU_MS: its CPU time (utime
# + stime of all its threads) so far, what the load of a shared machine does not change.
bench_ready() {
    until grep -q "arcad ready" "$1" 2>/dev/null; do
        kill -0 "$PID" 2>/dev/null || { cat "$2" >&2; exit 1; }
        sleep 0.01
    done
    STARTUP_CPU_MS=$(awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' \
        "/proc/$PID/stat")
}

# nginx baseline:
#
#   nginx_start DIR WORKERS [PIN...]
#
# Writes a throw-away nginx configuration under DIR (which must exist) and starts nginx as the
# invoking user on 127.0.0.1 with mutual TLS that is really checked (`ssl_verify_client on`
# against a CA made here), serving DIR/www/hello.txt (6 bytes). Its TLS setup matches arcad's:
# P-256 server key, TLS 1.2/1.3. Sets NGINX_PID, NGINX_ADDR (127.0.0.1:PORT), NGINX_KEY (hex
# SHA-256 of the server's SubjectPublicKeyInfo, the form --cas-key takes) and NGINX_CERT /
# NGINX_CLIENT_KEY (client certificate and key for the load generators' --cert/--key).
# Returns 1 (with a note on stdout) when nginx is not installed; see bench/bench-deps.
# nginx_stop stops it again (call it from the caller's cleanup).
nginx_start() {
    NG=$1
    NG_WORKERS=$2
    shift 2
    if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
        echo "nginx not installed: skipped (apt-get install nginx-light; see bench/bench-deps)"
        return 1
    fi
    NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$NG/www" "$NG/logs"
    echo "hello" >"$NG/www/hello.txt"
    ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
    # shellcheck disable=SC2086
    openssl req -x509 $ec -subj /CN=bench-ca -keyout "$NG/ca.key" -out "$NG/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    # shellcheck disable=SC2086
    openssl req -x509 $ec -subj /CN=127.0.0.1 -keyout "$NG/key.pem" -out "$NG/cert.pem" 2>/dev/null
    # shellcheck disable=SC2086
    openssl req $ec -subj /CN=bench-client -keyout "$NG/client.key" -out "$NG/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$NG/client.ext"
    openssl x509 -req -in "$NG/client.csr" -CA "$NG/ca.pem" -CAkey "$NG/ca.key" -CAcreateserial \
        -days 2 -extfile "$NG/client.ext" -out "$NG/client.pem" 2>/dev/null
    NGINX_KEY=$(openssl x509 -in "$NG/cert.pem" -noout -pubkey |
        openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
    NGINX_CERT=$NG/client.pem
    NGINX_CLIENT_KEY=$NG/client.key
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    NGINX_ADDR=127.0.0.1:$port
    # nginx's master switches its workers to "nobody" when started as root; name the invoking
    # user instead so that no file needs to be opened to others (the directive is ignored, with
    # a warning, when not root).
    user_line=""
    [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
    cat >"$NG/nginx.conf" <<EOF
$user_line
worker_processes $NG_WORKERS;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $NG/logs;
    proxy_temp_path $NG/logs;
    fastcgi_temp_path $NG/logs;
    uwsgi_temp_path $NG/logs;
    scgi_temp_path $NG/logs;
    server {
        listen $NGINX_ADDR ssl;
        ssl_certificate $NG/cert.pem;
        ssl_certificate_key $NG/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate $NG/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 1;
        location / { root $NG/www; }
    }
}
EOF
    "$@" "$NGINX_BIN" -c "$NG/nginx.conf" -p "$NG" 2>"$NG/logs/stderr" &
    NGINX_PID=$!
    i=0
    until curl -sk --cert "$NGINX_CERT" --key "$NGINX_CLIENT_KEY" \
        "https://$NGINX_ADDR/hello.txt" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$NG/logs/stderr" "$NG/logs/error.log" >&2; return 1; }
        sleep 0.05
    done
    return 0
}

nginx_stop() {
    [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null || true
    [ -n "${NGINX_PID:-}" ] && wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
}

# The session of the attestation benches (bench/launch.sh, bench/attest_cpu.sh):
#
#   bench_attest_session BIN TMP
#
# once arcad (started with --sim-dir TMP/sim --allow-simulation) has written TMP/arcad.out:
# sets CLIENT, ENCLAVE and KEY (its addresses and key), ARCA (the CLI with the owner identity
# TMP/id, attested to arcad) and M (the measurement of TMP/prog, a program that exits 0), and
# creates the session "bench" whose service "app" runs TMP/prog with one secret in its
# arguments, environment and an injected file (simulation mode).
bench_attest_session() {
    CLIENT=$(sed -n 's/^client API listening on //p' "$2/arcad.out")
    ENCLAVE=$(sed -n 's/^enclave API listening on //p' "$2/arcad.out")
    KEY=$(sed -n 's/^CAS key: //p' "$2/arcad.out")
    ARCA="$1/arca --identity $2/id"
    if [ ! -e "$2/id" ]; then # (bench_arcad made and attested it already)
        $ARCA self keygen >/dev/null
        ARCA_SIM_DIR="$2/sim" $ARCA cas attest "$CLIENT" --accept-simulation >/dev/null
    fi
    printf '#!/bin/sh\nexit 0\n' >"$2/prog"
    chmod +x "$2/prog"
    M=$("$1/arca-run" --measure "$2/prog")
    cat >"$2/bench.yaml" <<EOF
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
    $ARCA session create "$2/bench.yaml" >/dev/null
}
