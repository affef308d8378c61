#include "nce/sim/layer_cost.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "nce/sim/fold_plan.h"

namespace nce::sim {

int full_precision_slices(int bits) {
  return bits >= kFullPrecisionBits ? 1 : (kFullPrecisionBits + bits - 1) / bits;
}

int passes_for(const HwConfig& hw, bool quantized) {
  if (quantized) return 1;
  const int s = full_precision_slices(hw.bits);
  return s * s;
}

ConvGeometry GemmLayer::geometry() const {
  if (geo.empty()) return gemm_geometry(K, N, M);
  if (geo.K() != K || geo.N() != N || geo.M() != M) {
    throw std::invalid_argument("layer " + name + ": GEMM K=" + std::to_string(K) +
                                " N=" + std::to_string(N) + " M=" + std::to_string(M) +
                                " does not match its conv geometry");
  }
  return geo;
}

GemmLayer to_gemm_layer(const models::Layer& layer) {
  GemmLayer g;
  g.geo = geometry_of(layer);
  g.name = layer.name;
  const auto shape = layer.gemm();
  g.K = shape.K;
  g.N = shape.N;
  g.M = shape.M;
  g.quantized = layer.quantized;
  return g;
}

namespace {

// a + b into *sum, saturating at kInfeasibleCycles; false when it saturated or a term is negative.
bool add_counted(std::int64_t a, std::int64_t b, std::int64_t* sum) {
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, sum) || *sum >= kInfeasibleCycles) {
    *sum = kInfeasibleCycles;
    return false;
  }
  return true;
}

// Checked event sums: false when one leaves int64 or is negative.
bool add_events(EventCounts& acc, const EventCounts& e) {
  std::int64_t* a[] = {&acc.macs,
                       &acc.idle_pe_cycles,
                       &acc.ifmap_sram_reads,
                       &acc.ifmap_sram_writes,
                       &acc.filter_sram_reads,
                       &acc.filter_sram_writes,
                       &acc.ofmap_sram_reads,
                       &acc.ofmap_sram_writes,
                       &acc.dram_ifmap_read_bits,
                       &acc.dram_filter_read_bits,
                       &acc.dram_ofmap_write_bits};
  const std::int64_t b[] = {e.macs,
                            e.idle_pe_cycles,
                            e.ifmap_sram_reads,
                            e.ifmap_sram_writes,
                            e.filter_sram_reads,
                            e.filter_sram_writes,
                            e.ofmap_sram_reads,
                            e.ofmap_sram_writes,
                            e.dram_ifmap_read_bits,
                            e.dram_filter_read_bits,
                            e.dram_ofmap_write_bits};
  bool ok = true;
  for (std::size_t i = 0; i < sizeof b / sizeof b[0]; ++i) {
    ok = ok && b[i] >= 0 && !__builtin_add_overflow(*a[i], b[i], a[i]);
  }
  return ok;
}

LayerCost overflow_cost(const HwConfig& hw, const std::string& what, int passes) {
  LayerCost c = infeasible_cost(hw.source + ": " + what +
                                    " leaves the range the cost model counts in (the config's "
                                    "sizes, bandwidth or energies are beyond what it models)",
                                passes);
  c.status = CostStatus::kOverflow;
  return c;
}

}  // namespace

LayerCost finalize_cost(const HwConfig& hw, const std::vector<PassResult>& passes,
                        std::int64_t folds) {
  LayerCost c;
  c.passes = static_cast<int>(passes.size());
  c.folds = folds;
  for (const auto& p : passes) {
    if (!add_counted(c.compute_cycles, p.compute_cycles, &c.compute_cycles) ||
        !add_counted(c.stall_cycles, p.stall_cycles, &c.stall_cycles)) {
      return overflow_cost(hw, "the layer's cycle count", c.passes);
    }
    if (!add_events(c.events, p.events)) return overflow_cost(hw, "an event count", c.passes);
  }
  if (!add_counted(c.compute_cycles, c.stall_cycles, &c.cycles)) {
    return overflow_cost(hw, "the layer's cycle count", c.passes);
  }
  std::int64_t pe_cycles = 0;
  if (__builtin_mul_overflow(static_cast<std::int64_t>(hw.rows) * hw.cols, c.cycles, &pe_cycles)) {
    return overflow_cost(hw, "the layer's PE-cycle count", c.passes);
  }
  c.events.idle_pe_cycles = pe_cycles - c.events.macs;
  c.utilization = pe_cycles > 0 ? static_cast<double>(c.events.macs) / pe_cycles : 0.0;
  c.energy = energy_of(hw, c.events);
  c.energy_pj = c.energy.total_pj();
  if (!std::isfinite(c.energy_pj) || c.energy_pj < 0) {
    return overflow_cost(hw, "the layer's energy", c.passes);
  }
  return c;
}

