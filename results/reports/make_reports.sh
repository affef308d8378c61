#!/usr/bin/env bash
# Regenerates every report in results/reports/ from scratch:
#   1. two hardware sweeps (hw_configs/sweeps/*.cfg) through the fast cost path;
#   2. a small search campaign (NCE, TAS, WRPN, random + the original network) on ResNet-8 /
#      Fashion-MNIST, W2A2, costed on the 32x32 OS preset -- a short budget, see README.md;
#   3. the charts (SVG) and tables (Markdown) drawn by `nce compare` and `nce db query`;
#   4. a small `nce campaign` (original, NCE, TAS over three seeds, 2X TAS over one) in its own
#      database, and `nce compare`'s arms-over-seeds chart, tables and per-seed widths.
#
# Usage: results/reports/make_reports.sh [BUILD_DIR] [DB]
#   BUILD_DIR  where the nce executable was built (default: build)
#   DB         result database to (re)create (default: BUILD_DIR/reports.db)
# Environment: SKIP_SEARCH=1 keeps the search runs already in DB (only sweeps + charts are redone)
# and the campaign's finished jobs (BUILD_DIR/seeds-demo.db; a rerun skips them).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
db="${2:-$build/reports.db}"
nce="$build/apps/nce/nce"
out="$root/results/reports"
hw="$root/hw_configs/mid-32x32-os-2b.cfg"
[ -x "$nce" ] || { echo "no nce executable at $nce (build first)" >&2; exit 1; }

if [ "${SKIP_SEARCH:-0}" != 1 ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  # The search budget: small enough for a laptop's two cores in well under an hour.
  budget=(--model resnet8 --dataset fashion-mnist --bits 2 --hw "$hw" --subset 300
          --test-subset 100 --warmup-epochs 1 --search-epochs 3 --retrain-epochs 3 --seed 1
          --lambda-latency 1 --db "$db")
  "$nce" search --method nce "${budget[@]}" --baseline
  "$nce" search --method tas "${budget[@]}"
  "$nce" search --method wrpn "${budget[@]}" --wrpn-multipliers 0.5,0.75,1.25,1.5
  "$nce" search --method random "${budget[@]}" --random-samples 3
else
  sqlite3 "$db" "DELETE FROM candidates WHERE run_id IN (SELECT id FROM runs WHERE method = 'sweep');
                 DELETE FROM runs WHERE method = 'sweep';" 2>/dev/null || true
fi

"$nce" sweep --sweep "$root/hw_configs/sweeps/array-shape-resnet20.cfg" --db "$db" --quiet
"$nce" sweep --sweep "$root/hw_configs/sweeps/precision-bandwidth.cfg" --db "$db" --quiet

# Accuracy against MACs and against cycles, one series per method (search results: phase final).
"$nce" compare --db "$db" --x macs --phase final --dataset fashion-mnist \
  --title "ResNet-8, Fashion-MNIST, W2A2: top-1 vs MACs" \
  --out "$out/accuracy-vs-macs.svg" --md "$out/accuracy-vs-macs.md"
"$nce" compare --db "$db" --x latency --phase final --dataset fashion-mnist \
  --title "ResNet-8, Fashion-MNIST, W2A2: top-1 vs cycles on mid-32x32-os-2b" \
  --out "$out/accuracy-vs-latency.svg" --md "$out/accuracy-vs-latency.md"
# Fig. 5: channels per layer before and after NCE.
nce_run=$("$nce" db query --db "$db" --csv \
  "SELECT max(run_id) AS id FROM v_runs WHERE method = 'nce' AND status = 'finished'" | tail -1 | tr -d '\r')
"$nce" compare --db "$db" --widths-chart --run "$nce_run" \
  --out "$out/nce-widths.svg" --md "$out/nce-widths.md"
# The array-shape sweep: cycles against energy, the Pareto front of (hw, network) pairs.
shape_run=$("$nce" db query --db "$db" --csv \
  "SELECT max(run_id) FROM v_runs WHERE method = 'sweep' AND config LIKE '%array-shape-resnet20%'" | tail -1 | tr -d '\r')
"$nce" compare --db "$db" --x latency --y energy --run "$shape_run" --points \
  --title "ResNet-20 variants on 48 array shapes/dataflows: energy vs cycles" \
  --out "$out/sweep-array-shape.svg" --md "$out/sweep-array-shape.md"
{
  echo "## Array shape sweep: the 10 fastest (hw config, network) pairs"
  echo
  "$nce" db query --db "$db" --md \
    "SELECT hw, method, macs, latency_cycles, round(energy_pj / 1e6, 2) AS energy_uj, widths
     FROM v_candidates WHERE run_id = $shape_run AND phase = 'sweep'
     ORDER BY latency_cycles LIMIT 10"
  echo
  echo "## Precision x DRAM bandwidth on the 32x32 OS array, ResNet-20 (published widths)"
  echo
  "$nce" db query --db "$db" --md \
    "SELECT bits, hw, latency_cycles, round(energy_pj / 1e6, 2) AS energy_uj
     FROM v_candidates WHERE phase = 'sweep' AND hw LIKE '%dram_bytes_per_cycle=%'
       AND model = 'resnet20' AND method = 'original'
     ORDER BY bits, latency_cycles"
} > "$out/sweep-tables.md"
# A campaign over seeds: each arm one point at its seeds' mean +-1 sd, Welch's t against the
# original and TAS; and each NCE seed's widths side by side.
seeds_db="$build/seeds-demo.db"
if [ "${SKIP_SEARCH:-0}" != 1 ]; then
  rm -rf "$seeds_db" "$seeds_db-wal" "$seeds_db-shm" "$seeds_db.jobs"
fi
"$nce" campaign --plan "$root/results/campaigns/fashion-mnist-resnet8-seeds-demo.cfg" \
  --db "$seeds_db" --quiet
"$nce" compare --db "$seeds_db" --x macs \
  --title "ResNet-8, Fashion-MNIST, W2A2: arms over seeds, top-1 vs MACs (mean +-1 sd)" \
  --out "$out/arms-over-seeds.svg" --md "$out/arms-over-seeds.md" \
  --seeds-csv "$out/arms-over-seeds.csv"
"$nce" compare --db "$seeds_db" --widths-arm nce \
  --out "$out/nce-widths-seeds.svg" --md "$out/nce-widths-seeds.md"
echo "reports written to $out"
