#include "nce/search/methods.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "nce/search/arch_optimizer.h"

namespace nce::search {
namespace {

TEST(Methods, EveryNameMapsToOneFactoryEntry) {
  const std::vector<std::string>& names = method_names();
  EXPECT_EQ(names, (std::vector<std::string>{"nce", "tas", "wrpn", "random", "none"}));
  std::set<std::string> seen;
  for (const std::string& n : names) {
    EXPECT_TRUE(seen.insert(n).second) << n << " listed twice";
    const std::unique_ptr<Method> m = make_method(n);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->name(), n);
    EXPECT_EQ(m->searches_supernet(), n == "nce" || n == "tas") << n;
  }
}

TEST(Methods, AnUnknownNameIsAnErrorNamingTheKnownOnes) {
  try {
    make_method("darts");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'darts'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nce, tas, wrpn, random, none"), std::string::npos)
        << e.what();
  }
  SearchConfig c;
  c.method = "NCE";
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(ArchOptimizer, TakesTorchAdamStepsWithWeightDecay) {
  std::mt19937_64 rng(1);
  ArchParams arch({3, 16}, rng);
  std::vector<double> alpha = arch.layer(1).alpha;
  ArchOptimizer opt(0.1, 0.5, 0.999, 1e-3);
  const std::vector<std::vector<double>> grad = {std::vector<double>(alpha.size(), 0.0)};
  std::vector<std::vector<double>> g = grad;
  for (std::size_t i = 0; i < alpha.size(); ++i) g[0][i] = 0.1 * (static_cast<double>(i) - 3.5);
  // torch.optim.Adam(lr=0.1, betas=(0.5, 0.999), weight_decay=1e-3), two steps, by hand.
  std::vector<double> m(alpha.size(), 0.0), v(alpha.size(), 0.0);
  for (int t = 1; t <= 2; ++t) {
    opt.step(arch, g);
    for (std::size_t i = 0; i < alpha.size(); ++i) {
      const double gi = g[0][i] + 1e-3 * alpha[i];
      m[i] = 0.5 * m[i] + 0.5 * gi;
      v[i] = 0.999 * v[i] + 0.001 * gi * gi;
      const double mhat = m[i] / (1 - std::pow(0.5, t)), vhat = v[i] / (1 - std::pow(0.999, t));
      alpha[i] -= 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
      EXPECT_NEAR(arch.layer(1).alpha[i], alpha[i], 1e-12) << "step " << t << " entry " << i;
    }
  }
  EXPECT_EQ(opt.steps, 2);
}

}  // namespace
}  // namespace nce::search
