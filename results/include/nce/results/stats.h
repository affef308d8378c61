// Small-sample statistics for comparing the arms of a campaign over their seeds: mean and sample
// standard deviation, Welch's unequal-variance t-test (Welch-Satterthwaite degrees of freedom)
// and the Student-t distribution behind its two-sided p-value, computed through the regularized
// incomplete beta function (a continued fraction evaluated by the modified Lentz method).
//
// Nothing here returns NaN: a statistic that is undefined for the data (a standard deviation of
// one value, a t of two samples without variance) is an empty std::optional with the reason in
// words, so that tables print "n/a (reason)". Arguments outside a function's domain (df <= 0,
// x outside [0, 1], NaN) throw std::invalid_argument naming the argument and value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace nce::results {

struct SampleStats {
  std::size_t n = 0;
  std::optional<double> mean;  // none when n == 0
  std::optional<double> sd;  // sample standard deviation (n - 1 in the denominator); none if n < 2
};

// Values must be finite (std::invalid_argument otherwise).
SampleStats sample_stats(const std::vector<double>& values);

struct WelchTest {
  std::optional<double> difference;  // mean(a) - mean(b); none when either sample is empty
  // t = difference / sqrt(sa^2/na + sb^2/nb); df = (sa^2/na + sb^2/nb)^2 /
  // ((sa^2/na)^2/(na-1) + (sb^2/nb)^2/(nb-1)); p = P(|T_df| >= |t|). All three or none.
  std::optional<double> t, df, p;
  std::string reason;  // why t, df and p are missing, e.g. "n = 1 and 3; needs 2 each"; "" if set
};

// Welch's t-test of the difference of the means of a and b (two-sided). Needs n >= 2 in both and
// a non-zero variance in at least one (else t is undefined: reason says which).
WelchTest welch_test(const SampleStats& a, const SampleStats& b);

// I_x(a, b) = B(x; a, b) / B(a, b), a > 0, b > 0, 0 <= x <= 1.
double regularized_incomplete_beta(double a, double b, double x);

// P(T <= t) for Student's t with df > 0 degrees of freedom (df need not be an integer; t may be
// +-infinity).
double student_t_cdf(double t, double df);
// P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
double student_t_two_sided_p(double t, double df);

}  // namespace nce::results
