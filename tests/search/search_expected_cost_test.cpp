#include "nce/search/expected_cost.h"
#include "nce/search/search_run.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nce::search {
namespace {

constexpr double kCostGradRelTolerance = 1e-5;  // double central differences

ArchParams uniform_arch(const models::Network& net) {
  std::mt19937_64 rng(0);
  ArchParams arch(net.widths, rng);
  for (auto& l : arch.layers()) l.alpha.assign(l.alpha.size(), 0.0);
  return arch;
}

TEST(ExpectedCost, ResNet20UniformInitIs16_55MMacs) {
  const models::Network net = models::build_canonical("resnet20");
  const ArchParams arch = uniform_arch(net);
  const ExpectedCost e = expected_cost(net, arch, macs_cost(net));
  EXPECT_NEAR(e.value, 16548912.5, 1e-3);  // hand-derived in docs/algorithm.md §5's counting
  EXPECT_DOUBLE_EQ(std::round(e.value / 1e4) / 1e2, 16.55);
}

TEST(ExpectedCost, ConcreteCostOfTheFullWidthsIsTheNetworksCounts) {
  const models::Network net = models::build_canonical("resnet20");
  EXPECT_DOUBLE_EQ(concrete_cost(net, net.widths, macs_cost(net)), static_cast<double>(net.macs()));
  EXPECT_DOUBLE_EQ(concrete_cost(net, net.widths, params_cost(net)),
                   static_cast<double>(net.params()));
}

// A cost that is not bilinear: a 16-wide array folds channels in steps of 16.
double folded_cost(const models::Network& net, int l, int c_in, int c_out) {
  const models::Layer& layer = net.layers[l];
  const double folds_in = std::ceil(c_in * layer.k * layer.k / 16.0);
  const double folds_out = std::ceil(c_out / 16.0);
  return folds_in * folds_out * layer.h_out * layer.w_out + 0.5 * c_out;
}

void check_gradient(const models::Network& net, ArchParams arch, const LayerCostFn& cost) {
  const ExpectedCost e = expected_cost(net, arch, cost);
  const double h = 1e-5;
  for (int w = 1; w <= arch.num_layers(); ++w) {
    for (size_t m = 0; m < arch.layer(w).alpha.size(); ++m) {
      ArchParams up = arch, down = arch;
      up.layer(w).alpha[m] += h;
      down.layer(w).alpha[m] -= h;
      const double fd =
          (expected_cost(net, up, cost).value - expected_cost(net, down, cost).value) / (2 * h);
      const double analytic = e.grad_alpha[w - 1][m];
      EXPECT_NEAR(analytic, fd, kCostGradRelTolerance * (std::abs(fd) + 1e-3 * e.value))
          << "width index " << w << " candidate " << m;
    }
  }
}

TEST(ExpectedCost, GradientsMatchFiniteDifferences) {
  const models::Network net = models::build_canonical("resnet8");
  std::mt19937_64 rng(11);
  ArchParams arch(net.widths, rng, 1.0);  // a far-from-uniform point
  check_gradient(net, arch, macs_cost(net));
  check_gradient(net, arch, params_cost(net));
  check_gradient(net, arch, [&net](int l, int ci, int co) { return folded_cost(net, l, ci, co); });
}

TEST(ExpectedCost, TasLossSignsAndBand) {
  // Too large: +log E.
  CostLoss a = tas_cost_loss(10.0, 120.0, 100.0, 200.0);
  EXPECT_EQ(a.direction, 1);
  EXPECT_DOUBLE_EQ(a.loss, std::log(10.0));
  EXPECT_DOUBLE_EQ(a.grad_expected, 0.1);
  // Too small: below R - t*R_max = 100 - 10 = 90.
  CostLoss b = tas_cost_loss(10.0, 89.0, 100.0, 200.0);
  EXPECT_EQ(b.direction, -1);
  EXPECT_DOUBLE_EQ(b.grad_expected, -0.1);
  // Inside the band.
  CostLoss c = tas_cost_loss(10.0, 95.0, 100.0, 200.0);
  EXPECT_EQ(c.direction, 0);
  EXPECT_DOUBLE_EQ(c.loss, 0.0);
}

}  // namespace
}  // namespace nce::search

namespace nce::search {
namespace {

TEST(CostAccounting, ConcreteCostsEqualTheDerivedNetworksWithWidthShortcuts) {
  const models::Network base = models::build_canonical("resnet20");
  const CostAccounting acc = cost_accounting(base, true);
  EXPECT_EQ(acc.net.layers.size(), base.layers.size() + 7);  // 7 stride-1 identity blocks
  const std::vector<int> tas = {3,  16, 6,  4,  4,  4,  4,  4,  32, 32,
                                12, 19, 32, 28, 64, 64, 64, 64, 64, 44};
  std::mt19937_64 rng(3);
  ArchParams arch(base.widths, rng);
  std::vector<std::vector<int>> vectors = {base.widths, tas};
  for (int k = 0; k < 20; ++k) {
    std::vector<int> w = {3};
    for (const auto& l : arch.layers()) w.push_back(l.candidates[rng() % l.candidates.size()]);
    vectors.push_back(w);
  }
  for (const auto& w : vectors) {
    const models::Network derived = models::build_canonical("resnet20", w);
    EXPECT_EQ(concrete_cost(acc.net, w, acc.gate(macs_cost(acc.net))),
              static_cast<double>(derived.macs()));
    EXPECT_EQ(concrete_cost(acc.net, w, acc.gate(params_cost(acc.net))),
              static_cast<double>(derived.params()));
  }
  EXPECT_EQ(concrete_cost(acc.net, tas, acc.gate(macs_cost(acc.net))), 22444472.0);
  // TAS's own counting leaves the shortcuts out: the supernet's expected MACs stay 16.55M.
  const CostAccounting tas_acc = cost_accounting(base, false);
  EXPECT_EQ(tas_acc.net.layers.size(), base.layers.size());
}

TEST(CostAccounting, GatedExpectedCostGradientsMatchFiniteDifferences) {
  const models::Network base = models::build_canonical("resnet8");
  const CostAccounting acc = cost_accounting(base, true);
  std::mt19937_64 rng(12);
  ArchParams arch(base.widths, rng, 1.0);
  check_gradient(acc.net, arch, acc.gate(macs_cost(acc.net)));
}

}  // namespace
}  // namespace nce::search
