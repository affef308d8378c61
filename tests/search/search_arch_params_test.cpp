#include "nce/search/arch_params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace nce::search {
namespace {

TEST(ChannelCandidates, MatchTheSpec) {
  EXPECT_EQ(channel_candidates(16), (std::vector<int>{4, 6, 8, 9, 11, 12, 14, 16}));
  EXPECT_EQ(channel_candidates(32), (std::vector<int>{9, 12, 16, 19, 22, 25, 28, 32}));
  EXPECT_EQ(channel_candidates(64), (std::vector<int>{19, 25, 32, 38, 44, 51, 57, 64}));
  EXPECT_EQ(channel_candidates(3), (std::vector<int>{1, 2, 3}));
  EXPECT_THROW(channel_candidates(0), std::invalid_argument);
}

TEST(ExpansionWidth, GrowsByATenthEachTime) {
  EXPECT_EQ(expansion_width(16, 1), 17);
  EXPECT_EQ(expansion_width(16, 2), 19);
  EXPECT_EQ(expansion_width(64, 1), 70);
  EXPECT_EQ(expansion_width(64, 8), 115);
  // Never stalls on tiny layers.
  EXPECT_EQ(expansion_width(4, 1), 5);
  EXPECT_EQ(expansion_width(4, 2), 6);
}

TEST(ArchParams, InitIsNearlyUniformAndDerivesTheArgmax) {
  std::mt19937_64 rng(1);
  ArchParams arch({3, 16, 32}, rng);
  ASSERT_EQ(arch.num_layers(), 2);
  for (double p : arch.probabilities(1)) EXPECT_NEAR(p, 1.0 / 8, 0.01);
  arch.layer(1).alpha[2] = 5;
  arch.layer(2).alpha[7] = 5;
  EXPECT_EQ(arch.derive(3), (std::vector<int>{3, 8, 32}));
  EXPECT_EQ(arch.max_widths(3), (std::vector<int>{3, 16, 32}));
}

TEST(ArchParams, ExpansionFiresExactlyAtTheThreshold) {
  std::mt19937_64 rng(2);
  ArchParams arch({3, 16}, rng);
  LayerChoice& l = arch.layer(1);
  l.alpha.assign(8, 0.0);
  // p(largest) = e^a / (7 + e^a); choose a so p is just below, then just above T = 0.3.
  const double T = 0.3;
  const double a_at = std::log(T * 7 / (1 - T));
  l.alpha[7] = a_at - 1e-6;
  EXPECT_FALSE(arch.maybe_expand(1, T, 16));
  EXPECT_EQ(l.candidates.size(), 8u);
  l.alpha[7] = a_at + 1e-6;
  EXPECT_TRUE(arch.maybe_expand(1, T, 16));
  ASSERT_EQ(l.candidates.size(), 9u);
  EXPECT_EQ(l.candidates.back(), 17);
  EXPECT_DOUBLE_EQ(l.alpha[8], l.alpha[7]);  // alpha copied from the largest candidate
  EXPECT_EQ(l.expansions, 1);
  // The copied alpha splits the mass: right after an expansion, p(largest) halves, so a second
  // check does not fire unless training pushed it up again.
  l.alpha.assign(l.alpha.size(), 0.0);
  l.alpha.back() = 50;
  EXPECT_TRUE(arch.maybe_expand(1, T, 16));   // 10 candidates, two at 50
  EXPECT_TRUE(arch.maybe_expand(1, T, 16));   // p = 1/2 >= T: 11, three at 50
  EXPECT_TRUE(arch.maybe_expand(1, T, 16));   // p = 1/3 >= T: 12, four at 50
  EXPECT_FALSE(arch.maybe_expand(1, T, 16));  // p = 1/4 < T
  EXPECT_EQ(l.candidates.size(), 12u);
  // The cap on candidates holds however often the largest wins.
  int grown = 3;
  while (true) {
    l.alpha.assign(l.alpha.size(), 0.0);
    l.alpha.back() = 50;
    if (!arch.maybe_expand(1, T, 16)) break;
    ++grown;
  }
  EXPECT_EQ(grown, 7);
  EXPECT_EQ(l.candidates.size(), 16u);
  for (size_t i = 1; i < l.candidates.size(); ++i) EXPECT_GT(l.candidates[i], l.candidates[i - 1]);
}

TEST(Gumbel, ArgmaxOfPerturbedLogitsFollowsSoftmaxAlpha) {
  // At a small tau the first draw is the Gumbel-max sample: distributed as softmax(alpha).
  std::mt19937_64 rng(3);
  const std::vector<double> alpha = {0.5, -1.0, 1.5, 0.0};
  const std::vector<double> p = softmax(alpha);
  const int trials = 40000;
  std::vector<int> counts(alpha.size(), 0);
  for (int t = 0; t < trials; ++t) {
    GumbelDraw d = gumbel_draw(alpha, 0.01, rng);
    EXPECT_NE(d.index[0], d.index[1]);
    ++counts[d.index[0]];
  }
  double chi2 = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double expected = p[i] * trials;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  // 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
  EXPECT_LT(chi2, 16.27);
}

TEST(Gumbel, MixingWeightsAreSoftmaxOfTheDrawnZ) {
  std::mt19937_64 rng(4);
  GumbelDraw d = gumbel_draw({0.1, 0.2, 0.3}, 2.0, rng);
  const double a = d.z[d.index[0]], b = d.z[d.index[1]];
  EXPECT_NEAR(d.weight[0], std::exp(a) / (std::exp(a) + std::exp(b)), 1e-12);
  EXPECT_NEAR(d.weight[0] + d.weight[1], 1.0, 1e-12);
}

TEST(Gumbel, BackwardMatchesFiniteDifferences) {
  // L = 3*w0 - 2*w1 for a fixed Gumbel noise: recompute z from alpha with the same g.
  std::mt19937_64 rng(5);
  const std::vector<double> alpha = {0.3, -0.2, 0.7, 0.1, -0.5};
  const double tau = 1.7;
  GumbelDraw d = gumbel_draw(alpha, tau, rng);
  const std::vector<double> p = softmax(alpha);
  std::vector<double> g(alpha.size());
  for (size_t i = 0; i < alpha.size(); ++i) g[i] = d.z[i] * tau - std::log(p[i]);
  auto loss = [&](const std::vector<double>& al) {
    const std::vector<double> q = softmax(al);
    const double za = (std::log(q[d.index[0]]) + g[d.index[0]]) / tau;
    const double zb = (std::log(q[d.index[1]]) + g[d.index[1]]) / tau;
    const std::vector<double> w = softmax({za, zb});
    return 3 * w[0] - 2 * w[1];
  };
  const double grad_w[2] = {3, -2};
  std::vector<double> grad(alpha.size(), 0.0);
  gumbel_backward(d, grad_w, grad);
  const double h = 1e-6;
  for (size_t m = 0; m < alpha.size(); ++m) {
    std::vector<double> up = alpha, down = alpha;
    up[m] += h;
    down[m] -= h;
    EXPECT_NEAR(grad[m], (loss(up) - loss(down)) / (2 * h), 1e-7) << m;
  }
}

TEST(TauSchedule, CosineFromFiveToATenth) {
  EXPECT_DOUBLE_EQ(tau_schedule(0, 11), 5.0);
  EXPECT_NEAR(tau_schedule(5, 11), 2.55, 1e-12);
  EXPECT_NEAR(tau_schedule(10, 11), 0.1, 1e-12);
}

}  // namespace
}  // namespace nce::search
