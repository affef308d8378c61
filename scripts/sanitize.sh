#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs
# ctest there. The build is the portable one (-DNCE_NATIVE_ARCH=OFF: baseline x86-64, the kernels
# of every instruction-set level chosen at run time). The suite runs at NCE_ISA=portable (the
# numbers this build gave before the levels existed: deploy_test's tiny W4A4 int8 run needs them),
# while isa_test and small_gemm_test still run every level the CPU has; NCE_ISA=avx2 (or avx512)
# scripts/sanitize.sh runs it all at that level instead.
# Any report fails the test that made it (halt_on_error). CI (.ci/run) runs it after scripts/test.sh.
# Usage: scripts/sanitize.sh [ctest -R regex; default: the whole suite]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# --as-needed: a test that never starts the SystemC kernel must not load libsystemc.so (its main()
# binds an sc_main such a test does not have; the Release build drops it the same way).
start=$(date +%s)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNCE_NATIVE_ARCH=OFF \
  -DNCE_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined -Wl,--as-needed" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build build-asan -j"$jobs"
built=$(date +%s)
export NCE_ISA=${NCE_ISA:-portable}
# Leak checking is off: libgomp and SystemC keep process-lifetime allocations it would report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 1800 ${1:+-R "$1"}) || status=$?
done_at=$(date +%s)
echo "sanitizers: build $((built - start)) s, tests $((done_at - built)) s"
exit $status
