#!/usr/bin/env bash
# Regenerates the SCALE-Sim v2 reference reports that tests/sim/scalesim_oracle_test.cpp compares
# nce's compatibility mode against, by running SCALE-Sim itself on every committed case.
#
# Usage: bench/scalesim_oracle.sh SCALESIM_CHECKOUT [-j N] [CASE ...]
#   SCALESIM_CHECKOUT  a local copy of github.com/scalesim-project/scale-sim-v2 (its scalesim/
#                      package is run with PYTHONPATH; nothing of it is copied into this repo)
#   -j N               run N cases at once (default 1)
#   CASE ...           only these case directories (default: every case)
#
# A case is a directory tests/data/sim/scalesim/<case>/ holding SCALE-Sim's own inputs:
#   scalesim.cfg       its config (run_name = the case name)
#   topology.csv       a conv topology, or gemm.csv: a GEMM-mode (Layer, M, N, K,) topology
# The script runs `python3 -m scalesim.scale -c scalesim.cfg -t <topology> -p <tmp> [-i gemm]`
# and copies COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv into the
# case directory. SCALE-Sim needs
# numpy, pandas, tqdm and absl (Debian: python3-numpy python3-pandas python3-tqdm python3-absl).
# The reports record the SCALE-Sim commit and the Python version in scalesim_version.txt: float
# figures depend on Python's sum() (3.12 changed it to compensated summation).
set -euo pipefail

usage() { sed -n '5,10p' "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
ref=$(cd "$1" && pwd) || usage
shift
jobs=1
cases=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -j) jobs="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) cases+=("$1"); shift ;;
  esac
done
[[ -f "$ref/scalesim/scale.py" ]] || { echo "error: $ref is not a SCALE-Sim v2 checkout (no scalesim/scale.py)" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/tests/data/sim/scalesim"
python=${PYTHON:-/usr/bin/python3}
"$python" -c 'import numpy, pandas, tqdm, absl' 2>/dev/null ||
  { echo "error: $python lacks numpy/pandas/tqdm/absl (apt-get install python3-numpy python3-pandas python3-tqdm python3-absl)" >&2; exit 2; }

if [[ ${#cases[@]} -eq 0 ]]; then
  for d in "$data"/*/; do cases+=("$(basename "$d")"); done
fi

commit=$(git -C "$ref" rev-parse HEAD 2>/dev/null || echo unknown)
pyver=$("$python" -c 'import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)')

run_case() {
  local c="$1" dir="$data/$1" tmp topo mode=()
  [[ -f "$dir/scalesim.cfg" ]] || { echo "error: $dir/scalesim.cfg missing" >&2; return 1; }
  if [[ -f "$dir/gemm.csv" ]]; then topo="$dir/gemm.csv"; mode=(-i gemm); else topo="$dir/topology.csv"; fi
  local run_name
  run_name=$(sed -n 's/^[[:space:]]*run_name[[:space:]]*[=:][[:space:]]*//p' "$dir/scalesim.cfg" | tr -d '\r' | head -1)
  tmp=$(mktemp -d)
  local t0=$SECONDS
  if ! (cd "$tmp" && PYTHONPATH="$ref" "$python" -m scalesim.scale -c "$dir/scalesim.cfg" -t "$topo" \
          -p "$tmp/out" "${mode[@]}" > "$tmp/log.txt" 2>&1); then
    echo "FAILED $c (SCALE-Sim exited non-zero; see $tmp/log.txt)" >&2
    return 1
  fi
  for r in COMPUTE_REPORT BANDWIDTH_REPORT DETAILED_ACCESS_REPORT; do
    cp "$tmp/out/$run_name/$r.csv" "$dir/$r.csv"
  done
  printf 'scale-sim-v2 %s\npython %s\n' "$commit" "$pyver" > "$dir/scalesim_version.txt"
  rm -rf "$tmp"
  echo "done $c ($((SECONDS - t0)) s)"
}
export -f run_case
export data ref python commit pyver

printf '%s\n' "${cases[@]}" | xargs -P "$jobs" -I{} bash -c 'run_case "$@"' _ {}