LayerCost infeasible_cost(const std::string& detail, int passes) {
  LayerCost c;
  c.status = CostStatus::kSramTooSmall;
  c.status_detail = detail;
  c.passes = passes;
  c.cycles = c.compute_cycles = kInfeasibleCycles;
  c.stall_cycles = 0;
  c.energy_pj = std::numeric_limits<double>::infinity();
  return c;
}

PassResult fast_pass(const HwConfig& hw, const FoldPlan& plan) {
  const std::vector<Fold> folds = plan_folds(plan);
  const std::int64_t F = static_cast<std::int64_t>(folds.size());
  PassResult r;
  std::vector<std::int64_t> end(static_cast<std::size_t>(F), 0);
  std::vector<std::int64_t> write_end(static_cast<std::size_t>(plan.num_groups()), 0);
  std::int64_t read_free = 0, write_free = 0, prev_end = 0;
  const std::int64_t lag = hw.double_buffered ? 2 : 1;
  for (std::int64_t i = 0; i < F; ++i) {
    const Fold& f = folds[static_cast<std::size_t>(i)];
    const std::int64_t load_bits = (f.ifmap_load_words + f.filter_load_words) * hw.bits;
    std::int64_t load_end = 0;
    if (i > 0 && load_bits > 0) {
      const std::int64_t buffer_free = i >= lag ? end[static_cast<std::size_t>(i - lag)] : 0;
      add_counted(std::max(read_free, buffer_free), dram_transfer_cycles(hw, load_bits), &load_end);
      read_free = load_end;
    }
    const std::int64_t ofmap_free =
        f.group >= lag ? write_end[static_cast<std::size_t>(f.group - lag)] : 0;
    const std::int64_t start = std::max({prev_end, load_end, ofmap_free});
    add_counted(r.stall_cycles, start - prev_end, &r.stall_cycles);
    add_counted(start, f.cycles, &end[static_cast<std::size_t>(i)]);
    prev_end = end[static_cast<std::size_t>(i)];
    add_counted(r.compute_cycles, f.cycles, &r.compute_cycles);

    auto& e = r.events;
    e.macs += f.macs;
    e.ifmap_sram_reads += f.ifmap_reads;
    e.filter_sram_reads += f.filter_reads;
    e.ifmap_sram_writes += f.ifmap_load_words;
    e.filter_sram_writes += f.filter_load_words;
    e.dram_ifmap_read_bits += f.ifmap_load_words * hw.bits;
    e.dram_filter_read_bits += f.filter_load_words * hw.bits;
    e.ofmap_sram_writes += f.psum_writes;
    e.ofmap_sram_reads += f.psum_reads;
    if (f.last_of_group) {
      const std::int64_t out_bits = f.group_output_words * hw.bits;
      e.ofmap_sram_reads += f.group_output_words;
      e.dram_ofmap_write_bits += out_bits;
      const std::int64_t ws = std::max(write_free, end[static_cast<std::size_t>(i)]);
      add_counted(ws, dram_transfer_cycles(hw, out_bits),
                  &write_end[static_cast<std::size_t>(f.group)]);
      write_free = write_end[static_cast<std::size_t>(f.group)];
    }
  }
  return r;
}

LayerCost fast_layer_cost(const HwConfig& hw, const GemmLayer& layer) {
  const int passes = passes_for(hw, layer.quantized);
  const FoldPlan plan = make_fold_plan(hw, layer.geometry());
  if (auto shortfall = check_sram_fit(hw, plan)) {
    return infeasible_cost(describe_shortfall(hw, layer.name, *shortfall), passes);
  }
  const PassResult one = fast_pass(hw, plan);
  return finalize_cost(hw, std::vector<PassResult>(static_cast<std::size_t>(passes), one),
                       plan.num_folds());
}

LayerCost fast_layer_cost(const HwConfig& hw, const models::Layer& layer) {
  return fast_layer_cost(hw, to_gemm_layer(layer));
}

}  // namespace nce::sim
