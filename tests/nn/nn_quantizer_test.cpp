// Weight quantizers: exact levels, and straight-through gradients against finite differences of
// the surrogate each STE stands for (round() replaced by the identity, the scale as documented).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "nce/nn/quantizer.h"
#include "nn_test_util.h"

namespace nce::nn {
namespace {

using testing::expect_gradient;

constexpr testing::FdTolerance kSteTol{1e-3f, 1e-3, 1e-2};
constexpr float kLevelTol = 1e-6f;  // relative to the clip

std::vector<float> gaussian(std::size_t n, unsigned seed, float std_dev = 0.1f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, std_dev);
  std::vector<float> w(n);
  for (float& v : w) v = d(rng);
  return w;
}

TEST(NnQuantizer, SawbTwoBitLevelsAndClip) {
  const auto w = gaussian(4000, 1);
  std::vector<float> q(w.size());
  const float a = sawb_quantize(w.data(), w.size(), 2, q.data());
  double sq = 0, ab = 0;
  for (float v : w) sq += v * v, ab += std::fabs(v);
  const double want = 3.12 * std::sqrt(sq / w.size()) - 2.064 * ab / w.size();
  EXPECT_NEAR(a, want, 1e-6 * want);
  std::set<float> levels(q.begin(), q.end());
  ASSERT_EQ(levels.size(), 4u);
  const float expected[] = {-a, -a / 3, a / 3, a};
  int i = 0;
  for (float l : levels) EXPECT_NEAR(l, expected[i++], kLevelTol * a);
  // Each weight goes to its nearest level.
  for (std::size_t j = 0; j < w.size(); ++j) {
    float best = expected[0];
    for (float l : expected)
      if (std::fabs(w[j] - l) < std::fabs(w[j] - best)) best = l;
    ASSERT_NEAR(q[j], best, kLevelTol * a) << w[j];
  }
}

TEST(NnQuantizer, SawbOtherBitWidthsUseAUniformGrid) {
  const auto w = gaussian(5000, 2);
  std::vector<float> q(w.size());
  for (int bits : {3, 4, 8}) {
    const float a = sawb_quantize(w.data(), w.size(), bits, q.data());
    ASSERT_GT(a, 0.0f);
    const float n = static_cast<float>((1 << bits) - 1);
    std::set<float> levels;
    for (float v : q) {
      const float idx = (v + a) * n / (2 * a);
      ASSERT_NEAR(idx, std::nearbyint(idx), 1e-3f) << bits;
      ASSERT_LE(std::fabs(v), a * (1 + kLevelTol));
      levels.insert(v);
    }
    EXPECT_LE(levels.size(), static_cast<std::size_t>(1 << bits));
    EXPECT_GE(levels.size(), static_cast<std::size_t>(bits == 8 ? 100 : (1 << bits) - 1));
  }
  EXPECT_THROW(sawb_quantize(w.data(), w.size(), 5, q.data()), std::invalid_argument);
}

TEST(NnQuantizer, SawbStraightThrough) {
  auto w = gaussian(300, 3);
  std::vector<float> q(w.size()), g(w.size()), dw(w.size(), 0.0f);
  const float a = sawb_quantize(w.data(), w.size(), 2, q.data());
  // Keep weights away from the clip so the finite difference stays on one side.
  for (float& v : w)
    if (std::fabs(std::fabs(v) - a) < 5e-3f) v *= 0.9f;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> d(-1, 1);
  for (float& v : g) v = d(rng);
  sawb_backward(w.data(), w.size(), 2, a, g.data(), dw.data());
  std::size_t inside = 0;
  for (float v : w) inside += std::fabs(v) <= a;
  EXPECT_GT(inside, 0u);
  EXPECT_LT(inside, w.size());
  auto surrogate = [&] {  // clip(w, -a, a) with a held constant
    double s = 0;
    for (std::size_t i = 0; i < w.size(); ++i) s += g[i] * std::fmin(std::fmax(w[i], -a), a);
    return s;
  };
  expect_gradient("sawb ste", w.data(), w.size(), dw.data(), surrogate, kSteTol, 300);
}

TEST(NnQuantizer, DorefaTwoBitLevels) {
  const auto w = gaussian(2000, 5, 0.5f);
  std::vector<float> q(w.size());
  dorefa_quantize(w.data(), w.size(), 2, q.data());
  std::set<float> levels(q.begin(), q.end());
  ASSERT_EQ(levels.size(), 4u);
  const float expected[] = {-1.0f, -1.0f / 3, 1.0f / 3, 1.0f};
  int i = 0;
  for (float l : levels) EXPECT_NEAR(l, expected[i++], kLevelTol);
  // 3 bits: 8 levels (2i/7 - 1).
  dorefa_quantize(w.data(), w.size(), 3, q.data());
  for (float v : q) {
    const float idx = (v + 1) * 7 / 2;
    ASSERT_NEAR(idx, std::nearbyint(idx), 1e-5f);
  }
}

TEST(NnQuantizer, DorefaStraightThroughIncludesTheMax) {
  auto w = gaussian(200, 6, 0.5f);
  std::vector<float> q(w.size()), g(w.size()), dw(w.size(), 0.0f);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1, 1);
  for (float& v : g) v = d(rng);
  const float m = dorefa_quantize(w.data(), w.size(), 2, q.data());
  dorefa_backward(w.data(), w.size(), 2, m, g.data(), dw.data());
  auto surrogate = [&] {  // 2*(tanh(w)/(2M) + 1/2) - 1 = tanh(w)/M, M = max|tanh(w)|
    double mx = 0;
    for (float v : w) mx = std::max(mx, std::fabs(std::tanh(static_cast<double>(v))));
    double s = 0;
    for (std::size_t i = 0; i < w.size(); ++i)
      s += g[i] * std::tanh(static_cast<double>(w[i])) / mx;
    return s;
  };
  expect_gradient("dorefa ste", w.data(), w.size(), dw.data(), surrogate, kSteTol, 200);
}

