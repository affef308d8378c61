#include "scalesim_mapping.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <vector>

#include "nce/common/checked.h"

namespace nce::sim::scalesim_detail {

std::int64_t CheckedProducts::operator()(std::int64_t a, std::int64_t b, const char* what) const {
  const std::optional<std::int64_t> r = common::checked_mul(a, b);
  if (!r) {
    throw std::invalid_argument(
        cfg_.source + ": layer '" + layer_.name + "' on a " + std::to_string(cfg_.array_rows) +
        "x" + std::to_string(cfg_.array_cols) + " array: " + what + " (" + std::to_string(a) +
        " x " + std::to_string(b) + ") overflows 64 bits");
  }
  return *r;
}

Mapping map_layer(const ScaleSimConfig& cfg, const ScaleSimLayer& layer,
                  const CheckedProducts& mul) {
  Mapping m;
  m.df = cfg.dataflow;
  m.R = cfg.array_rows;
  m.C = cfg.array_cols;
  const std::int64_t K = layer.window(), N = layer.ofmap_pixels(), M = layer.num_filters;
  static_cast<ArrayMapping&>(m) = map_gemm_to_array(m.df, K, N, M, m.R, m.C);
  m.folds = mul(m.row_folds, m.col_folds, "the fold count");
  m.fold_lines = fold_cycles(m.df, m.R, m.C, m.T);  // T <= 2^62, R, C <= 4096
  m.H = layer.ifmap_h;
  m.W = layer.ifmap_w;
  m.Fw = layer.filter_w;
  m.Ch = layer.channels;
  m.Wo = layer.ofmap_w();
  m.sh = layer.stride_h;
  m.sw = layer.stride_w;
  m.K = K;
  return m;
}

// The first and last line (within a fold) that can hold an element of the operand.
void operand_line_range(const Mapping& m, int operand, std::int64_t fc, std::int64_t fr,
                        std::int64_t& first, std::int64_t& last) {
  const std::int64_t ru = m.r_used(fr), cu = m.c_used(fc);
  const bool flipped =
      (m.df == Dataflow::kWS && operand == 1) || (m.df == Dataflow::kIS && operand == 0);
  if (flipped) {
    first = m.R - ru;
    last = m.R - 1;
    return;
  }
  const std::int64_t P = m.df == Dataflow::kOS ? 0 : m.R;
  const std::int64_t ncols = (m.df == Dataflow::kOS && operand == 1) ? cu : ru;
  first = P;
  last = P + m.T - 1 + ncols - 1;
}

// Distinct rows (or columns) of the padded ifmap that some window touches.
std::int64_t covered_extent(std::int64_t size, std::int64_t filter, std::int64_t stride,
                            std::int64_t outputs) {
  std::vector<char> hit(static_cast<std::size_t>(size), 0);
  for (std::int64_t o = 0; o < outputs; ++o) {
    for (std::int64_t f = 0; f < filter; ++f) {
      const std::int64_t r = o * stride + f;
      if (r < size) hit[static_cast<std::size_t>(r)] = 1;
    }
  }
  return std::count(hit.begin(), hit.end(), 1);
}

}  // namespace nce::sim::scalesim_detail
