// SCALE-Sim v2's view of one layer (scalesim_compat.h), private to the sim library: the mapping
// of its GEMM onto the array, the addresses of its operands in SCALE-Sim's demand order, and the
// checked products every count is built from. The buffers that replay SCALE-Sim's memory system
// on it are in scalesim_buffers.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "nce/sim/array_mapping.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/scalesim_compat.h"

namespace nce::sim::scalesim_detail {

// Every count of a layer's report is a product of the layer's and the array's sizes: SCALE-Sim's
// Python integers cannot overflow, int64 can, so each product is checked (an error names the
// config, the layer and the product rather than a wrapped number).
class CheckedProducts {
 public:
  CheckedProducts(const ScaleSimConfig& cfg, const ScaleSimLayer& layer)
      : cfg_(cfg), layer_(layer) {}
  // a * b; throws std::invalid_argument naming `what` when it overflows int64.
  std::int64_t operator()(std::int64_t a, std::int64_t b, const char* what) const;

 private:
  const ScaleSimConfig& cfg_;
  const ScaleSimLayer& layer_;
};

// The layer as SCALE-Sim maps it: the shared GEMM-to-array mapping (array_mapping.h) plus what
// its address streams need.
struct Mapping : ArrayMapping {
  Dataflow df = Dataflow::kWS;
  std::int64_t R = 0, C = 0;
  std::int64_t folds = 0;       // row_folds x col_folds, column fold outer, row fold inner
  std::int64_t fold_lines = 0;  // demand lines of a fold: fold_cycles(df, R, C, T)
  // conv geometry for ifmap addresses
  std::int64_t H = 0, W = 0, Fw = 0, Ch = 0, Wo = 0, sh = 0, sw = 0, K = 0;

  std::int64_t r_used(std::int64_t fr) const { return std::min(R, Sr - fr * R); }
  std::int64_t c_used(std::int64_t fc) const { return std::min(C, Sc - fc * C); }

  // operand_matrix.calc_ifmap_elem_addr: -1 where the window runs past the (padded) ifmap.
  std::int64_t ifmap_addr(std::int64_t pixel, std::int64_t win) const {
    const std::int64_t orow = pixel / Wo, ocol = pixel % Wo;
    const std::int64_t irow = orow * sh, icol = ocol * sw;
    const std::int64_t crow = win / (Fw * Ch), k = win % (Fw * Ch);
    const std::int64_t ccol = k / Ch, cch = k % Ch;
    if (crow + irow >= H || ccol + icol >= W) return -1;
    return ((irow + crow) * W + (icol + ccol)) * Ch + cch;
  }
  std::int64_t filter_addr(std::int64_t win, std::int64_t filter) const { return filter * K + win; }

  // Ofmap words in line `l` of a fold: the skewed tile of valid data rows [lo, hi].
  void ofmap_rows(std::int64_t fr, std::int64_t& lo, std::int64_t& hi) const {
    if (df == Dataflow::kOS) {
      lo = T - 1 + (R - r_used(fr));
      hi = T - 1 + R - 1;
    } else {
      lo = 2 * R - 1;
      hi = 2 * R - 1 + T - 1;
    }
  }
};

// The layer on the config's array (its fold count checked by `mul`).
Mapping map_layer(const ScaleSimConfig& cfg, const ScaleSimLayer& layer,
                  const CheckedProducts& mul);

// Visits every ifmap (operand 0) or filter (operand 1) address of one demand line of fold
// (fc, fr), in SCALE-Sim's order (the line's columns left to right), -1 entries included.
template <typename Visit>
void visit_line(const Mapping& m, int operand, std::int64_t fc, std::int64_t fr, std::int64_t l,
                Visit&& visit) {
  const std::int64_t ru = m.r_used(fr), cu = m.c_used(fc);
  // Skewed operand streams: element (j, c) of a T x ncols block (prefix P lines) sits in line
  // P + j + c.
  auto skewed = [&](std::int64_t P, std::int64_t ncols, auto&& elem) {
    const std::int64_t d = l - P;
    if (d < 0) return;
    const std::int64_t c_lo = std::max<std::int64_t>(0, d - (m.T - 1));
    const std::int64_t c_hi = std::min(ncols - 1, d);
    for (std::int64_t c = c_lo; c <= c_hi; ++c) visit(elem(d - c, c));
  };
  // Stationary tiles: r_used x c_used block, flipped upside down, one row per line.
  auto flipped = [&](auto&& elem) {
    if (l >= m.R) return;
    const std::int64_t row = m.R - 1 - l;
    if (row >= ru) return;
    for (std::int64_t c = 0; c < cu; ++c) visit(elem(row, c));
  };
  switch (m.df) {
    case Dataflow::kOS:
      if (operand == 0) {
        skewed(0, ru,
               [&](std::int64_t j, std::int64_t c) { return m.ifmap_addr(fr * m.R + c, j); });
      } else {
        skewed(0, cu,
               [&](std::int64_t j, std::int64_t c) { return m.filter_addr(j, fc * m.C + c); });
      }
      break;
    case Dataflow::kWS:
      if (operand == 0) {
        skewed(m.R, ru,
               [&](std::int64_t j, std::int64_t c) { return m.ifmap_addr(j, fr * m.R + c); });
      } else {
        flipped([&](std::int64_t row, std::int64_t c) {
          return m.filter_addr(fr * m.R + row, fc * m.C + c);
        });
      }
      break;
    case Dataflow::kIS:
      if (operand == 0) {
        flipped([&](std::int64_t row, std::int64_t c) {
          return m.ifmap_addr(fc * m.C + c, fr * m.R + row);
        });
      } else {
        skewed(m.R, ru,
               [&](std::int64_t j, std::int64_t c) { return m.filter_addr(fr * m.R + c, j); });
      }
      break;
  }
}

// The first and last line (within a fold) that can hold an element of the operand.
void operand_line_range(const Mapping& m, int operand, std::int64_t fc, std::int64_t fr,
                        std::int64_t& first, std::int64_t& last);

// Distinct rows (or columns) of the padded ifmap that some window touches.
std::int64_t covered_extent(std::int64_t size, std::int64_t filter, std::int64_t stride,
                            std::int64_t outputs);

}  // namespace nce::sim::scalesim_detail
