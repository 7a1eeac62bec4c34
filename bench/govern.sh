#!/bin/sh
# Verify-and-judge rate of one governed update with 3, 10 and 50 signers (bench_govern), beside
# `openssl speed` verify rates of the same algorithms from the same run; the ratio is arca's
# signature verifies/s over openssl's (1.0 = the floor of N verifications, nothing else).
# Usage: bench/govern.sh [BUILD_DIR] [SECONDS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/build-bench-govern}
secs=${2:-1}
case $secs in
'' | *[!0-9]* | 0) echo "bench/govern.sh: SECONDS must be a whole number of seconds >= 1 (openssl speed -seconds takes no fractions), not '$secs'" >&2; exit 2 ;;
esac
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DARCA_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target bench_govern >/dev/null
echo "# command: $build/bin/bench_govern $secs"
out=$("$build/bin/bench_govern" "$secs")
echo "$out"
echo "# command: openssl speed -seconds $secs ed25519 ecdsap256 ecdsap384"
speed=$(openssl speed -seconds "$secs" ed25519 ecdsap256 ecdsap384 2>/dev/null)
echo "$speed" | grep -E '^ *(253|256|384) bits'
ed=$(echo "$speed" | awk '/253 bits EdDSA/ {print $NF}')
p256=$(echo "$speed" | awk '/256 bits ecdsa/ {print $NF}')
p384=$(echo "$speed" | awk '/384 bits ecdsa/ {print $NF}')
echo "# ratio = arca signature verifies/s / openssl verify/s"
echo "$out" | awk -v ed="$ed" -v p256="$p256" -v p384="$p384" '{
    floor = $1 == "ed25519" ? ed : $1 == "p256" ? p256 : p384;
    printf "%-8s %-6s %-6s ratio %.2f\n", $1, $2, $3, $(NF-2) / floor }'
