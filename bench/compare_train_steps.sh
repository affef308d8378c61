#!/usr/bin/env bash
# Step-for-step agreement of nce's trainer with the PyTorch peer: nce takes one SGD step on one
# batch (the first N CIFAR-10 training images per class), bench/peer_gradcheck.py recovers the
# initial weights and nce's gradients from the checkpoint and compares them, the loss and the BN
# running statistics with PyTorch's on the same weights and images.
#
# Usage: bench/compare_train_steps.sh --data DIR [--nce PATH] [--model resnet20] [--subset 10]
#        Environment: CONFIGS="32:sawb 2:sawb 2:dorefa 4:sawb" PYTHON=/usr/bin/python3
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nce="$here/../build/apps/nce/nce" data="" model=resnet20 subset=10
PYTHON="${PYTHON:-/usr/bin/python3}" CONFIGS="${CONFIGS:-32:sawb 2:sawb 2:dorefa 4:sawb}"
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --nce) nce="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --subset) subset="$2"; shift 2 ;;
    *) echo "compare_train_steps: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$data" ] || { echo "compare_train_steps: --data DIR (cifar-10-batches-bin) is required" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
for config in $CONFIGS; do
  bits="${config%%:*}" quantizer="${config##*:}"
  echo "== $model W${bits}A${bits} $quantizer"
  "$nce" train --model "$model" --dataset cifar10 --data "$data" --subset "$subset" --test-subset 1 \
    --batch 128 --epochs 1 --bits "$bits" --quantizer "$quantizer" --augment off --lr 0.1 \
    --no-epoch-test --quiet --checkpoint "$tmp/step.ckpt"
  "$PYTHON" "$here/peer_gradcheck.py" --checkpoint "$tmp/step.ckpt" --data "$data" --subset "$subset" \
    | grep -E "^loss|differs|^worst" || status=1
  rm -f "$tmp/step.ckpt"
done
exit $status
