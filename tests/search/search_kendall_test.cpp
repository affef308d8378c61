#include "nce/search/kendall.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nce::search {
namespace {

TEST(Kendall, PerfectOppositeAndTied) {
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 1, 1}, {1, 2, 3}), 0.0);
  // scipy.stats.kendalltau([1,2,3,4,5],[3,1,2,5,4]) = 0.4 (6 concordant, 4 discordant pairs).
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4, 5}, {3, 1, 2, 5, 4}), 0.4, 1e-12);
  // With a tie in b: tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)); pairs: n0 = 6, n2 = 1, C = 5.
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {1, 2, 2, 3}), 5.0 / std::sqrt(6.0 * 5.0), 1e-12);
}

}  // namespace
}  // namespace nce::search
