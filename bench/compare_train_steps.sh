#!/usr/bin/env bash
# Step-for-step agreement of nce's trainer with the PyTorch peer: nce takes one SGD step on one
# batch (the first N CIFAR-10 training images per class), bench/peer_gradcheck.py recovers the
# initial weights and nce's gradients from the checkpoint and compares them, the loss and the BN
# running statistics with PyTorch's on the same weights and images. Then nce trains the same batch
# for --steps SGD steps (warm-up + cosine) and PyTorch follows from the same initial weights: the
# loss of every step and the final weights, momentum buffers and running statistics are compared.
#
# Usage: bench/compare_train_steps.sh --data DIR [--nce PATH] [--model resnet20] [--subset 10]
#                                     [--steps 30]   (0: the one-step check only)
#        Environment: CONFIGS="32:sawb 2:sawb 2:dorefa 4:sawb" PYTHON=/usr/bin/python3
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
nce="$here/../build/apps/nce/nce" data="" model=resnet20 subset=10 steps=30
PYTHON="${PYTHON:-/usr/bin/python3}" CONFIGS="${CONFIGS:-32:sawb 2:sawb 2:dorefa 4:sawb}"
bench_options "--data=data --nce=nce --model=model --subset=subset --steps=steps" "$@"
[ -n "$data" ] || bench_fail "--data DIR (cifar-10-batches-bin) is required"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
for config in $CONFIGS; do
  bits="${config%%:*}" quantizer="${config##*:}"
  echo "== $model W${bits}A${bits} $quantizer"
  run=(train --model "$model" --dataset cifar10 --data "$data" --subset "$subset" --test-subset 1
       --batch 128 --bits "$bits" --quantizer "$quantizer" --augment off --lr 0.1 --no-epoch-test --quiet)
  "$nce" "${run[@]}" --epochs 1 --checkpoint "$tmp/step.ckpt"
  follow=()
  if [ "$steps" -gt 0 ]; then
    "$nce" "${run[@]}" --epochs "$steps" --warmup-epochs $(( (steps + 9) / 10 )) --checkpoint "$tmp/run.ckpt"
    follow=(--trajectory "$tmp/run.ckpt")
  fi
  "$PYTHON" "$here/peer_gradcheck.py" --checkpoint "$tmp/step.ckpt" --data "$data" --subset "$subset" \
    "${follow[@]}" | grep -E "^loss|differs|^worst|^step|^trajectory|^  " || status=1
  rm -f "$tmp/step.ckpt" "$tmp/run.ckpt"
done
exit $status
