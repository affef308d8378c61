#!/usr/bin/env bash
# ResNet-20 on CIFAR-10, W32A32 and W2A2, with the same short budget in nce and in the PyTorch peer
# (bench/peer_pytorch.py): same model, quantizers, normalization, augmentation, SGD Nesterov
# (lr 0.1, momentum 0.9, weight decay 5e-4, PACT clip L2 0.001), per-batch linear warm-up + cosine.
# Writes OUT/{nce,torch}_w{32,2}.json and OUT/summary.md (final test top-1/top-5 side by side).
# The full run (30 epochs x 4 trainings) takes many hours on 2 cores; nce checkpoints every epoch
# and is resumed when the script is started again.
#
# Usage: bench/accuracy_cifar10.sh --data DIR [--epochs 30] [--out DIR] [--nce PATH]
#                                  [--subset N] [--test-subset N] [--max-batches N] [--bits "32 2"]
#   Smoke run: --epochs 1 --subset 100 --test-subset 50
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nce="$here/../build/apps/nce/nce" data="" epochs=30 out="runs/accuracy_cifar10" subset=0
test_subset=0 max_batches=0 bits_list="32 2" warmup=1
PYTHON="${PYTHON:-/usr/bin/python3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --nce) nce="$2"; shift 2 ;;
    --subset) subset="$2"; shift 2 ;;
    --test-subset) test_subset="$2"; shift 2 ;;
    --max-batches) max_batches="$2"; shift 2 ;;
    --bits) bits_list="$2"; shift 2 ;;
    --warmup-epochs) warmup="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "accuracy_cifar10: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$data" ] || { echo "accuracy_cifar10: --data DIR (cifar-10-batches-bin) is required" >&2; exit 2; }
[ -x "$nce" ] || { echo "accuracy_cifar10: no nce executable at $nce" >&2; exit 2; }
[ "$warmup" -le "$epochs" ] || warmup=0
mkdir -p "$out"
common=(--epochs "$epochs" --batch 128 --lr 0.1 --warmup-epochs "$warmup" --weight-decay 5e-4
        --subset "$subset" --test-subset "$test_subset" --max-batches "$max_batches" --seed 1)

for bits in $bits_list; do
  ckpt="$out/nce_w$bits.ckpt"
  resume=()
  [ -f "$ckpt" ] && resume=(--resume)
  echo "== nce W${bits}A${bits}" >&2
  OMP_NUM_THREADS=2 "$nce" train --model resnet20 --dataset cifar10 --data "$data" --bits "$bits" \
    "${common[@]}" --threads 2 --checkpoint "$ckpt" "${resume[@]}" --json "$out/nce_w$bits.json"
  echo "== pytorch W${bits}A${bits}" >&2
  "$PYTHON" "$here/peer_pytorch.py" --model resnet20 --train-data "$data" --bits "$bits" \
    "${common[@]}" --threads 2 > "$out/torch_w$bits.json"
done

"$PYTHON" - "$out" $bits_list > "$out/summary.md" <<'PY'
import json, sys
out, bits = sys.argv[1], sys.argv[2:]
print("| model | bits | epochs | nce top-1 | PyTorch top-1 | nce top-5 | PyTorch top-5 | nce img/s | PyTorch img/s |")
print("|---|---|---|---|---|---|---|---|---|")
for b in bits:
    n = json.load(open("%s/nce_w%s.json" % (out, b)))
    t = json.load(open("%s/torch_w%s.json" % (out, b)))
    ips = lambda r: sum(e["images_per_s"] for e in r["epochs"]) / max(len(r["epochs"]), 1)
    print("| resnet20 | W%sA%s | %d | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f |" % (
        b, b, len(n["epochs"]), n["test"]["top1"], t["test"]["top1"], n["test"]["top5"],
        t["test"]["top5"], ips(n), ips(t)))
PY
cat "$out/summary.md"
