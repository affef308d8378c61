#!/usr/bin/env bash
# A search iteration of nce's supernet beside TAS's own (AutoDL-Projects, give the path of a
# checkout with --autodl; nothing of it is part of nce), in one run on one machine: same model
# (ResNet-20, CIFAR 3x32x32), batch and thread count, CPU.
#   nce:  build/bench/nce_bench_search --bits B (weight step + architecture step, and the plain
#         nn::Network training step, interleaved; it prints the mean over its --rounds)
#   TAS:  bench/tas_search_speed.py: search_main.search_train on SearchWidthCifarResNet (weight step +
#         architecture step, FP32, no quantizer), and basic_main.basic_train on CifarResNet (plain step)
# The two engines alternate for REPEATS rounds (the order flips every round); each figure is the
# median over the rounds; TAS's min..max over every timed iteration is printed too (PyTorch's CPU
# speed swings up to 2x from run to run). Rates: search iterations (or plain steps) per second;
# ratio = nce rate / TAS rate (> 1: nce faster).
#
# Usage: bench/compare_search_speed.sh --autodl DIR [--nce-bench PATH]
# Environment: REPEATS=5 NCE_ROUNDS=3 TAS_STEPS=5 TAS_WARMUP=3 BATCH=128 THREADS=2 BITS="32 2"
#              PYTHON=/usr/bin/python3 (Debian's python3-torch)
# e.g. cmake --build build -j2 --target nce_bench_search
#      bench/compare_search_speed.sh --autodl /tmp/AutoDL-Projects
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
bench="$here/../build/bench/nce_bench_search" autodl=""
REPEATS="${REPEATS:-5}" NCE_ROUNDS="${NCE_ROUNDS:-3}" TAS_STEPS="${TAS_STEPS:-5}" TAS_WARMUP="${TAS_WARMUP:-3}"
BATCH="${BATCH:-128}" THREADS="${THREADS:-2}" BITS="${BITS:-32 2}" PYTHON="${PYTHON:-/usr/bin/python3}"
bench_options "--autodl=autodl --nce-bench=bench" "$@"
bench_need_autodl "$autodl"
[ -x "$bench" ] || bench_fail "no $bench (cmake --build build --target nce_bench_search)"
bench_need_torch "apt-get install python3-torch"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

run_nce() {
  for bits in $BITS; do
    out=$(OMP_NUM_THREADS=$THREADS "$bench" --rounds "$NCE_ROUNDS" --batch "$BATCH" --bits "$bits")
    plain=$(awk '/plain training step/ {print $4}' <<<"$out")
    search=$(awk '/search iteration/ {print $6}' <<<"$out")
    [ -n "$plain" ] && [ -n "$search" ] || { echo "compare_search_speed: cannot read $bench output:" >&2; echo "$out" >&2; exit 1; }
    echo "nce $bits plain $plain" >>"$log"
    echo "nce $bits search $search" >>"$log"
  done
}
run_tas() {
  OMP_NUM_THREADS=$THREADS "$PYTHON" "$here/tas_search_speed.py" --autodl "$autodl" --batch "$BATCH" \
    --threads "$THREADS" --steps "$TAS_STEPS" --warmup "$TAS_WARMUP" |
    "$PYTHON" -c 'import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("tas 32 %s %.3f %s" % (r["what"], r["median_ms"], ",".join("%.3f" % v for v in r["ms"])))' >>"$log"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start (other processes slow both engines, PyTorch's OpenMP barriers most)"
echo "ResNet-20, batch $BATCH, $THREADS threads, $REPEATS rounds (nce: mean of $NCE_ROUNDS per round; TAS: median of $TAS_STEPS after $TAS_WARMUP warm-up)"
for ((r = 0; r < REPEATS; ++r)); do
  if ((r % 2 == 0)); then run_nce; run_tas; else run_tas; run_nce; fi
  echo "  round $((r + 1))/$REPEATS (ms):" $(awk -v n="$r" 'BEGIN{c=0} {print $1"/W"$2"/"$3"="$4}' "$log" | tail -n $(( $(wc -w <<<"$BITS") * 2 + 2 )))
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
"$PYTHON" - "$log" "$BATCH" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
batch = int(sys.argv[2])
per = {}
spread = {}
for r in rows:
    key = (r[0], int(r[1]), r[2])
    per.setdefault(key, []).append(float(r[3]))
    if len(r) > 4:
        spread.setdefault(key, []).extend(float(v) for v in r[4].split(","))
med = {k: statistics.median(v) for k, v in per.items()}
print("\n%-6s %-7s %-18s %10s %10s %10s  %s" % ("engine", "bits", "what", "median ms", "per s", "img/s", "range over rounds (ms)"))
for k in sorted(med, key=lambda k: (k[0], -k[1], k[2])):
    v = per[k]
    extra = ""
    if k in spread:
        extra = "   every iteration %.0f..%.0f ms (%.2fx)" % (min(spread[k]), max(spread[k]), max(spread[k]) / min(spread[k]))
    print("%-6s %-7s %-18s %10.1f %10.3f %10.1f  %.0f..%.0f%s" % (k[0], "W%dA%d" % (k[1], k[1]), k[2], med[k], 1000 / med[k],
          batch * 1000 / med[k], min(v), max(v), extra))
tas = med.get(("tas", 32, "search"))
tas_plain = med.get(("tas", 32, "plain"))
print()
for bits in sorted({k[1] for k in med if k[0] == "nce"}, reverse=True):
    s, p = med[("nce", bits, "search")], med[("nce", bits, "plain")]
    lo, hi = min(spread[("tas", 32, "search")]), max(spread[("tas", 32, "search")])
    print("nce W%dA%d search iteration: %.2fx TAS's FP32 rate (TAS %.0f ms median; %.2fx..%.2fx over TAS's "
          "fastest..slowest iteration); nce search / nce plain %.2fx" % (bits, bits, tas / s, tas, lo / s, hi / s, s / p))
print("TAS search / TAS plain (CifarResNet) %.2fx" % (tas / tas_plain))
# Under load the fastest round is the best estimate of each engine's own speed.
best_tas = min(per[("tas", 32, "search")])
for bits in sorted({k[1] for k in med if k[0] == "nce"}, reverse=True):
    print("fastest rounds: nce W%dA%d search %.0f ms, TAS %.0f ms: %.2fx TAS's rate" %
          (bits, bits, min(per[("nce", bits, "search")]), best_tas, best_tas / min(per[("nce", bits, "search")])))
PY
