#!/bin/sh
# DCAP quote verification rate (warm and cold collateral), then the SEV-SNP report verification
# rate, each beside `openssl speed` ECDSA verify rates from the same run.
# Usage: bench/verify.sh [BUILD_DIR] [SECONDS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/build-bench-verify}
secs=${2:-2}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DARCA_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_verify bench_snp >/dev/null
echo "# command: $build/bin/bench_verify $secs"
"$build/bin/bench_verify" "$secs"
echo
echo "# command: $build/bin/bench_snp $secs"
exec "$build/bin/bench_snp" "$secs"
