#!/usr/bin/env bash
# What `nce campaign` adds to the searches it runs. One plan of JOBS jobs (arms original, nce and
# tas x seeds, ResNet-8 on a Fashion-MNIST subset), run two ways, alternating for REPEATS rounds
# (the order flips every round):
#   campaign:  nce campaign --plan P --db D           (fresh work dir and database each round)
#   searches:  the same jobs as plain `nce search ... --db D` commands, one after another
# and then the campaign's fixed costs alone: `--list` (plan, job states) and a rerun of the
# finished plan (states, lock, skip, merge of every job database). Each figure is the median over
# the rounds; overhead = campaign - searches, also as a share of the searches' time. The rows both
# ways are compared (widths, MACs, final top-1 must be equal), so the two do the same work.
#
# Usage: bench/campaign_overhead.sh [--nce PATH]
# Environment: REPEATS=3 SEEDS="1 2" SUBSET=60 EPOCHS=1 THREADS=2
source "$(dirname "$0")/lib.sh"  # set -euo pipefail, here, tool
nce="$here/../build/apps/nce/nce"
REPEATS="${REPEATS:-3}" SEEDS="${SEEDS:-1 2}" SUBSET="${SUBSET:-60}" EPOCHS="${EPOCHS:-1}"
THREADS="${THREADS:-2}"
bench_options "--nce=nce" "$@"
[ -x "$nce" ] || bench_fail "no $nce (cmake --build build --target nce)"
hw="$here/../hw_configs/edge-16x16-ws-2b.cfg"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS="$THREADS"
protocol=(--model resnet8 --dataset fashion-mnist --subset "$SUBSET" --test-subset 20
          --warmup-epochs "$EPOCHS" --search-epochs "$EPOCHS" --retrain-epochs "$EPOCHS"
          --pact-init 3 --batch 32 --hw "$hw")
{
  echo "[campaign]"
  echo "name = overhead"
  echo "model = resnet8"
  echo "dataset = fashion-mnist"
  echo "seeds = $(echo $SEEDS | sed 's/ /, /g')"
  echo "subset = $SUBSET"
  echo "test-subset = 20"
  echo "hw = $hw"
  echo "[protocol]"
  echo "warmup-epochs = $EPOCHS"
  echo "search-epochs = $EPOCHS"
  echo "retrain-epochs = $EPOCHS"
  echo "pact-init = 3"
  echo "batch = 32"
  for arm in original nce tas; do
    echo "[arm $arm]"
    [ "$arm" = original ] && echo "method = none" || echo "method = $arm"
  done
} > "$dir/plan.cfg"

now() { date +%s.%N; }
rows() {  # what both ways must agree on
  sqlite3 "$1" "SELECT r.method, r.seed, r.final_top1, c.phase, c.widths, c.macs, c.top1
                FROM candidates c JOIN runs r ON r.id = c.run_id
                ORDER BY r.method, r.seed, c.phase, c.epoch, c.widths"
}
run_campaign() {
  rm -rf "$dir/c.db" "$dir/c.db.jobs"
  local t0; t0=$(now)
  "$nce" campaign --plan "$dir/plan.cfg" --db "$dir/c.db" --threads "$THREADS" --quiet >/dev/null
  echo "$(now) - $t0" | bc
}
run_searches() {
  rm -f "$dir/s.db"
  local t0; t0=$(now)
  for seed in $SEEDS; do
    for method in none nce tas; do
      "$nce" search --method "$method" --seed "$seed" "${protocol[@]}" --db "$dir/s.db" \
        --quiet >/dev/null
    done
  done
  echo "$(now) - $t0" | bc
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

c_times=() s_times=() list_times=() rerun_times=()
for round in $(seq "$REPEATS"); do
  if [ $((round % 2)) -eq 1 ]; then
    c_times+=("$(run_campaign)"); s_times+=("$(run_searches)")
  else
    s_times+=("$(run_searches)"); c_times+=("$(run_campaign)")
  fi
  t0=$(now); "$nce" campaign --plan "$dir/plan.cfg" --db "$dir/c.db" --list >/dev/null
  list_times+=("$(echo "$(now) - $t0" | bc)")
  t0=$(now); "$nce" campaign --plan "$dir/plan.cfg" --db "$dir/c.db" --quiet >/dev/null
  rerun_times+=("$(echo "$(now) - $t0" | bc)")
  echo "round $round: campaign ${c_times[-1]} s, searches ${s_times[-1]} s, --list ${list_times[-1]} s, rerun ${rerun_times[-1]} s" >&2
done
if [ "$(rows "$dir/c.db")" != "$(rows "$dir/s.db")" ]; then
  echo "campaign_overhead: the campaign's rows differ from the plain searches' rows" >&2
  diff <(rows "$dir/c.db") <(rows "$dir/s.db") >&2 || true
  exit 1
fi
c=$(printf '%s\n' "${c_times[@]}" | median)
s=$(printf '%s\n' "${s_times[@]}" | median)
l=$(printf '%s\n' "${list_times[@]}" | median)
r=$(printf '%s\n' "${rerun_times[@]}" | median)
jobs=$(( $(echo $SEEDS | wc -w) * 3 ))
echo "jobs $jobs, rounds $REPEATS (medians): campaign $c s, plain searches $s s," \
     "difference $(echo "$c - $s" | bc) s ($(echo "scale=2; 100 * ($c - $s) / $s" | bc)%)"
echo "campaign fixed costs: --list $l s, rerun of the finished plan $r s" \
     "($(echo "scale=3; $r / $jobs" | bc) s per job)"
