#!/usr/bin/env bash
# Inference throughput and single-image latency of ResNet-20 W2A2 on nce's integer engine
# (`nce bench infer --engine int`), on nce's float trainer forward (`nce bench infer`, the same
# W2A2 network in float) and on PyTorch FP32 (bench/peer_pytorch.py --infer --bits 32: eval mode,
# no_grad, denormals flushed), in interleaved rounds (int, float, PyTorch, then the next round),
# each run with its own warm-up. Reports the median over rounds of each engine, PyTorch's range,
# and the ratios int / PyTorch and int / float (targets: >= 3x both).
#
# Usage: bench/compare_infer_speed.sh [path/to/nce]        (default: build/apps/nce/nce)
# Environment: MODEL=resnet20 BITS=2 BATCH=128 STEPS=10 WARMUP=3 THREADS=2 REPEATS=5
#              LATENCY_STEPS=200 (batch 1) KERNEL=auto PYTHON=/usr/bin/python3
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
nce="${1:-$here/../build/apps/nce/nce}"
MODEL="${MODEL:-resnet20}" BITS="${BITS:-2}" BATCH="${BATCH:-128}" STEPS="${STEPS:-10}"
WARMUP="${WARMUP:-3}" THREADS="${THREADS:-2}" REPEATS="${REPEATS:-5}" KERNEL="${KERNEL:-auto}"
LATENCY_STEPS="${LATENCY_STEPS:-200}" PYTHON="${PYTHON:-/usr/bin/python3}"
[ -x "$nce" ] || bench_fail "no nce executable at $nce"
bench_need_torch "run scripts/install-bench-deps.sh"
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive

# run ENGINE BATCH STEPS -> images/s
run() {
  local engine=$1 batch=$2 steps=$3 out
  case $engine in
    int) out=$("$nce" bench infer --engine int --kernel "$KERNEL" --model "$MODEL" --bits "$BITS" \
                 --batch "$batch" --steps "$steps" --warmup "$WARMUP" --threads "$THREADS" --json) ;;
    float) out=$("$nce" bench infer --model "$MODEL" --bits "$BITS" --batch "$batch" \
                   --steps "$steps" --warmup "$WARMUP" --threads "$THREADS" --json) ;;
    torch) out=$("$PYTHON" "$here/peer_pytorch.py" --infer --model "$MODEL" --bits 32 \
                   --batch "$batch" --steps "$steps" --warmup "$WARMUP" --threads "$THREADS") ;;
  esac
  field images_per_s <<<"$out"
}

declare -A thr lat
for ((r = 0; r < REPEATS; ++r)); do
  for e in int float torch; do
    thr[$e]+="$(run $e "$BATCH" "$STEPS") "
    lat[$e]+="$(run $e 1 "$LATENCY_STEPS") "
  done
done
kernel=$("$nce" bench infer --engine int --kernel "$KERNEL" --model "$MODEL" --bits "$BITS" \
           --batch 1 --steps 1 --warmup 0 --json | field kernel)
echo "$MODEL W${BITS}A${BITS}, batch $BATCH, $THREADS threads, $REPEATS interleaved rounds;" \
  "int kernel: $kernel; CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" - "${thr[int]}" "${thr[float]}" "${thr[torch]}" "${lat[int]}" "${lat[float]}" \
  "${lat[torch]}" <<'PY'
import statistics, sys
t = [list(map(float, a.split())) for a in sys.argv[1:4]]
l = [list(map(float, a.split())) for a in sys.argv[4:7]]
names = ["nce int", "nce float", "PyTorch FP32"]
med = [statistics.median(x) for x in t]
lmed = [statistics.median(x) for x in l]
print("%-14s %14s %18s %22s" % ("engine", "batch img/s", "(min..max)", "1-image latency ms"))
for i, n in enumerate(names):
    print("%-14s %14.1f %18s %22.3f" % (n, med[i], "(%.0f..%.0f)" % (min(t[i]), max(t[i])),
                                        1000.0 / lmed[i]))
print("int / PyTorch: %.2fx (%.2fx..%.2fx against PyTorch's fastest..slowest round); int / float: "
      "%.2fx; target >= 3x both" % (med[0] / med[2], med[0] / max(t[2]), med[0] / min(t[2]),
                                     med[0] / med[1]))
print("1-image latency: int / PyTorch %.2fx, int / float %.2fx" % (lmed[0] / lmed[2],
                                                                  lmed[0] / lmed[1]))
PY
