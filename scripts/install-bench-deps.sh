#!/usr/bin/env bash
# Optional packages for the benchmarks in bench/ (not needed to build or test nce):
# Debian's PyTorch 1.13 for the peer benchmark (bench/peer_pytorch.py) and numpy for its data.
# The scripts call /usr/bin/python3 (Debian's interpreter, where these packages live).
# Usage: scripts/install-bench-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(python3 python3-torch python3-numpy)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-bench-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-bench-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
