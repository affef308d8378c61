#include "nce/search/cwi.h"

#include <gtest/gtest.h>

#include <random>

namespace nce::search {
namespace {

constexpr double kCwiGradTolerance = 1e-2;  // float32 central differences, h = 1e-2

TEST(Cwi, RangesFollowTheSpec) {
  int f, l;
  cwi_range(4, 8, 3, f, l);  // floor(12/8)=1, ceil(16/8)=2
  EXPECT_EQ(f, 1);
  EXPECT_EQ(l, 2);
  cwi_range(8, 3, 1, f, l);  // floor(8/3)=2, ceil(16/3)=6
  EXPECT_EQ(f, 2);
  EXPECT_EQ(l, 6);
}

TEST(Cwi, ForwardAveragesTheMappedChannels) {
  nn::Tensor x(1, 3, 1, 2);
  for (int c = 0; c < 3; ++c) {
    x.at(0, c, 0, 0) = static_cast<float>(c);
    x.at(0, c, 0, 1) = static_cast<float>(10 * c);
  }
  nn::Tensor out;
  cwi_forward(x, 2, out);  // o=0: channels [0,2) -> 0.5; o=1: [1,3) -> 1.5
  EXPECT_FLOAT_EQ(out.at(0, 0, 0, 0), 0.5f);
  EXPECT_FLOAT_EQ(out.at(0, 1, 0, 0), 1.5f);
  EXPECT_FLOAT_EQ(out.at(0, 1, 0, 1), 15.0f);
  cwi_forward(x, 6, out);  // widening duplicates: o -> floor(o/2)
  EXPECT_FLOAT_EQ(out.at(0, 5, 0, 1), 20.0f);
  EXPECT_FLOAT_EQ(out.at(0, 2, 0, 0), 1.0f);
  cwi_forward(x, 3, out);
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(out.at(0, c, 0, 1), x.at(0, c, 0, 1));
}

TEST(Cwi, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (auto [ic, oc] : {std::pair{5, 9}, std::pair{9, 4}, std::pair{6, 6}}) {
    nn::Tensor x(2, ic, 2, 3), weights(2, oc, 2, 3);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = normal(rng);
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = normal(rng);
    auto loss = [&](const nn::Tensor& in) {
      nn::Tensor out;
      cwi_forward(in, oc, out);
      double s = 0;
      for (std::size_t i = 0; i < out.size(); ++i) s += out[i] * weights[i];
      return s;
    };
    nn::Tensor grad(2, ic, 2, 3);
    grad.set_zero();
    cwi_backward(weights, grad);
    const float h = 1e-2f;
    for (std::size_t i = 0; i < x.size(); ++i) {
      nn::Tensor up = x, down = x;
      up[i] += h;
      down[i] -= h;
      EXPECT_NEAR(grad[i], (loss(up) - loss(down)) / (2 * h), kCwiGradTolerance)
          << ic << "->" << oc << " at " << i;
    }
  }
}

}  // namespace
}  // namespace nce::search
