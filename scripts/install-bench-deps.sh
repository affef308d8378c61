#!/usr/bin/env bash
# Optional packages for the benchmarks in bench/ (not needed to build or test nce):
# Debian's PyTorch 1.13 for the peer benchmark (bench/peer_pytorch.py) and numpy for its data.
# The scripts call /usr/bin/python3 (Debian's interpreter, where these packages live).
# Usage: scripts/install-bench-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(python3 python3-torch python3-numpy)

source "$(dirname "$0")/apt-install.sh"
apt_install install-bench-deps "${packages[@]}"