TEST(NnQuantizer, LsqLevelsAndGradients) {
  auto w = gaussian(400, 8);
  const int bits = 2;
  const float qn = 2, qp = 1;
  float s = lsq_init_step(w.data(), w.size(), bits);
  double ab = 0;
  for (float v : w) ab += std::fabs(v);
  EXPECT_NEAR(s, 2 * ab / w.size() / std::sqrt(qp), 1e-6);
  std::vector<float> q(w.size());
  lsq_quantize(w.data(), w.size(), bits, s, q.data());
  std::set<float> levels(q.begin(), q.end());
  EXPECT_EQ(levels.size(), 4u);
  for (float l : levels) {
    const float idx = l / s;
    EXPECT_NEAR(idx, std::nearbyint(idx), 1e-5f);
    EXPECT_GE(idx, -qn - 1e-5f);
    EXPECT_LE(idx, qp + 1e-5f);
  }
  // Keep w/s away from the clamp bounds and the rounding midpoints.
  for (float& v : w) {
    const float t = v / s;
    if (std::fabs(t + qn) < 0.02f || std::fabs(t - qp) < 0.02f ||
        std::fabs(t - std::floor(t) - 0.5f) < 0.02f)
      v += 0.05f * s;
  }
  std::vector<float> g(w.size()), dw(w.size(), 0.0f);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> d(-1, 1);
  for (float& v : g) v = d(rng);
  float ds = 0.0f;
  lsq_backward(w.data(), w.size(), bits, s, g.data(), dw.data(), &ds);
  // Surrogate in w: s*clamp(w/s) (round -> identity).
  auto in_w = [&] {
    double sum = 0;
    for (std::size_t i = 0; i < w.size(); ++i)
      sum += g[i] * s * std::fmin(std::fmax(w[i] / s, -qn), qp);
    return sum;
  };
  expect_gradient("lsq dw", w.data(), w.size(), dw.data(), in_w, kSteTol, 400);
  // Surrogate in s: s*(round(v0) + v(s) - v0), scaled by g = 1/sqrt(n*Qp).
  const float s0 = s;
  std::vector<double> v0(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) v0[i] = std::fmin(std::fmax(w[i] / s0, -qn), qp);
  const double gscale = 1.0 / std::sqrt(w.size() * qp);
  auto in_s = [&] {
    double sum = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double v = std::fmin(std::fmax(w[i] / s, -qn), qp);
      sum += g[i] * s * (std::nearbyint(v0[i]) + v - v0[i]);
    }
    return sum * gscale;
  };
  const testing::FdTolerance step_tol{1e-4f * s, 1e-3, 1e-2};
  expect_gradient("lsq ds", &s, 1, &ds, in_s, step_tol, 1);
}

TEST(NnQuantizer, ThirtyTwoBitsIsIdentity) {
  const auto w = gaussian(100, 10);
  std::vector<float> q(w.size()), g(w.size(), 0.5f), dw(w.size(), 0.0f);
  sawb_quantize(w.data(), w.size(), 32, q.data());
  EXPECT_EQ(q, w);
  dorefa_quantize(w.data(), w.size(), 32, q.data());
  EXPECT_EQ(q, w);
  lsq_quantize(w.data(), w.size(), 32, 0.1f, q.data());
  EXPECT_EQ(q, w);
  sawb_backward(w.data(), w.size(), 32, 0.0f, g.data(), dw.data());
  for (float v : dw) EXPECT_EQ(v, 0.5f);
}

TEST(NnQuantizer, ParseNamesAndBits) {
  EXPECT_EQ(parse_quantizer("sawb"), QuantizerKind::kSawb);
  EXPECT_EQ(parse_quantizer("dorefa"), QuantizerKind::kDorefa);
  EXPECT_EQ(parse_quantizer("lsq"), QuantizerKind::kLsq);
  EXPECT_THROW(parse_quantizer("pact"), std::invalid_argument);
  for (int b : {2, 3, 4, 8, 32}) EXPECT_TRUE(is_supported_bits(b));
  for (int b : {0, 1, 5, 16}) EXPECT_FALSE(is_supported_bits(b));
}

}  // namespace
}  // namespace nce::nn
