// A whole network's per-layer costs on one hw config, from either engine, and how `nce sim`
// prints it: a text table (cycles, stalls, utilization, energy and where it went) or JSON with the
// keys docs/design.md §4 fixes: {"hw","engine","total_cycles","stall_cycles","energy_pj",
// "layers":[{"name","cycles","stall_cycles","utilization","energy_pj",...}]} (extra keys per
// layer: "compute_cycles", "passes", "macs", "energy_breakdown_pj", "dram_bytes").
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"

namespace nce::sim {

struct LayerReport {
  GemmLayer gemm;
  LayerCost cost;
};

struct NetworkReport {
  std::string hw;      // config name
  std::string engine;  // "fast" or "systemc"
  double clock_mhz = 0;
  std::vector<LayerReport> layers;
  std::int64_t total_cycles = 0;
  std::int64_t stall_cycles = 0;
  double energy_pj = 0;
  EnergyBreakdown energy;

  void add(const GemmLayer& gemm, const LayerCost& cost);  // appends and updates the totals
};

// The GEMM layers of a network in execution order.
std::vector<GemmLayer> gemm_layers(const models::Network& net);

// Fast path over every layer. Throws std::invalid_argument naming the config, the key and the
// layer when a layer does not fit the SRAMs (kSramTooSmall).
NetworkReport fast_network_report(const HwConfig& hw, const std::vector<GemmLayer>& layers);

void write_report_json(std::ostream& out, const NetworkReport& report);
void write_report_table(std::ostream& out, const NetworkReport& report);

}  // namespace nce::sim
