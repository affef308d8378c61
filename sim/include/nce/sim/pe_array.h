// The PE array of the cycle-accurate model as a plain C++ class (no SystemC, no timing of its
// own): R x C processing elements with operand registers, moved one step per cycle. The SystemC
// engine (systemc_engine.h) calls one fold at a time and advances simulated time by the cycles the
// fold stepped.
//
// OS fold: operand a(i, k) enters row i at the left edge at cycle k + i and moves right one PE per
// cycle; b(k, j) enters column j at the top at cycle k + j and moves down. PE(i, j) multiplies the
// pair it holds and adds into its accumulator, so it sees k = c - i - j at cycle c. The fold runs
// T + R + C - 2 cycles; the accumulators then go to the output (shadow registers).
// Stationary fold (WS and IS): the stationary tile s(r, c) shifts in from the top, one row per
// cycle, for R cycles (row R-1-c enters at cycle c); then vector t's element v(t, r) enters row r
// at the left edge at cycle R + t + r and moves right; psums move down the columns, PE(r, j)
// adding v*s to the psum from PE(r-1, j); psum (t, j) leaves the bottom row at cycle
// R + t + j + R - 1. The fold runs 2R + C + T - 2 cycles.
// Bubbles (no operand) carry the value 0 and a cleared valid bit; a MAC is counted only when both
// operands are valid. Accumulators are int64 (the caller wraps to acc_bits; wrapping commutes with
// addition).
#pragma once

#include <cstdint>
#include <vector>

namespace nce::sim {

// Strided read-only view of a 2-D operand: element (i, j) = base[i * stride_i + j * stride_j].
struct OperandView {
  const std::int32_t* base = nullptr;
  std::int64_t stride_i = 0;
  std::int64_t stride_j = 0;
  std::int32_t at(std::int64_t i, std::int64_t j) const {
    return base[i * stride_i + j * stride_j];
  }
};

// What one fold did, counted while stepping.
struct FoldActivity {
  std::int64_t cycles = 0;
  std::int64_t macs = 0;
  std::int64_t left_edge_reads = 0;   // valid operands injected at the left edge
  std::int64_t top_edge_reads = 0;    // OS: valid operands injected at the top edge
  std::int64_t stationary_reads = 0;  // WS/IS: valid stationary operands shifted in
  std::int64_t outputs = 0;           // psums/accumulators delivered to the output
};

class PeArray {
 public:
  PeArray(int rows, int cols);
  int rows() const { return rows_; }
  int cols() const { return cols_; }

  // a: r_used x T (row i streams into array row i), b: T x c_used. out: r_used x c_used
  // accumulators, row-major with row stride c_used.
  FoldActivity run_os_fold(const OperandView& a, int r_used, const OperandView& b, int c_used,
                           std::int64_t T, std::vector<std::int64_t>& out);

  // s: r_used x c_used stationary tile, v: T x r_used streamed vectors. out: T x c_used psums,
  // row-major with row stride c_used.
  FoldActivity run_stationary_fold(const OperandView& s, int r_used, int c_used,
                                   const OperandView& v, std::int64_t T,
                                   std::vector<std::int64_t>& out);

 private:
  // Checks a fold's shape (asserts) and sets every register, valid flag and accumulator to 0.
  void begin_fold(int r_used, int c_used, std::int64_t T);
  void shift_right();  // a_reg_ / a_valid_ one PE right (the left column is then refilled)
  void shift_down();   // b_reg_ / b_valid_ one PE down (the top row is then refilled)
  // Shifts the horizontal operands one PE right and feeds the left column with skew: row i takes
  // x(i, step - i) where that lies in rows [0, r_used) and steps [0, T), else a bubble. Returns
  // the valid operands fed.
  std::int64_t feed_left(const OperandView& x, int r_used, std::int64_t step, std::int64_t T);

  int rows_, cols_;
  std::vector<std::int32_t> a_reg_, b_reg_;  // horizontal / vertical (or stationary) operands
  std::vector<std::uint8_t> a_valid_, b_valid_;
  std::vector<std::int64_t> acc_;  // OS accumulators or WS/IS psums
};

}  // namespace nce::sim
