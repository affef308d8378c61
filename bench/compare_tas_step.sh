#!/usr/bin/env bash
# Step-for-step agreement of nce's width-search supernet with TAS's own code (AutoDL-Projects,
# github.com/D-X-Y/AutoDL-Projects; nothing of it is part of nce: give the path of a checkout).
# build/bench/nce_search_dump writes one nce search iteration (ResNet-20, 8 candidates per layer,
# weights, BN state and alpha, the Gumbel noise and the drawn indices, the weight step's CE and
# every gradient, the SGD update, the architecture step's CE, expected FLOPs, TAS FLOPs loss and
# alpha gradients); bench/tas_step_check.py loads it into SearchWidthCifarResNet, replays the
# iteration with TAS's select2withP / ChannelWiseInter / get_flop / get_flop_loss (issue #65's
# block-output ReLU fixed at run time) in float32 and float64, and prints the largest relative
# differences per quantity against named tolerances, for TAS as is and for TAS without the
# search-mode BN on its stride-2 shortcut (see tas_step_check.py). W32A32 by default; TAS has no
# quantizer, so --bits "32 2" also runs W2A2 with nce's SAWB + PACT added to TAS's supernet at run
# time (tas_step_check.add_quantizers).
#
# Usage: bench/compare_tas_step.sh --autodl DIR [--seeds "1 2"] [--bits "32 2"] [--batch 64] [--tau 2]
#                                  [--dump PATH/TO/nce_search_dump] [--all]
#   e.g. git clone https://github.com/D-X-Y/AutoDL-Projects /tmp/AutoDL-Projects
#        cmake --build build -j2 --target nce_search_dump
#        bench/compare_tas_step.sh --autodl /tmp/AutoDL-Projects
# Environment: PYTHON=/usr/bin/python3 (Debian's python3-torch), OMP_NUM_THREADS (default 2).
# Exit status 0 only if every seed and variant passes.
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
dump_bin="$here/../build/bench/nce_search_dump" autodl="" seeds="1" bits_list="32" batch=64 tau=2 all=""
bench_options "--autodl=autodl --seeds=seeds --bits=bits_list --batch=batch --tau=tau --dump=dump_bin --all=all!" "$@"
bench_need_autodl "$autodl"
[ -x "$dump_bin" ] || bench_fail "no $dump_bin (cmake --build build --target nce_search_dump)"
bench_need_torch "apt-get install python3-torch"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
for bits in $bits_list; do
  for seed in $seeds; do
    echo "==== W${bits}A${bits} seed $seed"
    "$dump_bin" --out "$tmp/seed$seed" --seed "$seed" --bits "$bits" --batch "$batch" --tau "$tau"
    "$PYTHON" "$here/tas_step_check.py" --autodl "$autodl" --dump "$tmp/seed$seed" ${all:+"$all"} || status=1
    rm -rf "$tmp/seed$seed"
  done
done
exit $status
