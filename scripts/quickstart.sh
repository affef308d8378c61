#!/usr/bin/env bash
# The README's main job: installs the Debian dependencies, builds nce, and runs an NCE search on
# Fashion-MNIST (Debian's dataset-fashion-mnist) for a 2-bit ResNet-20, costed on the 16x16
# weight-stationary 2-bit array, then retrains the searched network and the unadapted one with the
# same short budget and prints the comparison (accuracy, MACs, PARAMs, cycles, energy).
# Every candidate lands in runs/quickstart.db (nce db query --db runs/quickstart.db ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p runs
rm -f runs/quickstart.db runs/quickstart.db-wal runs/quickstart.db-shm
# A short budget (6,000 training images, a few epochs) so it ends in minutes on 2 cores; the
# architecture learning rate is raised from the paper's 1e-3 (tuned for 600 search epochs) so that
# alpha moves within 6 epochs. PACT clips start at 3 instead of 10: with 2-bit levels at 0, 3.3,
# 6.7, 10 the constant backgrounds of Fashion-MNIST sit near the first threshold after BN, and test
# accuracy then jumps between epochs (train 74% / test 51% seen); at 3 it does not.
exec build/apps/nce/nce search --method nce --model resnet20 --dataset fashion-mnist \
  --subset 600 --test-subset 300 --batch 100 \
  --warmup-epochs 2 --search-epochs 6 --retrain-epochs 4 --arch-lr 0.05 --pact-init 3 \
  --hw hw_configs/edge-16x16-ws-2b.cfg --lambda-latency 5 --latency-target 0.85 \
  --baseline --db runs/quickstart.db --analysis runs/quickstart-analysis "$@"
