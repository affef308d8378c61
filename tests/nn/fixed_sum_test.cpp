// nn/src/fixed_sum.h: the trainer's sums add in one order, whatever instruction set the file is
// compiled for (the portable and the -march=native build train to the same numbers).
#include "fixed_sum.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace nce::nn::detail {
namespace {

// 1 + 2^-24 rounds to 1 in float, 2^-23 does not: which values meet first decides the sum.
constexpr float kBig = 1.0f, kTiny = 1.0f / (1 << 24);

TEST(FixedOrderSum, AddsSixteenLanesThenATreeThenTheTail) {
  // Lane 0 gets 1 then 16 tiny terms (each lost: 1 + 2^-24 = 1); lane 1 gets 16 tiny terms first
  // (2^-20 together, kept) then 1. The tree adds lane 1 into lane 0 last but one, and the tail
  // term comes last.
  const std::size_t lanes = kSumLanes, rows = 17;
  std::vector<float> x(lanes * rows + 1, 0.0f);
  x[0] = kBig;
  for (std::size_t r = 1; r < rows; ++r) x[r * lanes] = kTiny;
  for (std::size_t r = 0; r + 1 < rows; ++r) x[r * lanes + 1] = kTiny;
  x[(rows - 1) * lanes + 1] = kBig;
  x[lanes * rows] = 3.0f;
  const float lane0 = kBig;                               // the tiny terms were lost
  const float lane1 = 16 * kTiny + kBig;                  // 1 + 2^-20, exact in float
  const float expected = (lane0 + lane1) + 3.0f;          // lanes 2..15 hold zeros
  EXPECT_EQ(fixed_order_sum(x.data(), x.size()), expected);
  // In index order the tiny terms of lane 1 would be lost too (each meets a sum >= 1).
  float in_order = 0.0f;
  for (float v : x) in_order += v;
  EXPECT_NE(in_order, expected);
}

TEST(FixedOrderSum, ShortInputsAndTheTailAddInIndexOrder) {
  const float x[] = {kBig, kTiny, kTiny, kTiny};
  EXPECT_EQ(fixed_order_sum(x, 4), kBig);  // each tiny term meets 1 and is lost
  EXPECT_EQ(fixed_order_sum(x, 0), 0.0f);
  const float y[] = {kTiny, kTiny, kBig};
  EXPECT_EQ(fixed_order_sum(y, 3), 2 * kTiny + kBig);
}

TEST(FixedOrderSum, DotMultipliesThenAddsInTheSameOrder) {
  std::vector<float> a(40), b(40);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.25f * static_cast<float>(i), b[i] = 2.0f;
  // Exact here (small integers and halves): 0.5 * (0 + ... + 39).
  EXPECT_EQ(fixed_order_dot(a.data(), b.data(), a.size()), 0.5f * 780.0f);
}

}  // namespace
}  // namespace nce::nn::detail
