// The float emulation of the array's 8-bit rule (NetworkOptions::int8_full_precision, full8.h)
// against hand-computed values; end to end against the integer engine in
// tests/deploy/exporter_test.cpp (Int8FullPrecisionTrainingAgreesWithTheFloatEvalUpToTies).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "full8.h"

namespace nce::nn {
namespace {

TEST(Full8, WeightsLandOnA127LevelGridPerOutputChannelAfterTheInputFactors) {
  // 2 output channels x 2 input channels x 1 tap; factors 1 and 4 (the stem's 1 / std).
  const std::vector<float> w = {0.5f, 0.1f, -0.3f, 0.0f};
  const std::vector<float> f = {1.0f, 4.0f};
  std::vector<float> q(4);
  quantize_full8(w.data(), 2, 2, 1, f, q.data());
  // Channel 0: |w * f| = 0.5, 0.4 -> s = 0.5/127: codes 127 and round(0.4/s) = round(101.6) = 102.
  const double s0 = 0.5 / 127;
  EXPECT_NEAR(q[0], 127 * s0, 1e-7);
  EXPECT_NEAR(q[1], 102 * s0 / 4, 1e-7);
  // Channel 1: its maximum -0.3 -> code -127; the zero stays zero.
  EXPECT_NEAR(q[2], -0.3, 1e-7);
  EXPECT_EQ(q[3], 0.0f);
  // Idempotent: the rule applied to its own output changes nothing (the exporter re-derives the
  // same codes from the stored float weights).
  std::vector<float> again(4);
  quantize_full8(q.data(), 2, 2, 1, f, again.data());
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(again[i], q[i]) << i;
  // An all-zero channel, no factors.
  const std::vector<float> z = {0.0f, 0.0f};
  std::vector<float> zq(2, 1.0f);
  quantize_full8(z.data(), 1, 2, 1, {}, zq.data());
  EXPECT_EQ(zq[0], 0.0f);
  EXPECT_EQ(zq[1], 0.0f);
}

TEST(Full8, CodesAndScalesAreTheExportersAndTheFloatWeightsAreMadeOfThem) {
  // The same layer as above: the codes and scales the exporter stores (nce/nn/full8.h), and the
  // float emulation's weights = code * s / f.
  const std::vector<float> w = {0.5f, 0.1f, -0.3f, 0.0f, 0.0f, 0.0f};
  std::vector<std::int8_t> codes;
  std::vector<double> scales;
  full8_codes(w.data(), 3, 2, 1, {1.0, 4.0}, codes, scales);
  ASSERT_EQ(codes.size(), 6u);
  ASSERT_EQ(scales.size(), 3u);
  EXPECT_EQ(codes, (std::vector<std::int8_t>{127, 102, -127, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(scales[0], 0.5 / 127);
  EXPECT_DOUBLE_EQ(scales[1], static_cast<double>(0.3f) / 127);  // max |w * f| = |-0.3f|
  EXPECT_EQ(scales[2], 1.0);  // a channel of zeros: scale 1, codes 0
  std::vector<float> q(6);
  quantize_full8(w.data(), 3, 2, 1, {1.0f, 4.0f}, q.data());
  for (int i = 0; i < 6; ++i) {
    const double f = i % 2 == 0 ? 1.0 : 4.0;
    EXPECT_EQ(q[i], static_cast<float>(codes[i] * scales[i / 2] / f)) << i;
  }
  // Halves round away from zero: max 127 makes s = 1, so 2.5 -> 3 and -2.5 -> -3.
  const std::vector<float> t = {127.0f, 2.5f, -2.5f};
  full8_codes(t.data(), 1, 3, 1, {}, codes, scales);
  EXPECT_EQ(scales[0], 1.0);
  EXPECT_EQ(codes, (std::vector<std::int8_t>{127, 3, -3}));
}

TEST(Full8, HeadInputIsShiftedPerImageUntilItsLargestSumFits8Bits) {
  // Plane 16, unit 0.25 (a 2-bit PACT with clip 0.75): image 0's sums are 640, 32, 19.2 -> 19
  // and 12; the largest needs 3 shifts (640 -> 80, rounding half up), so the features become
  // round(S / 8) * 8 * 0.25 / 16: 80, 4, 2 (2.375) and 2 (1.5 rounds up) steps of 0.125.
  // Image 1 fits without a shift: unchanged.
  Tensor feat(2, 4, 1, 1);
  const float in[8] = {10.0f, 0.5f, 0.3f, 0.1875f, 1.0f, 0.25f, 0.0f, 0.5f};
  std::copy(in, in + 8, feat.data());
  quantize_head_input(feat, 0.25, 16);
  const float want[8] = {10.0f, 0.5f, 0.25f, 0.25f, 1.0f, 0.25f, 0.0f, 0.5f};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(feat.data()[i], want[i]) << i;
}

}  // namespace
}  // namespace nce::nn
