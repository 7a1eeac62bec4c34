#!/bin/sh
# DCAP quote verification rate (warm and cold collateral) beside `openssl speed` ECDSA verify
# rates from the same run. Usage: bench/verify.sh [BUILD_DIR] [SECONDS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/build-bench-verify}
secs=${2:-2}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DARCA_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_verify >/dev/null
echo "# command: $build/bin/bench_verify $secs"
exec "$build/bin/bench_verify" "$secs"
