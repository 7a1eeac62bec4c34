#!/bin/sh
# arca-run start time with a protected volume (issue 17): `python3 VOL/main.py` where VOL is a
# ~50 MB Python tree encrypted with `arca fspf encrypt`, against the same launch of the same
# interpreter without a volume (an ordinary attested launch with one injected file). The
# difference is the unlock: verify the manifest and the tree, decrypt every file onto a private
# tmpfs, bind-mount it. main.py only exits, so the figure is start-to-exit.
#
#   bench/volume_launch.sh [BUILD_DIR] [RUNS] [MB]      (default: build, 5, 50)
#
# Each figure is the median of RUNS launches in wall-clock seconds; the volume's scratch copy is
# on /dev/shm when writable (else $TMPDIR), so the disk is not what is measured. Starts a
# throw-away arcad (INSECURE simulation TEE) on loopback.
set -eu
BUILD=${1:-build}
RUNS=${2:-5}
MB=${3:-50}
BIN=$BUILD/bin
for b in arcad arca arca-run; do
    [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (cmake --build $BUILD)" >&2; exit 2; }
done
BASE=/dev/shm
[ -d "$BASE" ] && [ -w "$BASE" ] || BASE=${TMPDIR:-/tmp}
TMP=$(mktemp -d "$BASE/arca-bench-vol-XXXXXX")
mkdir -m 700 "$TMP/sim"
ARCAD_PID=
cleanup() {
    [ -n "$ARCAD_PID" ] && kill "$ARCAD_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
"$BIN/arcad" --data-dir "$TMP/data" --client-listen 127.0.0.1:0 --enclave-listen 127.0.0.1:0 \
    --sim-dir "$TMP/sim" --allow-simulation --workers 2 --log-level warn \
    --rate-limit 1000000 --rate-burst 1000000 >"$TMP/arcad.out" 2>"$TMP/arcad.err" &
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

# A Python-like tree: 100 packages of 20 modules, MB MiB in all, plus main.py.
python3 - "$TMP/plain" "$MB" <<'EOF'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
random.seed(1)
n = 2000
size = mb * 1048576 // n
line = "def f_%d(x):\n    return x * %d + len('%s')\n"
for i in range(n):
    d = os.path.join(root, "pkg%03d" % (i // 20))
    os.makedirs(d, exist_ok=True)
    parts, total = [], 0
    while total < size:
        s = line % (total, i, "abcdefghij" * random.randint(1, 4))
        parts.append(s)
        total += len(s)
    with open(os.path.join(d, "mod%02d.py" % (i % 20)), "w") as f:
        f.write("".join(parts)[:size])
with open(os.path.join(root, "main.py"), "w") as f:
    f.write("import sys\nsys.exit(0)\n")
EOF
"$BIN/arca" fspf encrypt "$TMP/plain" "$TMP/vol" --envar-output >"$TMP/fspf.env"
VKEY=$(sed -n 's/^SCONE_FSPF_KEY=//p' "$TMP/fspf.env")
VTAG=$(sed -n 's/^SCONE_FSPF_TAG=//p' "$TMP/fspf.env")
cp "$TMP/plain/main.py" "$TMP/main.py"
PY=$(readlink -f "$(command -v python3)")
M=$("$BIN/arca-run" --measure "$PY")
session() { # NAME SCRIPT VOLUME-LINES
    cat >"$TMP/$1.yaml" <<EOF
name: $1
version: "0.3.10"
services:
  - name: app
    command: python3 $2
    pwd: /
    image_name: img
    attestation:
      simulation: {measurement: "$M"}
images:
  - name: img
    injection_files:
      - path: /etc/arca-bench/app.conf
        content: "x"
$3
security:
  attestation:
    mode: simulation
EOF
    $ARCA session create "$TMP/$1.yaml" >/dev/null
}
session plain "$TMP/main.py" ""
session vol "$TMP/vol/main.py" "    volumes:
      - {name: code, path: $TMP/vol, update_policy: ephemeral}
volumes:
  - {name: code, fspf_key: \"$VKEY\", fspf_tag: \"$VTAG\"}"

median() { # CONFIG_ID: median wall seconds of RUNS launches
    python3 - "$BIN/arca-run" "$PY" "$1" "$RUNS" <<'EOF'
import os, subprocess, sys, time
arca_run, py, cid, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = dict(os.environ, ARCA_CONFIG_ID=cid)
ts = []
for _ in range(runs):
    t0 = time.monotonic()
    p = subprocess.run([arca_run, py], env=env, capture_output=True)
    ts.append(time.monotonic() - t0)
    if p.returncode != 0:
        sys.exit("bench: arca-run failed: " + p.stderr.decode()[-400:])
ts.sort()
print("%.3f" % ts[len(ts) // 2])
EOF
}
export ARCA_CAS_ADDR="$ENCLAVE" ARCA_CAS_KEY="$KEY" ARCA_TEE=sim ARCA_SIM_DIR="$TMP/sim" \
    ARCA_LOG_LEVEL=warn
files=$(find "$TMP/plain" -type f | wc -l)
bytes=$(du -sb "$TMP/plain" | cut -f1)
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
T0=$(median plain/app)
T1=$(median vol/app)
printf '%-58s %8s s\n' "arca-run python3 main.py (no volume), median of $RUNS" "$T0"
printf '%-58s %8s s\n' "arca-run python3 VOL/main.py, $files files, $((bytes / 1000000)) MB" "$T1"
awk -v a="$T0" -v b="$T1" -v m="$bytes" 'BEGIN { d = b - a; printf "%-58s %8.3f s (%.0f MB/s)\n", "unlock cost (difference)", d, (d > 0 ? m / d / 1e6 : 0) }'
echo "reproduce: bench/volume_launch.sh $BUILD $RUNS $MB"
