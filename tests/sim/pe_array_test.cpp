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

TEST(PeArray, OutputStationaryFoldMatchesTileGemm) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 40; ++trial) {
    const int R = 1 + trial % 7, C = 1 + (trial * 3) % 5;
    const int r_used = 1 + static_cast<int>(rng() % R), c_used = 1 + static_cast<int>(rng() % C);
    const std::int64_t T = 1 + rng() % 20;
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
    const int R = 1 + trial % 6, C = 1 + (trial * 5) % 7;
    const int r_used = 1 + static_cast<int>(rng() % R), c_used = 1 + static_cast<int>(rng() % C);
    const std::int64_t T = 1 + rng() % 25;
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
