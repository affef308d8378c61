// The PE array stepped cycle by cycle against a naive tile GEMM.
#include "nce/sim/pe_array.h"

#include <gtest/gtest.h>

#include <random>

namespace nce::sim {
namespace {

std::vector<std::int32_t> random_values(std::size_t n, int lo, int hi, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<std::int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// One random fold of a trial: an R x C array, the r_used x c_used PEs it uses, T steps.
struct Fold {
  int R, C, r_used, c_used;
  std::int64_t T;
};

// R = 1 + trial % rows_mod, C = 1 + (trial * cols_step) % cols_mod; r_used, c_used and T (at
// most max_t) drawn from rng in that order.
Fold random_fold(int trial, int rows_mod, int cols_step, int cols_mod, int max_t,
                 std::mt19937& rng) {
  Fold f;
  f.R = 1 + trial % rows_mod, f.C = 1 + (trial * cols_step) % cols_mod;
  f.r_used = 1 + static_cast<int>(rng() % f.R), f.c_used = 1 + static_cast<int>(rng() % f.C);
  f.T = 1 + rng() % max_t;
  return f;
}

TEST(PeArray, OutputStationaryFoldMatchesTileGemm) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 40; ++trial) {
    const auto [R, C, r_used, c_used, T] = random_fold(trial, 7, 3, 5, 20, rng);
    const auto a = random_values(static_cast<std::size_t>(r_used * T), 0, 3, rng);   // r_used x T
    const auto b = random_values(static_cast<std::size_t>(T * c_used), -2, 1, rng);  // T x c_used
    PeArray array(R, C);
    std::vector<std::int64_t> out;
    const auto act =
        array.run_os_fold({a.data(), T, 1}, r_used, {b.data(), c_used, 1}, c_used, T, out);
    EXPECT_EQ(act.cycles, T + R + C - 2);
    EXPECT_EQ(act.macs, r_used * c_used * T);
    EXPECT_EQ(act.left_edge_reads, r_used * T);
    EXPECT_EQ(act.top_edge_reads, c_used * T);
    EXPECT_EQ(act.outputs, r_used * c_used);
    for (int i = 0; i < r_used; ++i) {
      for (int j = 0; j < c_used; ++j) {
        std::int64_t ref = 0;
        for (std::int64_t k = 0; k < T; ++k) ref += std::int64_t{a[i * T + k]} * b[k * c_used + j];
        ASSERT_EQ(out[i * c_used + j], ref) << "trial " << trial;
      }
    }
  }
}

TEST(PeArray, StationaryFoldMatchesTileGemm) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 40; ++trial) {
    const auto [R, C, r_used, c_used, T] = random_fold(trial, 6, 5, 7, 25, rng);
    const auto s = random_values(static_cast<std::size_t>(r_used * c_used), -8, 7, rng);
    const auto v = random_values(static_cast<std::size_t>(T * r_used), 0, 15, rng);
    PeArray array(R, C);
    std::vector<std::int64_t> out;
    // Transposed views work too: s(r, c) = s_t[c * r_used + r].
    std::vector<std::int32_t> s_t(s.size());
    for (int r = 0; r < r_used; ++r) {
      for (int c = 0; c < c_used; ++c) s_t[c * r_used + r] = s[r * c_used + c];
    }
    const auto act = array.run_stationary_fold({s_t.data(), 1, r_used}, r_used, c_used,
                                               {v.data(), r_used, 1}, T, out);
    EXPECT_EQ(act.cycles, 2 * R + C + T - 2);
    EXPECT_EQ(act.macs, r_used * c_used * T);
    EXPECT_EQ(act.stationary_reads, r_used * c_used);
    EXPECT_EQ(act.left_edge_reads, r_used * T);
    EXPECT_EQ(act.outputs, T * c_used);
    for (std::int64_t t = 0; t < T; ++t) {
      for (int c = 0; c < c_used; ++c) {
        std::int64_t ref = 0;
        for (int r = 0; r < r_used; ++r) ref += std::int64_t{v[t * r_used + r]} * s[r * c_used + c];
        ASSERT_EQ(out[t * c_used + c], ref) << "trial " << trial;
      }
    }
  }
}

TEST(PeArray, ZeroOperandsStillCountAsMacs) {
  // A MAC is a valid operand pair, whatever its value: zero weights are not skipped.
  PeArray array(2, 2);
  const std::vector<std::int32_t> zeros(8, 0);
  std::vector<std::int64_t> out;
  const auto act = array.run_os_fold({zeros.data(), 4, 1}, 2, {zeros.data(), 2, 1}, 2, 4, out);
  EXPECT_EQ(act.macs, 16);
  EXPECT_EQ(out, std::vector<std::int64_t>(4, 0));
}

}  // namespace
}  // namespace nce::sim
