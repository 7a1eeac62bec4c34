#!/usr/bin/env bash
# volume.sh: throughput of protected volumes (`arca fspf encrypt` / `arca fspf decrypt`) for
# 10,000 small files and for one large file, beside `openssl speed -evp aes-256-gcm` (one
# thread, at the volume's 65536-byte chunk size) measured in the same run, as a ratio.
#
# usage: bench/volume.sh [--bin DIR] [--base DIR] [--dir DIR] [--large-mib N | --1g] [--small N]
#                        [--small-bytes N] [--jobs N]
#   --bin DIR        where `arca` is (default: $ARCA_BIN_DIR, else build/bin)
#   --base DIR       also time the `arca` in DIR (e.g. a build of an older commit) on the same
#                    trees right after each case, so both are measured under the same load
#   --dir DIR        scratch directory (default: a fresh one under /dev/shm, so the figures are
#                    the volume format and its crypto rather than the disk; pass a disk path to
#                    include the disk: encrypt ends with syncfs)
#   --large-mib N    size of the large file in MiB (default 256); --1g is --large-mib 1024
#   --small N        number of small files (default 10000), --small-bytes N each (default 4096)
#   --jobs N         pass --jobs N to the measured arca (default: its own, one per online CPU)
# MB/s below are 10^6 bytes of plaintext per second (openssl reports 1000s of bytes), each the
# best of 3 runs, per second of wall time and per second of CPU time (user + system) of the arca
# process (all its threads): on a shared machine the wall figure includes waiting for a core,
# the CPU figure not. The goal (wall/openssl >= 0.5 for the large file) compares the real
# command's elapsed time with what one openssl thread encrypts in that time; CPU/openssl is the
# cost per byte, which threads do not lower.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ARCA_BIN_DIR:-build/bin}
base_bin=""
dir=""
large_mib=256
small=10000
small_bytes=4096
jobs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --base) base_bin=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --large-mib) large_mib=$2; shift 2 ;;
    --1g) large_mib=1024; shift ;;
    --small) small=$2; shift 2 ;;
    --small-bytes) small_bytes=$2; shift 2 ;;
    --jobs) jobs=(--jobs "$2"); shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "volume.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
