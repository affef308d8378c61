// libFuzzer target: the sweep file parser (sweep/sweep.h), which also expands the grid and
// builds every network, and the fast cost of the first and the last pair of what it accepts.
// `base =` resolves against the repository's hw_configs/sweeps/ (so the committed sweeps, which
// name ../mid-32x32-os-2b.cfg, are valid seeds); there is no database, so `candidates =` lines
// are errors. Invariants checked on every input:
//   * bad input is std::invalid_argument (never another exception, a crash, UB or a huge grid);
//   * an accepted sweep has networks and exactly the product of its value lists as grid points,
//     at most kMaxSweepPoints of them, each a valid hw config named after the base;
//   * the fast cost of a pair is feasible with non-negative finite numbers, or infeasible.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "nce/sweep/sweep.h"

namespace {

void check_pair(const nce::sweep::SweepSpec& spec, std::size_t point, std::size_t network) {
  nce::sim::LayerCostService costs(spec.points[point].hw);
  const nce::sweep::SweepEvaluation ev = nce::sweep::evaluate_pair(spec, point, network, costs);
  if (ev.pair != point * spec.networks.size() + network) __builtin_trap();
  if (ev.macs <= 0 || ev.params <= 0) __builtin_trap();
  if (ev.feasible && (ev.cycles <= 0 || ev.stall_cycles < 0 ||
                      !(std::isfinite(ev.energy_pj) && ev.energy_pj >= 0))) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nce::sweep::SweepSpec spec;
  try {
    spec =
        nce::sweep::parse_sweep(text, "fuzz.cfg", NCE_SOURCE_DIR "/hw_configs/sweeps", nullptr);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (spec.networks.empty() || spec.grid.empty()) __builtin_trap();
  std::size_t product = 1;
  for (const auto& [key, values] : spec.grid) {
    if (values.empty()) __builtin_trap();
    product *= values.size();
  }
  if (spec.points.size() != product || product > nce::sweep::kMaxSweepPoints) __builtin_trap();
  for (const auto& p : spec.points) {
    if (p.overrides.size() != spec.grid.size()) __builtin_trap();
    if (p.name.rfind(spec.base.name + "{", 0) != 0 || p.hw.name != p.name) __builtin_trap();
  }
  check_pair(spec, 0, 0);
  check_pair(spec, spec.points.size() - 1, spec.networks.size() - 1);
  return 0;
}
