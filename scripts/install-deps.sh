#!/usr/bin/env bash
# Installs every Debian 12 package nce needs. Idempotent: safe to run again.
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libsystemc-dev libeigen3-dev libboost-program-options-dev
  libsqlite3-dev sqlite3
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev xz-utils
  openmpi-bin libopenmpi-dev
  dataset-fashion-mnist
  python3-onnx python3-numpy   # tests only: onnx.checker + the numpy reference of the QONNX export
)

source "$(dirname "$0")/apt-install.sh"
apt_install install-deps "${packages[@]}"
