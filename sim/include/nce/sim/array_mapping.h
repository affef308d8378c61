// How a dataflow lays a GEMM (K, N, M) onto an R x C array, before any tiling detail: the spatial
// extent Sr x Sc, the streamed dimension T, the row and column folds, and the cycles of one fold.
// One definition for both cost models: the fast path's fold plan (fold_plan.h, which adds chunks
// of T, reuse and DRAM loads) and the SCALE-Sim v2 reproduction (scalesim_compat.h, which walks
// the same folds line by line).
//
// GEMM (conv_geometry.h): A = N x K im2col operand, W = K x M filters, O = N x M. Dataflows, as in
// SCALE-Sim v2:
//   OS: rows <- N (pixels),    cols <- M (filters), T = K streams through time
//   WS: rows <- K (reduction), cols <- M (filters), T = N streams  (weights stay)
//   IS: rows <- K (reduction), cols <- N (pixels),  T = M streams  (inputs stay)
// Folds: ceil(Sr / R) x ceil(Sc / C).
#pragma once

#include <cstdint>

#include "nce/sim/hw_config.h"

namespace nce::sim {

// ceil(a / b) for a >= 0, b >= 1 (computed as (a + b - 1) / b).
std::int64_t ceil_div(std::int64_t a, std::int64_t b);

struct ArrayMapping {
  std::int64_t Sr = 0, Sc = 0, T = 0;  // spatial rows, spatial cols, streamed steps
  std::int64_t row_folds = 0;          // ceil(Sr / R)
  std::int64_t col_folds = 0;          // ceil(Sc / C)
};

// K, N, M >= 1; rows, cols >= 1.
ArrayMapping map_gemm_to_array(Dataflow dataflow, std::int64_t K, std::int64_t N, std::int64_t M,
                               std::int64_t rows, std::int64_t cols);

// Cycles of one fold streaming t steps on an R x C array, fill and drain skew included, no stalls
// (SCALE-Sim v2's demand lines of a fold):
//   OS: t + R + C - 2        (operands skew in; psums move to shadow registers at the end)
//   WS/IS: 2R + C + t - 2    (R cycles to shift the stationary tile in, then t vectors stream
//                             with skew; psums leave the bottom row)
std::int64_t fold_cycles(Dataflow dataflow, std::int64_t rows, std::int64_t cols, std::int64_t t);

}  // namespace nce::sim
