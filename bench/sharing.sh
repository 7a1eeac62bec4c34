#!/bin/sh
# Remote-secret benchmark (issue 12): attestations/s of a service whose secret comes from a
# session on another arcad (over the attested peer channel, docs/internals/peer.md), beside the
# same service with a local secret, in the same run:
#   local   the secret is the session's own;
#   cold    imported from arcad B on every attestation (ARCA_IMPORT_CACHE_TTL=0): each
#           attestation opens a peer channel (hello + export, both attested);
#   cached  imported from B with the documented cache (ARCA_IMPORT_CACHE_TTL=30): B is asked at
#           most once per 30 s.
# Load: bench/bench_launch (new mutual-TLS connection per attestation: challenge + attest,
# simulated evidence, INSECURE simulation TEE).
#
#   bench/sharing.sh [BUILD_DIR] [SECONDS] [CLIENTS]      (default: build, 5, 8)
set -eu
BUILD=${1:-build}
SECS=${2:-5}
CLIENTS=${3:-8}
BIN=$BUILD/bin
for b in arcad arca arca-run bench_launch; do
    [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (cmake --build $BUILD)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/arca-bench-sharing-XXXXXX)
mkdir -m 700 "$TMP/sim"
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    sleep 0.2
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# start NAME TTL: an arcad; sets NAME_CLIENT, NAME_ENCLAVE, NAME_KEY.
start() {
    ARCA_IMPORT_CACHE_TTL=$2 "$BIN/arcad" --data-dir "$TMP/$1" --client-listen 127.0.0.1:0 \
        --enclave-listen 127.0.0.1:0 --sim-dir "$TMP/sim" --allow-simulation --workers 1 \
        --log-level warn --max-connections 4096 --rate-limit 1000000 --rate-burst 1000000 \
        --global-rate-limit 0 >"$TMP/$1.out" 2>"$TMP/$1.err" &
    PIDS="$PIDS $!"
    i=0
    until grep -q "arcad ready" "$TMP/$1.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 400 ] || { cat "$TMP/$1.err"; exit 1; }
        sleep 0.05
    done
    eval "$1_CLIENT=\$(sed -n 's/^client API listening on //p' \"$TMP/$1.out\")"
    eval "$1_ENCLAVE=\$(sed -n 's/^enclave API listening on //p' \"$TMP/$1.out\")"
    eval "$1_KEY=\$(sed -n 's/^CAS key: //p' \"$TMP/$1.out\")"
}
start B 0
start COLD 0
start CACHED 30
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, 3 arcads with 1 worker each," \
    "$CLIENTS clients, $SECS s per figure"

ARCA="$BIN/arca --identity $TMP/id"
$ARCA self keygen >/dev/null
for c in "$B_CLIENT" "$COLD_CLIENT" "$CACHED_CLIENT"; do
    ARCA_SIM_DIR="$TMP/sim" $ARCA cas attest "$c" --accept-simulation >/dev/null
done
printf '#!/bin/sh\nexit 0\n' >"$TMP/prog"
chmod +x "$TMP/prog"
M=$("$BIN/arca-run" --measure "$TMP/prog")

# session NAME SECRET_LINES: a service whose environment holds secret s.
session() {
    cat <<EOF
name: $1
version: "0.3.10"
services:
  - name: app
    command: prog
    environment: {S: "\$\$SCONE::s\$\$"}
    pwd: /
    attestation:
      simulation: {measurement: "$M"}
secrets:
  - name: s
    kind: ascii
$2
security:
  attestation:
    mode: simulation
EOF
}
cat >"$TMP/exp.yaml" <<EOF
name: exp
version: "0.3.10"
secrets:
  - name: s
    kind: ascii
    export:
      - {session: remote, cas_url: "$COLD_ENCLAVE", cas_key: "$COLD_KEY"}
      - {session: remote, cas_url: "$CACHED_ENCLAVE", cas_key: "$CACHED_KEY"}
EOF
$ARCA --cas "$B_CLIENT" session create "$TMP/exp.yaml" >/dev/null
IMPORT="    import: {session: exp, secret: s, cas_url: \"$B_ENCLAVE\", cas_key: \"$B_KEY\"}"
session local "" >"$TMP/local.yaml"
session remote "$IMPORT" >"$TMP/remote.yaml"
$ARCA --cas "$COLD_CLIENT" session create "$TMP/local.yaml" >/dev/null
$ARCA --cas "$COLD_CLIENT" session create "$TMP/remote.yaml" >/dev/null
$ARCA --cas "$CACHED_CLIENT" session create "$TMP/remote.yaml" >/dev/null

echo "## attestations/s: local secret vs secret from a remote arcad (cold, cached)"
run() { # LABEL ENCLAVE KEY CONFIG_ID
    set -- "$1" --addr "$2" --cas-key "$3" --config-id "$4" --measurement "$M" \
        --sim-dir "$TMP/sim" --clients "$CLIENTS" --duration "$SECS"
    label=$1
    shift
    echo "$label $("$BIN/bench_launch" "$@" 2>/dev/null)"
    echo "  cmd: $BIN/bench_launch $*"
}
run local "$COLD_ENCLAVE" "$COLD_KEY" local/app
run remote-cold "$COLD_ENCLAVE" "$COLD_KEY" remote/app
run remote-cached "$CACHED_ENCLAVE" "$CACHED_KEY" remote/app
