// The statistics behind the seed comparison: mean/sd, Welch's t and df computed by hand, and the
// Student-t p-value against published values, closed forms (df = 1, 2) and a numeric integration
// of the density.
#include "nce/results/stats.h"

#include <cmath>
#include <stdexcept>

#include <gtest/gtest.h>

namespace nce::results {
namespace {

// Published values are quoted to 8 significant digits; our continued fraction is good to ~1e-14.
constexpr double kTableTolerance = 5e-9;
constexpr double kClosedFormTolerance = 1e-12;
constexpr double kIntegrationTolerance = 1e-10;

// Student-t density with df degrees of freedom.
double t_density(double t, double df) {
  return std::exp(std::lgamma((df + 1) / 2) - std::lgamma(df / 2)) / std::sqrt(df * M_PI) *
         std::pow(1 + t * t / df, -(df + 1) / 2);
}

// Composite Simpson's rule of f over [a, b] with n (even) intervals.
template <typename F>
double simpson(F f, double a, double b, int n) {
  const double h = (b - a) / n;
  double sum = f(a) + f(b);
  for (int i = 1; i < n; ++i) sum += f(a + i * h) * (i % 2 ? 4 : 2);
  return sum * h / 3;
}

TEST(Stats, MeanAndSampleStandardDeviation) {
  // {2, 4, 4, 4, 5, 5, 7, 9}: mean 5, squared deviations sum to 32, sd = sqrt(32 / 7).
  SampleStats s = sample_stats({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(s.n, 8u);
  EXPECT_DOUBLE_EQ(*s.mean, 5);
  EXPECT_DOUBLE_EQ(*s.sd, std::sqrt(32.0 / 7.0));
  // Large values, tiny spread (MACs of near-identical designs): two passes keep it exact.
  s = sample_stats({40813184, 40813186});
  EXPECT_DOUBLE_EQ(*s.mean, 40813185);
  EXPECT_DOUBLE_EQ(*s.sd, std::sqrt(2.0));
  s = sample_stats({81.5});
  EXPECT_EQ(s.n, 1u);
  EXPECT_DOUBLE_EQ(*s.mean, 81.5);
  EXPECT_FALSE(s.sd.has_value());
  s = sample_stats({});
  EXPECT_FALSE(s.mean.has_value());
  EXPECT_THROW(sample_stats({1, NAN}), std::invalid_argument);
}

TEST(Stats, WelchByHand) {
  // a = {1, 2, 3, 4}: mean 2.5, s^2 = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3.
  // b = {2, 4, 6}:    mean 4,   s^2 = (4 + 0 + 4) / 2 = 4.
  // s^2/n: 5/12 and 4/3; their sum 21/12 = 7/4. t = (2.5 - 4) / sqrt(7/4) = -1.5 / sqrt(1.75).
  // df = (7/4)^2 / ((5/12)^2 / 3 + (4/3)^2 / 2) = (49/16) / (25/432 + 384/432)
  //    = (49/16) * (432/409) = 1323/409 = 3.2347...
  const WelchTest w = welch_test(sample_stats({1, 2, 3, 4}), sample_stats({2, 4, 6}));
  ASSERT_TRUE(w.t && w.df && w.p) << w.reason;
  EXPECT_DOUBLE_EQ(*w.difference, -1.5);
  EXPECT_NEAR(*w.t, -1.5 / std::sqrt(1.75), 1e-14);
  EXPECT_NEAR(*w.df, 1323.0 / 409.0, 1e-13);
  // p for that t and df by integrating the density: 1 - 2 * integral_0^|t|.
  const double df = 1323.0 / 409.0, t = 1.5 / std::sqrt(1.75);
  const double p = 1 - 2 * simpson([&](double x) { return t_density(x, df); }, 0, t, 20000);
  EXPECT_NEAR(*w.p, p, kIntegrationTolerance);
  // Symmetric: b against a flips t, keeps df and p.
  const WelchTest r = welch_test(sample_stats({2, 4, 6}), sample_stats({1, 2, 3, 4}));
  EXPECT_NEAR(*r.t, -*w.t, 1e-14);
  EXPECT_DOUBLE_EQ(*r.df, *w.df);
  EXPECT_NEAR(*r.p, *w.p, 1e-15);
}

TEST(Stats, WelchOneSampleWithoutVarianceIsFine) {
  // The original's MACs do not change with the seed: s_b = 0, so df = n_a - 1 and
  // t = (mean_a - mean_b) / (s_a / sqrt(n_a)). a = {10, 12, 14}: mean 12, s = 2; b = {11, 11}.
  const WelchTest w = welch_test(sample_stats({10, 12, 14}), sample_stats({11, 11}));
  ASSERT_TRUE(w.t) << w.reason;
  EXPECT_NEAR(*w.t, 1 / (2 / std::sqrt(3.0)), 1e-14);
  EXPECT_NEAR(*w.df, 2, 1e-14);
  // df = 2 has the closed form p = 1 - |t| / sqrt(2 + t^2).
  EXPECT_NEAR(*w.p, 1 - *w.t / std::sqrt(2 + *w.t * *w.t), kClosedFormTolerance);
}

TEST(Stats, WelchUndefinedCasesSayWhy) {
  WelchTest w = welch_test(sample_stats({80.1}), sample_stats({81, 82, 83}));
  EXPECT_FALSE(w.t || w.df || w.p);
  EXPECT_NEAR(*w.difference, -1.9, 1e-12);  // the difference of means still exists
  EXPECT_EQ(w.reason, "n = 1 and 3; needs 2 each");
  w = welch_test(sample_stats({5, 5, 5}), sample_stats({7, 7}));
  EXPECT_FALSE(w.t || w.df || w.p);
  EXPECT_DOUBLE_EQ(*w.difference, -2);
  EXPECT_EQ(w.reason, "no variance in either");
  w = welch_test(sample_stats({}), sample_stats({1, 2}));
  EXPECT_FALSE(w.difference || w.t);
}

TEST(Stats, TwoSidedPAgainstPublishedValues) {
  // Two-sided tail probabilities of Student's t (e.g. R: 2 * pt(-t, df)).
  EXPECT_NEAR(student_t_two_sided_p(2.0, 10), 0.07338803, kTableTolerance);
  EXPECT_NEAR(student_t_two_sided_p(1.0, 5), 0.36321747, kTableTolerance);
  EXPECT_NEAR(student_t_two_sided_p(-1.0, 5), 0.36321747, kTableTolerance);
  // The 97.5% quantile of t with 10 df is 2.228138852: two-sided p = 0.05.
  EXPECT_NEAR(student_t_two_sided_p(2.228138852, 10), 0.05, 1e-9);
  // df -> infinity is the normal: 2 * (1 - Phi(1.959963985)) = 0.05.
  EXPECT_NEAR(student_t_two_sided_p(1.959963985, 1e7), 0.05, 1e-7);
  EXPECT_DOUBLE_EQ(student_t_two_sided_p(0, 3), 1);
  EXPECT_DOUBLE_EQ(student_t_two_sided_p(INFINITY, 3), 0);
  EXPECT_DOUBLE_EQ(student_t_two_sided_p(1e200, 3), 0);  // t^2 overflows
}

TEST(Stats, TwoSidedPClosedForms) {
  // df = 1 (Cauchy): p = 1 - 2 atan(|t|) / pi. df = 2: p = 1 - |t| / sqrt(2 + t^2).
  for (double t : {0.01, 0.5, 1.0, 3.0, 12.7, 300.0}) {
    EXPECT_NEAR(student_t_two_sided_p(t, 1), 1 - 2 * std::atan(t) / M_PI, kClosedFormTolerance)
        << t;
    EXPECT_NEAR(student_t_two_sided_p(t, 2), 1 - t / std::sqrt(2 + t * t), kClosedFormTolerance)
        << t;
  }
}

TEST(Stats, TwoSidedPAgainstNumericIntegration) {
  // t = 3.5, df = 3.2 (a non-integer Welch df): p = 1 - 2 * integral_0^3.5 of the density.
  const double p = 1 - 2 * simpson([](double x) { return t_density(x, 3.2); }, 0, 3.5, 40000);
  EXPECT_NEAR(student_t_two_sided_p(3.5, 3.2), p, kIntegrationTolerance);
  EXPECT_GT(p, 0.03);  // sanity of the integration itself: p ~ 0.0353
  EXPECT_LT(p, 0.04);
  for (double df : {0.7, 4.5, 27.3}) {
    for (double t : {0.3, 1.7, 6.0}) {
      const double q = 1 - 2 * simpson([&](double x) { return t_density(x, df); }, 0, t, 40000);
      EXPECT_NEAR(student_t_two_sided_p(t, df), q, kIntegrationTolerance) << t << " " << df;
    }
  }
}

TEST(Stats, CdfAndIncompleteBeta) {
  EXPECT_NEAR(student_t_cdf(2.0, 10), 1 - 0.07338803 / 2, kTableTolerance);
  EXPECT_NEAR(student_t_cdf(-2.0, 10), 0.07338803 / 2, kTableTolerance);
  EXPECT_DOUBLE_EQ(student_t_cdf(0, 7), 0.5);
  // I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b, I_0.5(a, a) = 0.5.
  for (double x : {0.0, 0.1, 0.37, 0.5, 0.9, 1.0}) {
    EXPECT_NEAR(regularized_incomplete_beta(1, 1, x), x, kClosedFormTolerance);
    EXPECT_NEAR(regularized_incomplete_beta(3.5, 1, x), std::pow(x, 3.5), kClosedFormTolerance);
    EXPECT_NEAR(regularized_incomplete_beta(1, 2.5, x), 1 - std::pow(1 - x, 2.5),
                kClosedFormTolerance);
  }
  EXPECT_NEAR(regularized_incomplete_beta(7.3, 7.3, 0.5), 0.5, kClosedFormTolerance);
  // Against integrating x^(a-1) (1-x)^(b-1) / B(a, b) for a point on each side of the switch.
  for (double x : {0.2, 0.8}) {
    const double a = 2.5, b = 3.0;
    const double beta = std::exp(std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
    const double q = simpson([&](double u) { return std::pow(u, a - 1) * std::pow(1 - u, b - 1); },
                             0, x, 40000) /
                     beta;
    EXPECT_NEAR(regularized_incomplete_beta(a, b, x), q, kIntegrationTolerance) << x;
  }
  EXPECT_THROW(regularized_incomplete_beta(0, 1, 0.5), std::invalid_argument);
  EXPECT_THROW(regularized_incomplete_beta(1, 1, 1.5), std::invalid_argument);
  EXPECT_THROW(student_t_two_sided_p(1, 0), std::invalid_argument);
  EXPECT_THROW(student_t_two_sided_p(NAN, 3), std::invalid_argument);
}

}  // namespace
}  // namespace nce::results
