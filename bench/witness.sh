#!/bin/sh
# Witness benchmark: durable session writes/s (p50/p99) with no witness, a file witness, a
# TPM 2.0 NV counter witness (swtpm on loopback) and two peer arcads (arcad://, majority 2 of
# 2, over the attested peer channel on loopback), in the same run, at 1 and 16 concurrent
# mutual-TLS clients (bench/loadgen.c). Each kind gets a throw-away arcad and data dir.
#
#   bench/witness.sh [BUILD_DIR] [SECONDS]      (default: build, 5)
#
# With a witness every commit waits for its record (one TPM2_NV_Increment over an HMAC session,
# or one atomic file rewrite, or one request to each peer at once, the round done at a
# majority) and every audit line is checkpointed, so a write costs more
# commits than without. swtpm is a software TPM: a hardware TPM is slower and rate-limits
# NV writes (docs/internals/witness.md). Skips the TPM figures if swtpm is missing.
set -eu
BUILD=${1:-build}
SECS=${2:-5}
BIN=$BUILD/bin
for b in arcad arca loadgen; do
    [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (cmake --build $BUILD)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/arca-bench-witness-XXXXXX)
mkdir -m 700 "$TMP/sim"
PID=""
TPM_PID=""
PEER_PIDS=""
cleanup() {
    [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
    for p in $PEER_PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    [ -z "$TPM_PID" ] || { kill "$TPM_PID" 2>/dev/null || true; wait "$TPM_PID" 2>/dev/null || true; }
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# a port P with P + 1 free (tpm2-tss's swtpm TCTI uses P + 1 for the control channel)
port_pair() {
    python3 -c 'import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        s.close(); t.close()'
}

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# a plain arcad that serves as a peer witness on 127.0.0.1:PORT (high rate limits: every
# witnessed commit of the measured arcad is one peer request on its kept channel, plus a hello
# for each new connection)
start_peer() { # NAME PORT
    d="$TMP/$1"
    mkdir -p "$d"
    "$BIN/arcad" --data-dir "$d/data" --client-listen 127.0.0.1:0 --enclave-listen "127.0.0.1:$2" \
        --sim-dir "$TMP/sim" --allow-simulation --rate-limit 1000000 --rate-burst 1000000 \
        --global-rate-limit 0 --log-level warn >"$d/arcad.out" 2>"$d/arcad.err" &
    PEER_PIDS="$PEER_PIDS $!"
    i=0
    until grep -q "arcad ready" "$d/arcad.out" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 400 ] || { cat "$d/arcad.err" >&2; exit 1; }
        sleep 0.05
    done
}

run_kind() { # NAME [arcad witness args...]
    name=$1
    shift
    d="$TMP/$name"
    mkdir -p "$d"
    "$BIN/arcad" --data-dir "$d/data" --client-listen 127.0.0.1:0 --enclave-listen 127.0.0.1:0 \
        --sim-dir "$TMP/sim" --client-rate 0 --max-pending-per-peer 4096 --log-level warn "$@" \
        >"$d/arcad.out" 2>"$d/arcad.err" &
    PID=$!
    i=0
    until grep -q "arcad ready" "$d/arcad.out" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 400 ] || { cat "$d/arcad.err" >&2; exit 1; }
        sleep 0.05
    done
    addr=$(sed -n 's/^client API listening on //p' "$d/arcad.out")
    key=$(sed -n 's/^CAS key: //p' "$d/arcad.out")
    "$BIN/arca" --identity "$d/id" self keygen >/dev/null
    "$BIN/arca" --identity "$d/id" cas attest "$addr" --accept-simulation >/dev/null
    for n in 1 16; do
        printf '%-6s ' "$name"
        "$BIN/loadgen" --cas "$addr" --cas-key "$key" --identity "$d/id" --mode write \
            --clients "$n" --duration "$SECS"
    done
    kill "$PID"
    wait "$PID" || true
    PID=""
}

echo "# arcad durable writes/s by witness kind, $(nproc) cores, ${SECS}s per figure;" \
     "reproduce: bench/witness.sh $BUILD $SECS"
run_kind none
run_kind file --witness "file:$TMP/file.witness"
if command -v swtpm >/dev/null 2>&1; then
    P=$(port_pair)
    mkdir -p "$TMP/tpm"
    swtpm socket --tpm2 --tpmstate dir="$TMP/tpm" \
        --server type=tcp,port="$P",bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$((P + 1)),bindaddr=127.0.0.1 \
        --flags not-need-init,startup-clear >/dev/null 2>&1 &
    TPM_PID=$!
    sleep 0.5
    run_kind tpm --witness "tpm:swtpm:host=127.0.0.1,port=$P"
else
    echo "tpm    skipped: swtpm is not installed"
fi
P1=$(free_port)
P2=$(free_port)
start_peer peer1 "$P1"
start_peer peer2 "$P2"
run_kind arcad --allow-simulation --witness "arcad://127.0.0.1:$P1" --witness "arcad://127.0.0.1:$P2"
