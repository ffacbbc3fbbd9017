#!/usr/bin/env bash
# Builds engram's test binary with AddressSanitizer + UndefinedBehaviorSanitizer and with
# ThreadSanitizer, at -O1 with assertions on (Debug), and runs it under each. Only the test
# binary is built: examples and benchmarks add minutes and no checks.
#
# ThreadSanitizer runs OpenMP-free (ENGRAM_OPENMP=OFF): Debian's libgomp is not built with
# TSan, whose reports would then be about the runtime's own synchronisation. The concurrency
# tests start their threads with std::thread, which TSan understands.
# Usage: bash tools/check-sanitizers.sh [address|thread]   (both when no argument)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
kinds=("${@:-address thread}")
for kind in ${kinds[*]}; do
  start=$SECONDS
  case "$kind" in
    address) flags=address,undefined openmp=ON ;;
    thread) flags=thread openmp=OFF ;;
    *) echo "unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
  esac
  dir=build-$kind
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DENGRAM_SANITIZE="$flags" \
    -DENGRAM_OPENMP="$openmp" -DENGRAM_NATIVE=OFF -DENGRAM_BUILD_EXAMPLES=OFF \
    -DENGRAM_BUILD_BENCHMARKS=OFF > "$dir/configure.log"
  cmake --build "$dir" --target engram_tests -j2
  echo "=== $kind: built in $((SECONDS - start)) s"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  # TSan maps its shadow memory at fixed addresses, which address-space randomisation with
  # many bits (recent kernels) can collide with: run without randomisation when setarch can.
  run=()
  if [ "$kind" = thread ] && setarch "$(uname -m)" -R true 2> /dev/null; then
    run=(setarch "$(uname -m)" -R)
  fi
  (cd "$dir/tests" && "${run[@]}" ./engram_tests --order rand --rng-seed 20261125)
  echo "=== $kind: built and ran in $((SECONDS - start)) s"
done
