#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and runs each for a bounded
# time on the committed corpus. New inputs go to a scratch directory, not into fuzz/corpus/; a
# crash leaves its input as build-fuzz/crash-* and makes this script fail.
# Usage: fuzz/run.sh [SECONDS per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cxx=${CXX_FUZZ:-clang++-14}
scripts/install-deps.sh
if [ -z "${CXX_FUZZ:-}" ]; then
  source scripts/apt-install.sh
  apt_install fuzz clang-14 libclang-rt-14-dev  # clang++-14 and its libFuzzer runtime
fi
# Every target (fuzz/<name>_fuzz.cpp) and the longest input it is fed, in bytes: a CIFAR-10 batch
# needs whole 3073-byte records, a checkpoint's generator state alone is ~7 KB, the integer
# model seeds are a few KB.
targets=(hw_config:4096 topology_csv:4096 sweep:4096 idx:8192 cifar10_batch:16384 checkpoint:16384
  int_model:16384)
names=("${targets[@]%%:*}")
start=$(date +%s)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DNCE_FUZZ=ON -DNCE_BUILD_TESTS=OFF -DNCE_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" --target "${names[@]/%/_fuzz}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for entry in "${targets[@]}"; do
  target=${entry%%:*}
  scratch=build-fuzz/corpus-$target
  mkdir -p "$scratch"
  echo "== fuzzing $target for ${seconds}s"
  (cd build-fuzz && "./fuzz/${target}_fuzz" -max_total_time="$seconds" -max_len="${entry#*:}" \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "../$scratch" "../fuzz/corpus/$target")
done
echo "fuzzing: build and ${seconds} s per target took $(($(date +%s) - start)) s"
