#!/usr/bin/env bash
# ResNet-20 on CIFAR-10, W32A32 and W2A2, with the same short budget in nce and in the PyTorch peer
# (bench/peer_pytorch.py): same model, quantizers, normalization, augmentation, SGD Nesterov
# (lr 0.1, momentum 0.9, weight decay 5e-4, PACT clip L2 0.001), per-batch linear warm-up + cosine.
# Writes OUT/{nce,torch}_w{32,2}_seed{S}.json and OUT/summary.md: final test top-1/top-5 side by
# side per seed and, with several --seeds, each engine's mean and standard deviation and Welch's
# t-test of the difference (is it beyond seed noise?).
# The full run (30 epochs x 4 trainings) takes many hours on 2 cores; nce checkpoints every epoch
# and is resumed, and finished trainings are skipped, when the script is started again.
#
# Usage: bench/accuracy_cifar10.sh --data DIR [--epochs 30] [--out DIR] [--nce PATH]
#                                  [--subset N] [--test-subset N] [--max-batches N] [--bits "32 2"]
#                                  [--seeds "1"]
#   Smoke run: --epochs 1 --subset 100 --test-subset 50
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
nce="$here/../build/apps/nce/nce" data="" epochs=30 out="runs/accuracy_cifar10" subset=0
test_subset=0 max_batches=0 bits_list="32 2" warmup=1 seeds="1"
bench_options "--data=data --epochs=epochs --out=out --nce=nce --subset=subset --test-subset=test_subset --max-batches=max_batches --bits=bits_list --warmup-epochs=warmup --seeds=seeds" "$@"
[ -n "$data" ] || bench_fail "--data DIR (cifar-10-batches-bin) is required"
[ -x "$nce" ] || bench_fail "no nce executable at $nce"
[ "$warmup" -le "$epochs" ] || warmup=0
mkdir -p "$out"
common=(--epochs "$epochs" --batch 128 --lr 0.1 --warmup-epochs "$warmup" --weight-decay 5e-4
        --subset "$subset" --test-subset "$test_subset" --max-batches "$max_batches")

for bits in $bits_list; do
  for seed in $seeds; do
    run="w${bits}_seed$seed"
    if [ ! -s "$out/nce_$run.json" ]; then
      ckpt="$out/nce_$run.ckpt"
      resume=()
      [ -f "$ckpt" ] && resume=(--resume)
      echo "== nce W${bits}A${bits} seed $seed" >&2
      OMP_NUM_THREADS=2 "$nce" train --model resnet20 --dataset cifar10 --data "$data" --bits "$bits" \
        "${common[@]}" --seed "$seed" --threads 2 --checkpoint "$ckpt" "${resume[@]}" \
        --json "$out/nce_$run.json.part"
      mv "$out/nce_$run.json.part" "$out/nce_$run.json"
    fi
    if [ ! -s "$out/torch_$run.json" ]; then
      echo "== pytorch W${bits}A${bits} seed $seed" >&2
      "$PYTHON" "$here/peer_pytorch.py" --model resnet20 --train-data "$data" --bits "$bits" \
        "${common[@]}" --seed "$seed" --threads 2 > "$out/torch_$run.json.part"
      mv "$out/torch_$run.json.part" "$out/torch_$run.json"
    fi
  done
done

"$PYTHON" - "$out" "$seeds" $bits_list > "$out/summary.md" <<'PY'
import json, math, statistics, sys
out, seeds, bits = sys.argv[1], sys.argv[2].split(), sys.argv[3:]


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom (Simpson's rule on the density)."""
    t = abs(t)
    if t == 0:
        return 1.0
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    f = lambda x: c * (1 + x * x / df) ** (-(df + 1) / 2)
    n = 2000
    h = t / n
    area = f(0) + f(t) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, n))
    return max(0.0, 1.0 - 2.0 * area * h / 3)


load = lambda engine, b, s: json.load(open("%s/%s_w%s_seed%s.json" % (out, engine, b, s)))
ips = lambda r: sum(e["images_per_s"] for e in r["epochs"]) / max(len(r["epochs"]), 1)
print("| model | bits | seed | epochs | nce top-1 | PyTorch top-1 | nce top-5 | PyTorch top-5 | "
      "final train loss nce / PyTorch | nce img/s | PyTorch img/s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for b in bits:
    top1 = {"nce": [], "torch": []}
    for s in seeds:
        n, t = load("nce", b, s), load("torch", b, s)
        top1["nce"].append(n["test"]["top1"])
        top1["torch"].append(t["test"]["top1"])
        print("| resnet20 | W%sA%s | %s | %d | %.2f | %.2f | %.2f | %.2f | %.3f / %.3f | %.0f | %.0f |" % (
            b, b, s, len(n["epochs"]), n["test"]["top1"], t["test"]["top1"], n["test"]["top5"],
            t["test"]["top5"], n["epochs"][-1]["loss"], t["epochs"][-1]["loss"], ips(n), ips(t)))
    if len(seeds) > 1:
        a, c = top1["nce"], top1["torch"]
        va, vc = statistics.variance(a) / len(a), statistics.variance(c) / len(c)
        diff = statistics.mean(a) - statistics.mean(c)
        se = math.sqrt(va + vc)
        line = "| resnet20 | W%sA%s | mean +- sd of %d | | %.2f +- %.2f | %.2f +- %.2f | | | | | |" % (
            b, b, len(seeds), statistics.mean(a), statistics.stdev(a), statistics.mean(c),
            statistics.stdev(c))
        print(line)
        if se > 0:
            df = (va + vc) ** 2 / (va * va / (len(a) - 1) + vc * vc / (len(c) - 1))
            summary = "nce - PyTorch = %+.2f points, Welch t = %.2f, df = %.1f, two-sided p = %.2f" % (
                diff, diff / se, df, t_two_sided_p(diff / se, df))
            print("\nW%sA%s: %s" % (b, b, summary))
PY
cat "$out/summary.md"
