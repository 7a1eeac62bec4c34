#!/bin/sh
# Sealed store and audit log figures: durable commits, reads, open-time verification, audit
# appends with checkpoints and verification. Builds Release in BUILD_DIR; files go to /tmp.
# Usage: bench/store.sh [BUILD_DIR] [SESSIONS] [AUDIT_SCALE]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/build-bench-store}
n=${2:-500}
scale=${3:-1}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DARCA_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_store bench_audit >/dev/null
"$build/bin/bench_store" "$n"
echo
exec "$build/bin/bench_audit" "$scale"
