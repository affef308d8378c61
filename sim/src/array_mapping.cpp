#include "nce/sim/array_mapping.h"

namespace nce::sim {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

ArrayMapping map_gemm_to_array(Dataflow dataflow, std::int64_t K, std::int64_t N, std::int64_t M,
                               std::int64_t rows, std::int64_t cols) {
  ArrayMapping m;
  switch (dataflow) {
    case Dataflow::kOS:
      m.Sr = N, m.Sc = M, m.T = K;
      break;
    case Dataflow::kWS:
      m.Sr = K, m.Sc = M, m.T = N;
      break;
    case Dataflow::kIS:
      m.Sr = K, m.Sc = N, m.T = M;
      break;
  }
  m.row_folds = ceil_div(m.Sr, rows);
  m.col_folds = ceil_div(m.Sc, cols);
  return m;
}

std::int64_t fold_cycles(Dataflow dataflow, std::int64_t rows, std::int64_t cols, std::int64_t t) {
  if (dataflow == Dataflow::kOS) return t + rows + cols - 2;
  return 2 * rows + cols + t - 2;
}

}  // namespace nce::sim