arca=$bin/arca
[ -x "$arca" ] || { echo "volume.sh: no $arca (build first, or pass --bin)" >&2; exit 2; }
[ -z "$base_bin" ] || [ -x "$base_bin/arca" ] || { echo "volume.sh: no $base_bin/arca" >&2; exit 2; }
if [ -z "$dir" ]; then
  base=/dev/shm; [ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
  dir=$(mktemp -d "$base/arca-volume-bench.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
else
  mkdir -p "$dir"
fi

# best_of3 CLEAN OUT CMD...: runs CMD three times, each after removing the directory CLEAN and
# with stdout to the file OUT; prints "WALL CPU": the best wall-clock and the best CPU (user +
# system) seconds of CMD. CPU time shows the cost when other work shares the cores.
best_of3() {
  python3 - "$@" <<'PYEOF'
import os, shutil, subprocess, sys, time
clean, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
best_wall = best_cpu = None
for _ in range(3):
    shutil.rmtree(clean, ignore_errors=True)
    with open(out, "wb") as f:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=f)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("volume.sh: %s failed" % " ".join(cmd[:3]))
    cpu = ru.ru_utime + ru.ru_stime
    best_wall = wall if best_wall is None else min(best_wall, wall)
    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
print("%.6f %.6f" % (best_wall, best_cpu))
PYEOF
}

# encrypt NAME [ARCA]: times encrypting $dir/NAME into $dir/enc.NAME (kept, with its key and
# tag in $dir/env.NAME). decrypt NAME [ARCA]: times decrypting it into $dir/dec.NAME (removed
# afterwards). ARCA defaults to $arca.
encrypt() {
  if [ -n "${2:-}" ]; then
    best_of3 "$dir/enc.$1" "$dir/env.$1" "$2" fspf encrypt "$dir/$1" "$dir/enc.$1" --envar-output
  else
    best_of3 "$dir/enc.$1" "$dir/env.$1" "$arca" fspf encrypt "$dir/$1" "$dir/enc.$1" \
      --envar-output ${jobs[@]+"${jobs[@]}"}
  fi
}
decrypt() {
  (set -a; . "$dir/env.$1"; set +a
   if [ -n "${2:-}" ]; then
     best_of3 "$dir/dec.$1" /dev/null "$2" fspf decrypt "$dir/enc.$1" "$dir/dec.$1"
   else
     best_of3 "$dir/dec.$1" /dev/null "$arca" fspf decrypt "$dir/enc.$1" "$dir/dec.$1" \
       ${jobs[@]+"${jobs[@]}"}
   fi)
  rm -rf "$dir/dec.$1"
}

echo "preparing $small files of $small_bytes bytes and one file of $large_mib MiB in $dir" >&2
python3 - "$dir/small" "$small" "$small_bytes" <<'EOF'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(size)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.py" % i), "wb") as f:
        f.write(block[i % 64:] + block[:i % 64])
EOF
mkdir -p "$dir/large"
head -c $((large_mib * 1048576)) /dev/urandom > "$dir/large/data.bin"
small_total=$((small * small_bytes))
large_total=$((large_mib * 1048576))

# With --base, each case runs with the base binary right before the measured one (the base
# decrypts its own encryption, so both directions compare like with like).
if [ -n "$base_bin" ]; then
  b_enc_small=$(encrypt small "$base_bin/arca")
  b_dec_small=$(decrypt small "$base_bin/arca")
fi
enc_small=$(encrypt small)
dec_small=$(decrypt small)
if [ -n "$base_bin" ]; then
  b_enc_large=$(encrypt large "$base_bin/arca")
  b_dec_large=$(decrypt large "$base_bin/arca")
fi
enc_large=$(encrypt large)
dec_large=$(decrypt large)

ossl=$(openssl speed -evp aes-256-gcm -bytes 65536 -seconds 3 2>/dev/null |
       awk 'toupper($1) == "AES-256-GCM" { v = $NF; sub(/k$/, "", v); printf "%.1f", v / 1000 }')
# rate BYTES "WALL CPU": "wall-MB/s cpu-MB/s"
rate() { echo "$2" | awk -v b="$1" '{ printf "%.1f %.1f", b / $1 / 1e6, b / $2 / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$ossl" 'BEGIN { printf "%.2f", a / b }'; }
row() { # LABEL BYTES TIMES
  local r w c
  r=$(rate "$2" "$3"); w=${r% *}; c=${r#* }
  printf '%-34s %10s %10s %12s %12s\n' "$1" "$w" "$c" "$(ratio "$w")" "$(ratio "$c")"
}

echo
echo "arca volume throughput ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$(openssl version | cut -d' ' -f1-2); scratch $dir)"
printf '%-34s %10s %10s %12s %12s\n' "case (MB/s = 10^6 B/s plaintext)" "wall MB/s" "CPU MB/s" \
       "wall/openssl" "CPU/openssl"
row "$small files x $small_bytes B: encrypt" $small_total "$enc_small"
row "$small files x $small_bytes B: decrypt" $small_total "$dec_small"
row "1 file x $large_mib MiB: encrypt" $large_total "$enc_large"
row "1 file x $large_mib MiB: decrypt" $large_total "$dec_large"
if [ -n "$base_bin" ]; then
  row "base: $small files: encrypt" $small_total "$b_enc_small"
  row "base: $small files: decrypt" $small_total "$b_dec_small"
  row "base: 1 file x $large_mib MiB: encrypt" $large_total "$b_enc_large"
  row "base: 1 file x $large_mib MiB: decrypt" $large_total "$b_dec_large"
fi
printf '%-34s %10s\n' "openssl speed -evp aes-256-gcm -bytes 65536 (1 thread)" "$ossl"
echo
echo "reproduce: bench/volume.sh --bin $bin${base_bin:+ --base $base_bin} --large-mib $large_mib --small $small --small-bytes $small_bytes ${jobs[*]}"
