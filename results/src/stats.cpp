#include "nce/results/stats.h"

#include <cassert>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace nce::results {

namespace {

std::string text(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

// The continued fraction of I_x(a, b) (Abramowitz & Stegun 26.5.8):
//   I_x(a, b) = x^a y^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...))),  y = 1 - x,
//   d(2k+1) = -(a + k)(a + b + k) x / ((a + 2k)(a + 2k + 1)),
//   d(2k)   =  k (b - k) x / ((a + 2k - 1)(a + 2k)).
// It converges quickly for x < (a + 1) / (a + b + 2); the caller uses the symmetry
// I_x(a, b) = 1 - I_y(b, a) otherwise. Evaluated front to back by the modified Lentz method:
// f = b0 + a1 / (b1 + a2 / (b2 + ...)) with b0 = 0, a1 = 1, a(j+1) = dj, bj = 1.
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-16;
  constexpr int kMaxTerms = 20000;
  double f = kTiny, c = kTiny, d = 0;
  for (int j = 1; j <= kMaxTerms; ++j) {
    double numerator = 1;
    if (j > 1) {
      const int m = j - 1;  // the index of d
      const double k = std::floor(m / 2.0);
      numerator = m % 2 == 1 ? -(a + k) * (a + b + k) * x / ((a + 2 * k) * (a + 2 * k + 1))
                             : k * (b - k) * x / ((a + 2 * k - 1) * (a + 2 * k));
    }
    d = 1 + numerator * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    d = 1 / d;
    c = 1 + numerator / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    const double delta = c * d;
    f *= delta;
    if (std::fabs(delta - 1) < kEpsilon) return f;
  }
  assert(false && "incomplete beta continued fraction did not converge");
  return f;
}

// I_x(a, b) with y = 1 - x given separately (no cancellation when x is close to 1).
double incomplete_beta(double a, double b, double x, double y) {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const double log_front =
      a * std::log(x) + b * std::log(y) - (std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
  if (x < (a + 1) / (a + b + 2)) {
    return std::exp(log_front) / a * beta_continued_fraction(a, b, x);
  }
  return 1 - std::exp(log_front) / b * beta_continued_fraction(b, a, y);
}

void check_df(double df) {
  if (!(df > 0)) throw std::invalid_argument("Student t: df must be > 0, got " + text(df));
}

}  // namespace

SampleStats sample_stats(const std::vector<double>& values) {
  SampleStats s;
  s.n = values.size();
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) {
    if (!std::isfinite(v)) throw std::invalid_argument("sample_stats: value " + text(v));
    sum += v;
  }
  const double mean = sum / static_cast<double>(s.n);
  s.mean = mean;
  if (s.n < 2) return s;
  double squares = 0;  // two passes: no cancellation of large means (MACs ~ 1e7)
  for (double v : values) squares += (v - mean) * (v - mean);
  s.sd = std::sqrt(squares / static_cast<double>(s.n - 1));
  return s;
}

WelchTest welch_test(const SampleStats& a, const SampleStats& b) {
  WelchTest w;
  if (a.mean && b.mean) w.difference = *a.mean - *b.mean;
  if (a.n < 2 || b.n < 2) {
    w.reason = "n = " + std::to_string(a.n) + " and " + std::to_string(b.n) + "; needs 2 each";
    return w;
  }
  const double va = *a.sd * *a.sd / static_cast<double>(a.n);
  const double vb = *b.sd * *b.sd / static_cast<double>(b.n);
  const double se2 = va + vb;
  if (!(se2 > 0)) {
    w.reason = "no variance in either";
    return w;
  }
  w.t = *w.difference / std::sqrt(se2);
  w.df =
      se2 * se2 / (va * va / static_cast<double>(a.n - 1) + vb * vb / static_cast<double>(b.n - 1));
  w.p = student_t_two_sided_p(*w.t, *w.df);
  return w;
}

double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !std::isfinite(a) || !std::isfinite(b)) {
    throw std::invalid_argument(
        "incomplete beta: a and b must be finite and > 0, got a = " + text(a) + ", b = " + text(b));
  }
  if (!(x >= 0 && x <= 1)) {
    throw std::invalid_argument("incomplete beta: x must be in [0, 1], got " + text(x));
  }
  return incomplete_beta(a, b, x, 1 - x);
}

double student_t_two_sided_p(double t, double df) {
  check_df(df);
  if (std::isnan(t)) throw std::invalid_argument("Student t: t is NaN");
  if (std::isinf(t)) return 0;
  const double t2 = t * t;
  if (std::isinf(df)) return std::erfc(std::fabs(t) / std::sqrt(2.0));  // the normal limit
  // x = df / (df + t^2), 1 - x = t^2 / (df + t^2); t^2 may overflow to inf: x = 0, p = 0.
  const double x = std::isinf(t2) ? 0 : df / (df + t2);
  const double y = std::isinf(t2) ? 1 : t2 / (df + t2);
  return incomplete_beta(df / 2, 0.5, x, y);
}

double student_t_cdf(double t, double df) {
  const double tail = student_t_two_sided_p(t, df) / 2;  // P(T >= |t|)
  return t > 0 ? 1 - tail : tail;
}

}  // namespace nce::results
