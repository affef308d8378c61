// The cost of one conv/FC layer on the array: cycles (compute + stall), utilization, event counts
// and energy. This header also holds the fast path: the same cycle and event model as the SystemC
// engine (nce_sim), computed fold by fold without moving data. Tests prove them equal.
//
// Cycle model of one pass over a GEMM (K, N, M) (see fold_plan.h for the mapping):
//   folds run back to back, fold f taking Fold::cycles (fold_cycles(t_used)); before fold f may
//   start
//   * the operand words it fetches (Fold::ifmap_load_words + filter_load_words: the words of its
//     tiles the SRAMs do not hold, with reuse, see fold_plan.h) must have arrived from DRAM. One
//     read channel at memory.dram_bytes_per_cycle serves the folds' loads in order, a load of
//     X bits taking ceil(X / (8*B)) cycles; a fold that fetches nothing does not wait. With double
//     buffering the load for fold f may start when fold f-2 has finished (its half of the buffer is
//     free), else only when fold f-1 has finished. Fold 0's operands are prefetched while the
//     previous layer runs (not counted as time, but counted as traffic), as SCALE-Sim does;
//   * its psum buffer half must be free: the outputs of output group g-2 (g-1 when not double
//     buffered) must have been written to DRAM. One write channel at the same bandwidth writes
//     each group's outputs (b-bit requantized activations) after the group's last fold.
//   stall cycles = the cycles the array waits between folds; cycles = compute + stall. The last
//   group's write-back overlaps the next layer and is not counted.
//
// Full-precision layers (Layer::quantized == false: first conv, FC, 1x1 shortcuts) use
// bit-serial decomposition: their operands are 8-bit two's complement (kFullPrecisionBits); each
// is split into S = ceil(8/b) b-bit slices (low slices unsigned, the top slice signed) and the
// array runs S*S passes, one per slice pair, each pass exactly the cost of a quantized pass of the
// same GEMM (cold start, same folds, traffic and events); the output unit shifts each pass's result
// by b*(i+j) and adds it into the layer's output. For b >= 8 there is one pass. Quantized operands:
// activations unsigned b-bit [0, 2^b-1], weights signed b-bit
// [-2^(b-1), 2^(b-1)-1]; accumulators wrap modulo 2^acc_bits (two's complement).
//
// The streamed dimension is split into chunks that fit the SRAMs (fold_plan.h), so a layer only
// fails when not even a one-step chunk fits (the config check of rows x cols tiles prevents
// that); such a layer gets status kSramTooSmall (cycles kInfeasibleCycles, energy +inf).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/conv_geometry.h"
#include "nce/sim/energy.h"
#include "nce/sim/hw_config.h"

namespace nce::sim {

constexpr int kFullPrecisionBits = 8;
constexpr std::int64_t kInfeasibleCycles = 1'000'000'000'000'000;

// Slices per operand of a full-precision layer on a b-bit array: ceil(8/b) (1 for b >= 8).
int full_precision_slices(int bits);
// Passes a layer needs: 1 when quantized, slices^2 when full precision.
int passes_for(const HwConfig& hw, bool quantized);

// What the array runs for one layer.
struct GemmLayer {
  std::string name;
  std::int64_t K = 0;  // k*k*c_in
  std::int64_t N = 0;  // h_out*w_out
  std::int64_t M = 0;  // c_out
  bool quantized = true;
  ConvGeometry geo;  // the conv behind the GEMM (DRAM reuse); empty: gemm_geometry(K, N, M)

  // geo when set (it must match K, N, M), else gemm_geometry(K, N, M).
  ConvGeometry geometry() const;
};

GemmLayer to_gemm_layer(const models::Layer& layer);

// kOverflow: a count of the cost model (cycles, PE-cycles, events) would leave the range it counts
// in (kInfeasibleCycles cycles, int64 events) or the energy is not finite: the config is outside
// what the model represents. Such a layer is reported like an infeasible one (cycles
// kInfeasibleCycles, energy +inf, status_detail says which count) and never as a number.
enum class CostStatus { kOk, kSramTooSmall, kOverflow };

struct LayerCost {
  CostStatus status = CostStatus::kOk;
  std::string status_detail;  // for kSramTooSmall: the config key and the shortfall
  int passes = 1;
  std::int64_t folds = 0;           // per pass
  std::int64_t cycles = 0;          // compute_cycles + stall_cycles (all passes)
  std::int64_t compute_cycles = 0;  // sum of fold cycles
  std::int64_t stall_cycles = 0;    // cycles waiting on DRAM / buffers
  double utilization = 0;           // macs / (rows*cols*cycles)
  double energy_pj = 0;             // energy.total_pj()
  EnergyBreakdown energy;
  EventCounts events;

  bool ok() const { return status == CostStatus::kOk; }
};

// Timing and counts of one pass, before energy (filled by either engine).
struct PassResult {
  std::int64_t compute_cycles = 0;
  std::int64_t stall_cycles = 0;
  EventCounts events;  // idle_pe_cycles left 0; finalize_cost fills it
};

// Builds a LayerCost from `passes` identical-shape pass results (summed): fills idle PE-cycles,
// utilization and energy.
LayerCost finalize_cost(const HwConfig& hw, const std::vector<PassResult>& passes,
                        std::int64_t folds);
LayerCost infeasible_cost(const std::string& detail, int passes);

struct FoldPlan;  // fold_plan.h

// Fast path: one pass by the fold recurrence over `plan` (make_fold_plan(hw, geometry)).
PassResult fast_pass(const HwConfig& hw, const FoldPlan& plan);
// Fast path for a whole layer (all passes): one fold plan, one pass computed, its result counted
// once a pass.
LayerCost fast_layer_cost(const HwConfig& hw, const GemmLayer& layer);
LayerCost fast_layer_cost(const HwConfig& hw, const models::Layer& layer);

}  // namespace nce::sim
