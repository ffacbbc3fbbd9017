#!/usr/bin/env bash
# Builds engram's test binary with AddressSanitizer + UndefinedBehaviorSanitizer and with
# ThreadSanitizer, at -O1 with assertions on (Debug), and runs it under each. Only the test
# binary is built: examples and benchmarks add minutes and no checks.
#
# ThreadSanitizer runs OpenMP-free (ENGRAM_OPENMP=OFF): Debian's libgomp is not built with
# TSan, whose reports would then be about the runtime's own synchronisation. Without OpenMP
# the only threads are those the concurrency tests start with std::thread, which TSan
# understands, so TSan builds and runs just those (engram_thread_tests) instead of the whole
# suite: the same checks, about ten minutes less.
# Usage: bash tools/check-sanitizers.sh [address|thread]   (both when no argument)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
kinds=("${@:-address thread}")
for kind in ${kinds[*]}; do
  start=$SECONDS
  case "$kind" in
    address) flags=address,undefined openmp=ON target=engram_tests ;;
    thread) flags=thread openmp=OFF target=engram_thread_tests ;;
    *) echo "unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
  esac
  dir=build-$kind
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DENGRAM_SANITIZE="$flags" \
    -DENGRAM_OPENMP="$openmp" -DENGRAM_NATIVE=OFF -DENGRAM_BUILD_EXAMPLES=OFF \
    -DENGRAM_BUILD_BENCHMARKS=OFF > "$dir/configure.log"
  cmake --build "$dir" --target "$target" -j2
  echo "=== $kind: built in $((SECONDS - start)) s"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  # TSan maps its shadow memory at fixed addresses, which address-space randomisation with
  # many bits (recent kernels) can collide with: run without randomisation when setarch can.
  run=()
  if [ "$kind" = thread ] && setarch "$(uname -m)" -R true 2> /dev/null; then
    run=(setarch "$(uname -m)" -R)
  fi
  (cd "$dir/tests" && "${run[@]}" "./$target" --order rand --rng-seed 20261125)
  echo "=== $kind: built and ran in $((SECONDS - start)) s"
done
