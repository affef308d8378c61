#include "nce/sim/pe_array.h"

#include <algorithm>
#include <cassert>
#include <cstring>

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

FoldActivity PeArray::run_os_fold(const OperandView& a, int r_used, const OperandView& b,
                                  int c_used, std::int64_t T, std::vector<std::int64_t>& out) {
  assert(r_used >= 1 && r_used <= rows_ && c_used >= 1 && c_used <= cols_ && T >= 1);
  const std::int64_t R = rows_, C = cols_, RC = R * C;
  std::fill(a_reg_.begin(), a_reg_.end(), 0);
  std::fill(b_reg_.begin(), b_reg_.end(), 0);
  std::fill(a_valid_.begin(), a_valid_.end(), 0);
  std::fill(b_valid_.begin(), b_valid_.end(), 0);
  std::fill(acc_.begin(), acc_.end(), 0);
  std::int32_t* ar = a_reg_.data();
  std::int32_t* br = b_reg_.data();
  std::uint8_t* av = a_valid_.data();
  std::uint8_t* bv = b_valid_.data();
  std::int64_t* acc = acc_.data();
  FoldActivity act;
  act.cycles = T + R + C - 2;
  for (std::int64_t c = 0; c < act.cycles; ++c) {
    // Horizontal operands move one PE right; row i's left edge takes a(i, c - i).
    std::memmove(ar + 1, ar, static_cast<std::size_t>(RC - 1) * sizeof(std::int32_t));
    std::memmove(av + 1, av, static_cast<std::size_t>(RC - 1));
    for (std::int64_t i = 0; i < R; ++i) {
      const std::int64_t k = c - i;
      const bool valid = i < r_used && k >= 0 && k < T;
      ar[i * C] = valid ? a.at(i, k) : 0;
      av[i * C] = valid;
      act.left_edge_reads += valid;
    }
    // Vertical operands move one PE down; column j's top edge takes b(c - j, j).
    std::memmove(br + C, br, static_cast<std::size_t>(RC - C) * sizeof(std::int32_t));
    std::memmove(bv + C, bv, static_cast<std::size_t>(RC - C));
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
  assert(r_used >= 1 && r_used <= rows_ && c_used >= 1 && c_used <= cols_ && T >= 1);
  const std::int64_t R = rows_, C = cols_, RC = R * C;
  std::fill(a_reg_.begin(), a_reg_.end(), 0);
  std::fill(b_reg_.begin(), b_reg_.end(), 0);
  std::fill(a_valid_.begin(), a_valid_.end(), 0);
  std::fill(b_valid_.begin(), b_valid_.end(), 0);
  std::fill(acc_.begin(), acc_.end(), 0);
  std::int32_t* ar = a_reg_.data();
  std::int32_t* sr = b_reg_.data();
  std::uint8_t* av = a_valid_.data();
  std::uint8_t* sv = b_valid_.data();
  std::int64_t* psum = acc_.data();
  out.assign(static_cast<std::size_t>(T) * c_used, 0);
  FoldActivity act;
  act.cycles = 2 * R + C + T - 2;
  // Load: the stationary tile shifts down one row per cycle; row R-1-c enters at cycle c.
  for (std::int64_t c = 0; c < R; ++c) {
    std::memmove(sr + C, sr, static_cast<std::size_t>(RC - C) * sizeof(std::int32_t));
    std::memmove(sv + C, sv, static_cast<std::size_t>(RC - C));
    const std::int64_t r = R - 1 - c;
    for (std::int64_t j = 0; j < C; ++j) {
      const bool valid = r < r_used && j < c_used;
      sr[j] = valid ? s.at(r, j) : 0;
      sv[j] = valid;
      act.stationary_reads += valid;
    }
  }
  // Stream.
  for (std::int64_t c = R; c < act.cycles; ++c) {
    std::memmove(ar + 1, ar, static_cast<std::size_t>(RC - 1) * sizeof(std::int32_t));
    std::memmove(av + 1, av, static_cast<std::size_t>(RC - 1));
    for (std::int64_t r = 0; r < R; ++r) {
      const std::int64_t t = c - R - r;
      const bool valid = r < r_used && t >= 0 && t < T;
      ar[r * C] = valid ? v.at(t, r) : 0;
      av[r * C] = valid;
      act.left_edge_reads += valid;
    }
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
