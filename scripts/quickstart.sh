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
exec build/apps/nce/nce search --method nce --model resnet20 --dataset fashion-mnist \
  --subset 600 --test-subset 300 --batch 100 \
  --warmup-epochs 1 --search-epochs 3 --retrain-epochs 3 \
  --hw hw_configs/edge-16x16-ws-2b.cfg --lambda-latency 1 \
  --baseline --db runs/quickstart.db --analysis runs/quickstart-analysis "$@"
