#include "nce/sim/pe_array.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "nce/sim/array_mapping.h"

namespace nce::sim {

PeArray::PeArray(int rows, int cols)
    : rows_(rows),
      cols_(cols),
      a_reg_(static_cast<std::size_t>(rows) * cols),
      b_reg_(static_cast<std::size_t>(rows) * cols),
      a_valid_(static_cast<std::size_t>(rows) * cols),
      b_valid_(static_cast<std::size_t>(rows) * cols),
      acc_(static_cast<std::size_t>(rows) * cols) {
  assert(rows > 0 && cols > 0 && "array needs rows and cols");
}

void PeArray::begin_fold(int r_used, int c_used, std::int64_t T) {
  assert(r_used >= 1 && r_used <= rows_ && c_used >= 1 && c_used <= cols_ && T >= 1 &&
         "a fold uses 1..rows x 1..cols PEs and streams at least one step");
  (void)r_used, (void)c_used, (void)T;  // NDEBUG
  std::fill(a_reg_.begin(), a_reg_.end(), 0);
  std::fill(b_reg_.begin(), b_reg_.end(), 0);
  std::fill(a_valid_.begin(), a_valid_.end(), 0);
  std::fill(b_valid_.begin(), b_valid_.end(), 0);
  std::fill(acc_.begin(), acc_.end(), 0);
}

void PeArray::shift_right() {
  const std::size_t n = a_reg_.size() - 1;
  std::memmove(a_reg_.data() + 1, a_reg_.data(), n * sizeof(std::int32_t));
  std::memmove(a_valid_.data() + 1, a_valid_.data(), n);
}

void PeArray::shift_down() {
  const std::size_t n = b_reg_.size() - static_cast<std::size_t>(cols_);
  std::memmove(b_reg_.data() + cols_, b_reg_.data(), n * sizeof(std::int32_t));
  std::memmove(b_valid_.data() + cols_, b_valid_.data(), n);
}

std::int64_t PeArray::feed_left(const OperandView& x, int r_used, std::int64_t step,
                                std::int64_t T) {
  shift_right();
  // Local pointers: the valid flags are bytes, which may alias the vectors' own pointers.
  std::int32_t* reg = a_reg_.data();
  std::uint8_t* valid_flag = a_valid_.data();
  const std::int64_t R = rows_, C = cols_;
  std::int64_t fed = 0;
  for (std::int64_t i = 0; i < R; ++i) {
    const std::int64_t t = step - i;
    const bool valid = i < r_used && t >= 0 && t < T;
    reg[i * C] = valid ? x.at(i, t) : 0;
    valid_flag[i * C] = valid;
    fed += valid;
  }
  return fed;
}

FoldActivity PeArray::run_os_fold(const OperandView& a, int r_used, const OperandView& b,
                                  int c_used, std::int64_t T, std::vector<std::int64_t>& out) {
  begin_fold(r_used, c_used, T);
  const std::int64_t R = rows_, C = cols_;
  std::int32_t* ar = a_reg_.data();
  std::int32_t* br = b_reg_.data();
  std::uint8_t* av = a_valid_.data();
  std::uint8_t* bv = b_valid_.data();
  std::int64_t* acc = acc_.data();
  FoldActivity act;
  act.cycles = fold_cycles(Dataflow::kOS, R, C, T);
  for (std::int64_t c = 0; c < act.cycles; ++c) {
    // Horizontal operands move one PE right; row i's left edge takes a(i, c - i).
    act.left_edge_reads += feed_left(a, r_used, c, T);
    // Vertical operands move one PE down; column j's top edge takes b(c - j, j).
    shift_down();
    for (std::int64_t j = 0; j < C; ++j) {
      const std::int64_t k = c - j;
      const bool valid = j < c_used && k >= 0 && k < T;
      br[j] = valid ? b.at(k, j) : 0;
      bv[j] = valid;
      act.top_edge_reads += valid;
    }
    // Every PE multiplies what it holds (bubbles are 0; only valid pairs count as MACs). PEs
    // outside the occupied r_used x c_used block never hold a valid pair.
    std::int64_t macs = 0;
    for (std::int64_t i = 0; i < r_used; ++i) {
      const std::int32_t* ai = ar + i * C;
      const std::int32_t* bi = br + i * C;
      const std::uint8_t* avi = av + i * C;
      const std::uint8_t* bvi = bv + i * C;
      std::int64_t* acci = acc + i * C;
      for (std::int64_t j = 0; j < c_used; ++j) {
        acci[j] += static_cast<std::int64_t>(ai[j]) * bi[j];
        macs += avi[j] & bvi[j];
      }
    }
    act.macs += macs;
  }
  out.resize(static_cast<std::size_t>(r_used) * c_used);
  for (std::int64_t i = 0; i < r_used; ++i) {
    for (std::int64_t j = 0; j < c_used; ++j) out[i * c_used + j] = acc[i * C + j];
  }
  act.outputs = static_cast<std::int64_t>(r_used) * c_used;
  return act;
}

FoldActivity PeArray::run_stationary_fold(const OperandView& s, int r_used, int c_used,
                                          const OperandView& v, std::int64_t T,
                                          std::vector<std::int64_t>& out) {
  begin_fold(r_used, c_used, T);
  const std::int64_t R = rows_, C = cols_;
  std::int32_t* ar = a_reg_.data();
  std::int32_t* sr = b_reg_.data();
  std::uint8_t* av = a_valid_.data();
  std::uint8_t* sv = b_valid_.data();
  std::int64_t* psum = acc_.data();
  out.assign(static_cast<std::size_t>(T) * c_used, 0);
  FoldActivity act;
  act.cycles = fold_cycles(Dataflow::kWS, R, C, T);  // IS: the same array steps
  // Load: the stationary tile shifts down one row per cycle; row R-1-c enters at cycle c.
  for (std::int64_t c = 0; c < R; ++c) {
    shift_down();
    const std::int64_t r = R - 1 - c;
    for (std::int64_t j = 0; j < C; ++j) {
      const bool valid = r < r_used && j < c_used;
      sr[j] = valid ? s.at(r, j) : 0;
      sv[j] = valid;
      act.stationary_reads += valid;
    }
  }
  // Stream: row r's left edge takes v(t, r) at cycle R + t + r.
  const OperandView v_rows{v.base, v.stride_j, v.stride_i};  // v transposed: (r, t)
  for (std::int64_t c = R; c < act.cycles; ++c) {
    act.left_edge_reads += feed_left(v_rows, r_used, c - R, T);
    // Psums move down one row while each PE adds its product (bottom-up so row r-1 is still the
    // previous cycle's value). Columns >= c_used hold no valid stationary operand.
    std::int64_t macs = 0;
    for (std::int64_t r = R - 1; r >= 0; --r) {
      const std::int32_t* ai = ar + r * C;
      const std::int32_t* si = sr + r * C;
      const std::uint8_t* avi = av + r * C;
      const std::uint8_t* svi = sv + r * C;
      std::int64_t* pi = psum + r * C;
      if (r > 0) {
        const std::int64_t* above = psum + (r - 1) * C;
        for (std::int64_t j = 0; j < c_used; ++j) {
          pi[j] = above[j] + static_cast<std::int64_t>(ai[j]) * si[j];
          macs += avi[j] & svi[j];
        }
      } else {
        for (std::int64_t j = 0; j < c_used; ++j) {
          pi[j] = static_cast<std::int64_t>(ai[j]) * si[j];
          macs += avi[j] & svi[j];
        }
      }
    }
    act.macs += macs;
    // The bottom row's psums are complete.
    const std::int64_t* bottom = psum + (R - 1) * C;
    for (std::int64_t j = 0; j < c_used; ++j) {
      const std::int64_t t = c - R - j - (R - 1);
      if (t >= 0 && t < T) {
        out[static_cast<std::size_t>(t * c_used + j)] = bottom[j];
        ++act.outputs;
      }
    }
  }
  return act;
}

}  // namespace nce::sim
