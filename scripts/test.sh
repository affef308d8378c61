#!/usr/bin/env bash
# Installs the Debian dependencies, builds nce and runs the whole test suite with ctest.
# This is the README's test command and what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
start=$(date +%s)
scripts/build.sh
built=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)
status=0
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600) || status=$?
done_at=$(date +%s)
echo "build: $((built - start)) s, tests: $((done_at - built)) s"
exit $status
