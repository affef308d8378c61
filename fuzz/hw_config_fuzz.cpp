// libFuzzer target: the hardware config parser (sim/hw_config.h) and the cost of one layer on
// whatever config it accepts. Invariants checked on every input:
//   * bad input is std::invalid_argument (never another exception, a crash or UB);
//   * an accepted config prints (to_cfg_text) to a text that parses back to the same fingerprint;
//   * the fast cost of a small layer is ok or a status, never a negative or non-finite number.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nce::sim::HwConfig hw;
  try {
    hw = nce::sim::parse_hw_config(text, "fuzz.cfg");
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const nce::sim::HwConfig again = nce::sim::parse_hw_config(hw.to_cfg_text(), "again.cfg");
  if (again.fingerprint() != hw.fingerprint()) __builtin_trap();

  nce::sim::GemmLayer layer;
  layer.name = "fuzz";
  layer.K = 72;  // a 3x3 conv, 8 -> 16 channels, on an 8x8 map
  layer.N = 64;
  layer.M = 16;
  for (bool quantized : {true, false}) {
    layer.quantized = quantized;
    const nce::sim::LayerCost c = nce::sim::fast_layer_cost(hw, layer);
    if (c.cycles < 0 || c.compute_cycles < 0 || c.stall_cycles < 0) __builtin_trap();
    if (c.ok() && !(std::isfinite(c.energy_pj) && c.energy_pj >= 0)) __builtin_trap();
    if (c.ok() && c.cycles >= nce::sim::kInfeasibleCycles) __builtin_trap();
  }
  return 0;
}
