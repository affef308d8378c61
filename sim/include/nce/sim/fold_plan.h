// How a GEMM layer maps onto the R x C array: dataflow dimensions, folds (tiles), their order,
// the words each fold must bring from DRAM, and the output groups. Pure bookkeeping, no timing:
// the fast path (layer_cost.h) and the SystemC engine (nce_sim) both build on it.
//
// GEMM (HW-SPEC.md): A = ifmap operand matrix N x K (im2col rows, one per output pixel),
// W = filter matrix K x M, O = A * W (N x M). Dataflows, as in SCALE-Sim v2:
//   OS: array rows <- N (pixels),  cols <- M (filters), T = K streams through time
//   WS: array rows <- K (reduction), cols <- M (filters), T = N streams  (weights stay)
//   IS: array rows <- K (reduction), cols <- N (pixels),  T = M streams  (inputs stay)
// Sr x Sc is the spatial extent, folded into ceil(Sr/R) x ceil(Sc/C) tiles executed column-fold
// outer, row-fold inner (fc outer, fr inner). Every fold takes the same number of cycles (the
// array's fixed schedule; see fold_cycles()).
//
// Reuse and DRAM loads (in words of `bits`): an operand tile already in its SRAM is not fetched
// again. A tile that depends only on fr (OS ifmap, WS ifmap, IS filter) is refetched whenever fr
// changes, unless the whole operand matrix fits in the SRAM's working half ("resident"), in which
// case each tile is fetched once. A tile that depends only on fc is fetched when fc changes; a tile
// that depends on both is fetched every fold.
// Output groups: folds that accumulate into the same psum tile in the ofmap SRAM (OS: each fold;
// WS/IS: all row folds of one column fold). A group's outputs go to DRAM once, after its last fold.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nce/sim/hw_config.h"

namespace nce::sim {

struct FoldPlan {
  Dataflow dataflow = Dataflow::kOS;
  int rows = 0;  // R
  int cols = 0;  // C
  std::int64_t K = 0, N = 0, M = 0;
  std::int64_t Sr = 0, Sc = 0, T = 0;
  std::int64_t row_folds = 0, col_folds = 0;
  bool ifmap_resident = false;
  bool filter_resident = false;

  std::int64_t num_folds() const { return row_folds * col_folds; }
  std::int64_t num_groups() const { return dataflow == Dataflow::kOS ? num_folds() : col_folds; }
  // Cycles of one fold, fill and drain skew included, no stalls (same counts as SCALE-Sim v2):
  //   OS: T + R + C - 2          (operands skew in; psums move to shadow registers at the end)
  //   WS/IS: 2R + C + T - 2      (R cycles to shift the stationary tile in, then T vectors
  //                               stream with skew; psums leave the bottom row)
  std::int64_t fold_cycles() const;
};

struct Fold {
  std::int64_t index = 0;  // execution order
  std::int64_t fr = 0, fc = 0;
  std::int64_t r_used = 0, c_used = 0;  // occupied rows/cols of the array
  std::int64_t group = 0;
  bool first_of_group = false;
  bool last_of_group = false;
  std::int64_t ifmap_load_words = 0;    // words fetched from DRAM into the ifmap SRAM for this fold
  std::int64_t filter_load_words = 0;   // same for the filter SRAM
  std::int64_t macs = 0;                // r_used * c_used * T
  std::int64_t ifmap_reads = 0;         // ifmap SRAM -> array words
  std::int64_t filter_reads = 0;        // filter SRAM -> array words
  std::int64_t psum_writes = 0;         // array -> ofmap SRAM psums
  std::int64_t psum_reads = 0;          // ofmap SRAM psums read back to accumulate (WS/IS fr > 0)
  std::int64_t group_output_words = 0;  // outputs the group writes to DRAM (set on last_of_group)
};

FoldPlan make_fold_plan(const HwConfig& hw, std::int64_t K, std::int64_t N, std::int64_t M);
Fold fold_at(const FoldPlan& plan, std::int64_t index);

// The largest tile of each buffer vs its working half. Returns the config key and a message when a
// fold does not fit ("memory.ifmap_sram_kb", "... needs X bits, has Y"), nothing when all fit.
struct SramShortfall {
  std::string key;
  std::string message;
};
std::optional<SramShortfall> check_sram_fit(const HwConfig& hw, const FoldPlan& plan);
// "<config>: layer <name>: key '<key>' = '<value>': <message>"
std::string describe_shortfall(const HwConfig& hw, const std::string& layer_name,
                               const SramShortfall& shortfall);

// Cycles the DRAM channel needs for `bits` at hw.dram_bytes_per_cycle: ceil(bits / (8 * B)),
// 0 for 0 bits.
std::int64_t dram_transfer_cycles(const HwConfig& hw, std::int64_t bits);

}  // namespace nce::sim
