#!/usr/bin/env bash
# Training throughput of nce's Eigen trainer beside the PyTorch peer (bench/peer_pytorch.py) on the
# same machine, same model, same batch and thread count, and the ratio nce / PyTorch.
#
# Usage: bench/compare_train_speed.sh [path/to/nce]        (default: build/apps/nce/nce)
# Environment: MODEL=resnet20 BITS="2 32" BATCH=128 STEPS=10 WARMUP=2 THREADS=2 QUANTIZER=sawb
#              REPEATS=1 (alternating nce/PyTorch runs; the best of each is reported)
#              PYTHON=/usr/bin/python3 (Debian's python3-torch; scripts/install-bench-deps.sh)
# Targets (issue 4): W2A2 >= 1.5x PyTorch, W32A32 >= 1.0x.
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
nce="${1:-$here/../build/apps/nce/nce}"
MODEL="${MODEL:-resnet20}" BITS="${BITS:-2 32}" BATCH="${BATCH:-128}" STEPS="${STEPS:-10}"
WARMUP="${WARMUP:-2}" THREADS="${THREADS:-2}" QUANTIZER="${QUANTIZER:-sawb}" REPEATS="${REPEATS:-1}"
[ -x "$nce" ] || bench_fail "no nce executable at $nce"
bench_need_torch "run scripts/install-bench-deps.sh"

best() { printf '%s\n' "$@" | sort -g | tail -1; }

printf '%-9s %-6s %12s %12s %8s %8s %12s %12s\n' model bits "nce img/s" "torch img/s" ratio target \
  "nce RSS MiB" "torch RSS"
for bits in $BITS; do
  nce_runs=() torch_runs=() nce_rss=0 torch_rss=0
  for ((r = 0; r < REPEATS; ++r)); do
    out=$(OMP_NUM_THREADS=$THREADS "$nce" bench train --model "$MODEL" --bits "$bits" --batch "$BATCH" \
      --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --quantizer "$QUANTIZER" --json)
    nce_runs+=("$(field images_per_s <<<"$out")")
    nce_rss=$(field peak_rss_mib <<<"$out")
    out=$("$PYTHON" "$here/peer_pytorch.py" --model "$MODEL" --bits "$bits" --batch "$BATCH" \
      --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --quantizer "$QUANTIZER")
    torch_runs+=("$(field images_per_s <<<"$out")")
    torch_rss=$(field peak_rss_mib <<<"$out")
  done
  n=$(best "${nce_runs[@]}") t=$(best "${torch_runs[@]}")
  target=1.0
  [ "$bits" -lt 32 ] && target=1.5
  ratio=$("$PYTHON" -c "print('%.2f' % ($n / $t))")
  printf '%-9s W%sA%-3s %12.1f %12.1f %7sx %7sx %12.0f %12.0f\n' "$MODEL" "$bits" "$bits" "$n" "$t" \
    "$ratio" "$target" "$nce_rss" "$torch_rss"
done
