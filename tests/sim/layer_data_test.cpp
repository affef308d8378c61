#include "nce/sim/layer_data.h"

#include <gtest/gtest.h>

namespace nce::sim {
namespace {

TEST(LayerData, WrapToBits) {
  EXPECT_EQ(wrap_to_bits(127, 8), 127);
  EXPECT_EQ(wrap_to_bits(128, 8), -128);
  EXPECT_EQ(wrap_to_bits(-129, 8), 127);
  EXPECT_EQ(wrap_to_bits(70000, 16), 70000 - 65536);
  EXPECT_EQ(wrap_to_bits(-5, 64), -5);
}

TEST(LayerData, ReferenceConvByHand) {
  // 1 channel 3x3 input, one 2x2 filter, stride 1, no padding -> 2x2 output.
  ConvGeometry g;
  g.c_in = 1, g.c_out = 1, g.k = 2, g.h_in = 3, g.w_in = 3, g.h_out = 2, g.w_out = 2;
  const std::vector<std::int32_t> in = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<std::int32_t> w = {1, 0, 0, -1};
  const auto out = reference_conv(g, in, w, 32);
  EXPECT_EQ(out, (std::vector<std::int64_t>{1 - 5, 2 - 6, 4 - 8, 5 - 9}));
  // Padding 1, stride 2: output 2x2 at corners (-1,-1), (-1,1), (1,-1), (1,1).
  g.pad = 1, g.stride = 2;
  const auto padded = reference_conv(g, in, w, 32);
  EXPECT_EQ(padded, (std::vector<std::int64_t>{-1, -3, -7, 5 - 9}));
}

TEST(LayerData, Im2colTimesWeightsEqualsTheReference) {
  ConvGeometry g;
  g.c_in = 3, g.c_out = 5, g.k = 3, g.stride = 2, g.pad = 1, g.h_in = 7, g.w_in = 6;
  g.h_out = (7 + 2 - 3) / 2 + 1, g.w_out = (6 + 2 - 3) / 2 + 1;
  const auto d = random_layer_data(g, true, 3, 42);
  for (auto v : d.input) ASSERT_TRUE(v >= 0 && v <= 7);
  for (auto v : d.weights) ASSERT_TRUE(v >= -4 && v <= 3);
  const auto A = im2col(d);
  const auto W = lower_weights(d);
  const auto ref = reference_conv(g, d.input, d.weights, 64);
  for (std::int64_t n = 0; n < g.N(); ++n) {
    for (std::int64_t m = 0; m < g.M(); ++m) {
      std::int64_t acc = 0;
      for (std::int64_t k = 0; k < g.K(); ++k)
        acc += std::int64_t{A[n * g.K() + k]} * W[k * g.M() + m];
      ASSERT_EQ(acc, ref[m * g.N() + n]);
    }
  }
}

TEST(LayerData, BitSlicesRecombine) {
  std::vector<std::int32_t> values;
  for (int v = -128; v <= 127; ++v) values.push_back(v);
  for (int bits : {1, 2, 3, 4, 5, 7, 8}) {
    const int slices = (8 + bits - 1) / bits;
    std::vector<std::int64_t> sum(values.size(), 0);
    for (int i = 0; i < (bits >= 8 ? 1 : slices); ++i) {
      const auto s = slice_operand(values, bits, i);
      for (std::size_t n = 0; n < values.size(); ++n) {
        if (bits < 8 && i < slices - 1) {
          ASSERT_TRUE(s[n] >= 0 && s[n] < (1 << bits));
        }
        sum[n] += std::int64_t{s[n]} * (std::int64_t{1} << (bits * i));  // no shift of a negative
      }
    }
    for (std::size_t n = 0; n < values.size(); ++n) ASSERT_EQ(sum[n], values[n]) << bits;
  }
}

TEST(LayerData, FullPrecisionReferenceIsTheExactConvWithWideAccumulators) {
  ConvGeometry g;
  g.c_in = 4, g.c_out = 3, g.k = 1, g.h_in = 5, g.w_in = 5, g.h_out = 5, g.w_out = 5;
  const auto d = random_layer_data(g, false, 2, 7);
  const auto exact = reference_conv(g, d.input, d.weights, 64);
  EXPECT_EQ(reference_layer_output(d, 2, 32), exact);
  EXPECT_EQ(reference_layer_output(d, 3, 32), exact);
  EXPECT_EQ(reference_layer_output(d, 8, 32), exact);
}

}  // namespace
}  // namespace nce::sim
