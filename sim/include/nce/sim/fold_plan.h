// How a GEMM layer maps onto the R x C array: dataflow dimensions, folds (tiles), their order,
// the words each fold must bring from DRAM, and the output groups. Pure bookkeeping, no timing:
// the fast path (layer_cost.h) and the SystemC engine (nce_sim) both build on it.
//
// GEMM (docs/hardware.md §2, conv_geometry.h): A = ifmap operand matrix N x K (im2col rows, one
// per output pixel), W = filter matrix K x M, O = A * W (N x M). The dataflow maps it onto the
// array as array_mapping.h says (the same mapping the SCALE-Sim reproduction uses): Sr x Sc is the
// spatial extent, folded into ceil(Sr/R) x ceil(Sc/C) tiles, T streams through time.
//
// Chunks of the streamed dimension: when one fold's streamed operand tile (OS: ifmap r x T and
// filter T x c; WS: ifmap T x r and psums T x c; IS: filter r x T and psums T x c, r/c the used
// rows/cols, ifmap/filter tiles counted as im2col words of `bits`, psums of acc_bits) does not fit
// its SRAM working half, T is split into nt = ceil(T / Tmax) chunks of Tc = ceil(T / nt) (the last
// one shorter), Tmax the longest chunk that fits every buffer. Each chunk is a fold of its own
// (its own fill and drain). Order and output groups (folds accumulating into one psum tile):
//   OS:    fc outer, fr, chunk inner; group = (fc, fr), its folds are its K chunks
//   WS/IS: fc outer, chunk, fr inner; group = (fc, chunk), its folds are the row folds
// A fold that is not the first of its group reads its group's psums back from the ofmap SRAM; a
// group's outputs go to DRAM once, after its last fold. Without chunks (nt = 1) this is the plain
// column-fold-outer, row-fold-inner order.
//
// DRAM loads with reuse (operand_reuse.h). The SRAMs hold real operand words: the filter tile
// (k-range x m-range of W, no overlap) and the ifmap footprint of the tile (the distinct ifmap
// words its im2col block reads). A fold fetches from DRAM only the words of its tiles that the
// buffer does not hold:
//   * resident operand (all of it fits the working half: ifmap = IfmapReuse::layer_words() words,
//     filter = K*M words): nothing is evicted, every word is fetched once per layer, by the first
//     fold that needs it;
//   * otherwise the buffer holds the previous fold's tile: a fold fetches the words of its tile
//     that are not in the previous fold's tile (the overlapping windows inside a tile, and the
//     overlap with the previous tile, are not fetched twice).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nce/sim/array_mapping.h"
#include "nce/sim/conv_geometry.h"
#include "nce/sim/hw_config.h"

namespace nce::sim {

struct FoldPlan {
  Dataflow dataflow = Dataflow::kOS;
  int rows = 0;  // R
  int cols = 0;  // C
  ConvGeometry geo;
  std::int64_t K = 0, N = 0, M = 0;
  std::int64_t Sr = 0, Sc = 0, T = 0;
  std::int64_t row_folds = 0, col_folds = 0;
  std::int64_t t_chunk = 0;            // Tc (T when not chunked; 0 when not even one step fits)
  std::int64_t t_chunks = 1;           // nt
  std::int64_t ifmap_layer_words = 0;  // distinct ifmap words of the layer
  bool ifmap_resident = false;
  bool filter_resident = false;

  std::int64_t num_folds() const { return row_folds * col_folds * t_chunks; }
  std::int64_t num_groups() const {
    return dataflow == Dataflow::kOS ? row_folds * col_folds : col_folds * t_chunks;
  }
  // Cycles of one fold streaming t_used steps: sim::fold_cycles (array_mapping.h) on this array.
  std::int64_t fold_cycles(std::int64_t t_used) const;
};

struct Fold {
  std::int64_t index = 0;               // execution order
  std::int64_t fr = 0, fc = 0, ft = 0;  // row fold, column fold, chunk
  std::int64_t r_used = 0, c_used = 0;  // occupied rows/cols of the array
  std::int64_t t_used = 0;              // streamed steps of this fold (its chunk's length)
  std::int64_t cycles = 0;              // plan.fold_cycles(t_used)
  // The GEMM block of the fold: pixels [n0, n1), reduction [k0, k1), filters [m0, m1).
  std::int64_t n0 = 0, n1 = 0, k0 = 0, k1 = 0, m0 = 0, m1 = 0;
  std::int64_t group = 0;
  bool first_of_group = false;
  bool last_of_group = false;
  std::int64_t ifmap_load_words = 0;    // words fetched from DRAM into the ifmap SRAM for this fold
  std::int64_t filter_load_words = 0;   // same for the filter SRAM
  std::int64_t macs = 0;                // r_used * c_used * t_used
  std::int64_t ifmap_reads = 0;         // ifmap SRAM -> array words (im2col operand)
  std::int64_t filter_reads = 0;        // filter SRAM -> array words
  std::int64_t psum_writes = 0;         // array -> ofmap SRAM psums
  std::int64_t psum_reads = 0;          // ofmap SRAM psums read back to accumulate (not first)
  std::int64_t group_output_words = 0;  // outputs the group writes to DRAM (set on last_of_group)
};

FoldPlan make_fold_plan(const HwConfig& hw, const ConvGeometry& geo);
// A plain GEMM: make_fold_plan(hw, gemm_geometry(K, N, M)).
FoldPlan make_fold_plan(const HwConfig& hw, std::int64_t K, std::int64_t N, std::int64_t M);
// Every fold in execution order, DRAM loads included (they depend on the folds before).
std::vector<Fold> plan_folds(const FoldPlan& plan);

// Whether a fold fits the buffers (only fails when not even a one-step chunk fits). Returns the
// config key and a message ("memory.ifmap_sram_kb", "... needs X bits, has Y"), nothing when
// all fit.
struct SramShortfall {
  std::string key;
  std::string message;
};
std::optional<SramShortfall> check_sram_fit(const HwConfig& hw, const FoldPlan& plan);
// "<config>: layer <name>: key '<key>' = '<value>': <message>"
std::string describe_shortfall(const HwConfig& hw, const std::string& layer_name,
                               const SramShortfall& shortfall);

// Cycles the DRAM channel needs for `bits` at hw.dram_bytes_per_cycle: ceil(bits / (8 * B)),
// 0 for 0 bits; saturates at kInfeasibleCycles (layer_cost.h), which finalize_cost reports as
// CostStatus::kOverflow.
std::int64_t dram_transfer_cycles(const HwConfig& hw, std::int64_t bits);

}  // namespace nce::sim
