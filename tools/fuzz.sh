#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (AddressSanitizer and UndefinedBehavior-
# Sanitizer on) and runs each for SECONDS (default 60) from the seed corpus in fuzz/corpus/.
# New inputs go to build-fuzz/corpus/, never into the repository; a crash leaves its input in
# build-fuzz/ and fails the script.
# Usage: bash tools/fuzz.sh [SECONDS] [TARGET...]     e.g. bash tools/fuzz.sh 3600 idx_reader
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if ! command -v clang++ > /dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a > /dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang
fi
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx_reader memory_file)
mkdir -p build-fuzz
for t in "${targets[@]}"; do
  start=$SECONDS
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Iinclude -Ifuzz -I/usr/include/eigen3 -I/usr/include/stb "fuzz/$t.cpp" -lz \
    -o "build-fuzz/$t"
  mkdir -p "build-fuzz/corpus/$t"
  echo "=== fuzz $t: built in $((SECONDS - start)) s, running ${seconds} s"
  (cd build-fuzz && "./$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "corpus/$t" "../fuzz/corpus/$t" 2>&1 | tail -n 12)
  echo "=== fuzz $t: $((SECONDS - start)) s"
done
