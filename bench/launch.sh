#!/bin/sh
# Attested-launch benchmark (issue 5):
#   1. attestations/s against arcad's enclave API with N concurrent clients, each attestation a
#      new mutual-TLS connection doing POST /v1/challenge + POST /v1/attest (simulated
#      evidence, INSECURE simulation TEE), p50/p99 latency (bench/bench_launch.c);
#   2. arca-run start-to-exec overhead over a bare exec of the same program (with one injected
#      file, so the private mount namespace and tmpfs are part of it);
#   3. if nginx is installed (bench/bench-deps), nginx with mutual TLS serving a small static
#      file under the same load generator (new connection + GET), and the ratio arca/nginx
#      (bench/common.sh: nginx as the invoking user, ssl_verify_client on).
#
#   bench/launch.sh [BUILD_DIR] [SECONDS] [RUNS]      (default: build, 5, 200)
#
# ARCA_RUN_BASE=/other/build/bin/arca-run also times that arca-run in the same loop, alternating
# with BUILD_DIR's, against the same arcad (a before/after comparison under the same load).
#
# Starts throw-away servers on loopback. On >= 2 cores the servers are pinned to the first half
# of the cores and the load generator to the rest (taskset). Each figure line is followed by the
# command that reproduces it.
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
SECS=${2:-5}
RUNS=${3:-200}
BIN=$BUILD/bin
bench_need arcad arca arca-run bench_launch
TMP=$(mktemp -d /tmp/arca-bench-launch-XXXXXX)
mkdir -m 700 "$TMP/sim"
ARCAD_PID=
NGINX_PID=
cleanup() {
    [ -n "$ARCAD_PID" ] && kill "$ARCAD_PID" 2>/dev/null || true
    nginx_stop
    sleep 0.2
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

bench_pin
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
bench_attest_session "$BIN" "$TMP"

echo "## attestations/s (new mTLS connection per attestation: challenge + attest)"
for c in 1 8 32; do
    set -- --addr "$ENCLAVE" --cas-key "$KEY" --config-id bench/app --measurement "$M" \
        --sim-dir "$TMP/sim" --clients "$c" --duration "$SECS"
    line=$($GEN_PIN "$BIN/bench_launch" "$@" 2>"$TMP/gen.err")
    echo "arca $line"
    echo "  cmd: $BIN/bench_launch $*"
    [ "$c" = 32 ] && ARCA32=$(echo "$line" | bench_rate)
done

echo "## arca-run start-to-exec overhead ($RUNS runs each, one injected file)"
# Times RUNS runs of each command alternately (so that noise from the other engineers' load
# hits both alike) and prints p50/p99 of each and the overhead (difference of the percentiles).
export ARCA_CAS_ADDR="$ENCLAVE" ARCA_CAS_KEY="$KEY" ARCA_CONFIG_ID=bench/app ARCA_TEE=sim \
    ARCA_SIM_DIR="$TMP/sim" ARCA_LOG_LEVEL=error
python3 - "$RUNS" "$TMP/prog" "$BIN/arca-run" ${ARCA_RUN_BASE:+"$ARCA_RUN_BASE"} <<'PY'
import os, re, subprocess, sys, time
runs, prog, runners = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def once(argv):
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    p.stderr.close()
    _, status, ru = os.wait4(p.pid, 0)
    ms = (time.perf_counter() - t) * 1000
    if status:
        sys.exit("failed: %s: %s" % (" ".join(argv), err))
    return ms, (ru.ru_utime + ru.ru_stime) * 1000, err
bare, wall, cpu, phases = [], {r: [] for r in runners}, {r: [] for r in runners}, {r: {} for r in runners}
for _ in range(runs):
    bare.append(once([prog])[0])
    for r in runners:
        ms, c, err = once([r, "--timing", prog])
        wall[r].append(ms)
        cpu[r].append(c)
        for name, v in re.findall(r" ([a-z-]+)=([0-9.]+)ms", err):
            phases[r].setdefault(name, []).append(float(v))
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, len(v) * p // 100)]
for i, r in enumerate(runners):
    if i:
        print("compared (ARCA_RUN_BASE=%s, alternating with the above):" % r)
    print("bare exec p50=%.2fms p99=%.2fms; arca-run p50=%.2fms p99=%.2fms; overhead p50=%.2fms p99=%.2fms"
          % (pct(bare, 50), pct(bare, 99), pct(wall[r], 50), pct(wall[r], 99),
             pct(wall[r], 50) - pct(bare, 50), pct(wall[r], 99) - pct(bare, 99)))
    print("arca-run CPU (user+system) p50=%.2fms mean=%.2fms" % (pct(cpu[r], 50), sum(cpu[r]) / runs))
    print("arca-run --timing, p50 of each phase over the runs (main() to exec; process start-up and")
    print("dynamic loading before main() are in the wall-clock figure only):")
    print("  " + " ".join("%s=%.2f" % (k, pct(v, 50)) for k, v in phases[r].items()))
PY
echo "  cmd: ARCA_CAS_ADDR=$ENCLAVE ARCA_CAS_KEY=$KEY ARCA_CONFIG_ID=bench/app ARCA_TEE=sim" \
    "ARCA_SIM_DIR=... $BIN/arca-run --timing $TMP/prog   (vs $TMP/prog)"

echo "## loading floor ($RUNS runs each, alternately): what a process costs before main()"
# A trivial main() linked against libcurl and the other libraries arca-run used to link (Debian's
# libcurl brings ~30 libraries), the same without libcurl, and arca-run --version (which loads
# no libcurl since it dlopen()s it in the background: src/arca-run/curl_load.h).
if command -v cc >/dev/null 2>&1; then
    printf 'int main(void) { return 0; }\n' >"$TMP/floor.c"
    cc -O2 "$TMP/floor.c" -o "$TMP/floor-curl" -Wl,--no-as-needed -lcurl -lyaml -ljansson -lssl \
        -lcrypto
    cc -O2 "$TMP/floor.c" -o "$TMP/floor-plain" -Wl,--no-as-needed -lyaml -ljansson -lssl -lcrypto
    python3 - "$RUNS" /bin/true "$TMP/floor-plain" "$TMP/floor-curl" "$BIN/arca-run --version" <<'PY'
import subprocess, sys, time
runs, cmds = int(sys.argv[1]), sys.argv[2:]
t = {c: [] for c in cmds}
for _ in range(runs):
    for c in cmds:
        s = time.perf_counter()
        subprocess.run(c.split(), stdout=subprocess.DEVNULL, check=True)
        t[c].append((time.perf_counter() - s) * 1000)
names = ["/bin/true", "trivial + yaml, jansson, ssl, crypto", "trivial + those + libcurl",
         "arca-run --version"]
for n, c in zip(names, cmds):
    v = sorted(t[c])
    print("  %-38s p50=%.2fms p99=%.2fms" % (n, v[len(v) // 2], v[min(len(v) - 1, len(v) * 99 // 100)]))
PY
else
    echo "  (no cc: skipped)"
fi

echo "## nginx (mutual TLS checked: ssl_verify_client on; small static file; same load generator)"
mkdir -m 700 "$TMP/nginx"
nginx_start "$TMP/nginx" "$WORKERS" $SRV_PIN || exit 0
set -- --addr "$NGINX_ADDR" --cas-key "$NGINX_KEY" --cert "$NGINX_CERT" --key "$NGINX_CLIENT_KEY" \
    --get /hello.txt --clients 32 --duration "$SECS"
line=$($GEN_PIN "$BIN/bench_launch" "$@")
echo "nginx $line"
echo "  cmd: $BIN/bench_launch $*"
NGX=$(echo "$line" | bench_rate)
python3 -c "print('ratio arca/nginx at 32 clients: %.3f (attestations/s over new-connection GETs/s)' % ($ARCA32 / $NGX))"
