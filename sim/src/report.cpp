#include "nce/sim/report.h"

#include <cstdio>
#include <stdexcept>

#include "nce/common/json.h"

namespace nce::sim {

void NetworkReport::add(const GemmLayer& gemm, const LayerCost& cost) {
  layers.push_back({gemm, cost});
  total_cycles += cost.cycles;
  stall_cycles += cost.stall_cycles;
  energy_pj += cost.energy_pj;
  energy.mac_pj += cost.energy.mac_pj;
  energy.sram_pj += cost.energy.sram_pj;
  energy.dram_pj += cost.energy.dram_pj;
  energy.idle_pj += cost.energy.idle_pj;
}

std::vector<GemmLayer> gemm_layers(const models::Network& net) {
  std::vector<GemmLayer> out;
  out.reserve(net.layers.size());
  for (const auto& l : net.layers) out.push_back(to_gemm_layer(l));
  return out;
}

NetworkReport fast_network_report(const HwConfig& hw, const std::vector<GemmLayer>& layers) {
  NetworkReport r;
  r.hw = hw.name;
  r.engine = "fast";
  r.clock_mhz = hw.clock_mhz;
  for (const auto& g : layers) {
    LayerCost c = fast_layer_cost(hw, g);
    if (!c.ok()) throw std::invalid_argument(c.status_detail);
    r.add(g, c);
  }
  return r;
}

void write_report_json(std::ostream& out, const NetworkReport& report) {
  common::JsonWriter j(out);
  j.begin_object();
  j.members("hw", report.hw, "engine", report.engine, "total_cycles", report.total_cycles,
            "stall_cycles", report.stall_cycles, "energy_pj", report.energy_pj, "clock_mhz",
            report.clock_mhz, "latency_us",
            report.clock_mhz > 0 ? report.total_cycles / report.clock_mhz : 0.0);
  j.key("layers").begin_array();
  for (const auto& l : report.layers) {
    const auto& c = l.cost;
    j.begin_object();
    j.members("name", l.gemm.name, "cycles", c.cycles, "stall_cycles", c.stall_cycles,
              "utilization", c.utilization, "energy_pj", c.energy_pj, "compute_cycles",
              c.compute_cycles, "passes", c.passes, "macs", c.events.macs, "dram_bytes",
              c.events.dram_bytes());
    j.key("energy_breakdown_pj").begin_object();
    j.members("mac", c.energy.mac_pj, "sram", c.energy.sram_pj, "dram", c.energy.dram_pj, "idle",
              c.energy.idle_pj);
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  out << "\n";
}

void write_report_table(std::ostream& out, const NetworkReport& report) {
  char line[512];
  out << "hw: " << report.hw << "   engine: " << report.engine << "\n";
  std::snprintf(line, sizeof line, "%-16s %6s %12s %10s %6s %12s %7s %7s %7s %7s\n", "layer",
                "passes", "cycles", "stalls", "util%", "energy_nJ", "mac%", "sram%", "dram%",
                "idle%");
  out << line;
  auto pct = [](double part, double total) { return total > 0 ? 100.0 * part / total : 0.0; };
  for (const auto& l : report.layers) {
    const auto& c = l.cost;
    const double e = c.energy_pj;
    std::snprintf(line, sizeof line,
                  "%-16s %6d %12lld %10lld %6.1f %12.3f %7.1f %7.1f %7.1f %7.1f\n",
                  l.gemm.name.c_str(), c.passes, static_cast<long long>(c.cycles),
                  static_cast<long long>(c.stall_cycles), 100.0 * c.utilization, e / 1000.0,
                  pct(c.energy.mac_pj, e), pct(c.energy.sram_pj, e), pct(c.energy.dram_pj, e),
                  pct(c.energy.idle_pj, e));
    out << line;
  }
  const double e = report.energy_pj;
  std::snprintf(line, sizeof line, "%-16s %6s %12lld %10lld %6s %12.3f %7.1f %7.1f %7.1f %7.1f\n",
                "total", "", static_cast<long long>(report.total_cycles),
                static_cast<long long>(report.stall_cycles), "", e / 1000.0,
                pct(report.energy.mac_pj, e), pct(report.energy.sram_pj, e),
                pct(report.energy.dram_pj, e), pct(report.energy.idle_pj, e));
  out << line;
  if (report.clock_mhz > 0) {
    std::snprintf(line, sizeof line, "latency: %.3f us at %.0f MHz\n",
                  report.total_cycles / report.clock_mhz, report.clock_mhz);
    out << line;
  }
}

}  // namespace nce::sim
