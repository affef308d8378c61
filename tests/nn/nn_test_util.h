// Finite-difference helpers shared by the nn_*_test.cpp files.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "nce/nn/tensor.h"

namespace nce::nn::testing {

inline void fill_uniform(Tensor& t, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = d(rng);
}

// Values in [-1, 1] at least `gap` away from every point in `kinks` (so that a finite difference
// of step < gap never crosses a kink of a piecewise-linear op).
inline void fill_away_from(Tensor& t, std::mt19937& rng, std::initializer_list<float> kinks,
                           float gap, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  for (std::size_t i = 0; i < t.size(); ++i) {
    float v;
    do {
      v = d(rng);
    } while (
        std::any_of(kinks.begin(), kinks.end(), [&](float k) { return std::fabs(v - k) < gap; }));
    t[i] = v;
  }
}

// sum_i r_i * y_i in double.
inline double dot(const Tensor& r, const Tensor& y) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += static_cast<double>(r[i]) * y[i];
  return s;
}

// The loss sum_i r_i * y_i of y = forward(y) (a fresh output each call), to hand to
// expect_gradient; `r` and what `forward` captures must outlive the loss.
template <class Forward>
std::function<double()> probe_loss(const Tensor& r, Forward forward) {
  return [&r, forward] {
    Tensor y;
    forward(y);
    return dot(r, y);
  };
}

struct FdTolerance {
  float step;      // finite-difference step
  double abs_tol;  // allowed |analytic - numeric| ...
  double rel_tol;  // ... + rel_tol * max(|analytic|, |numeric|)
  // Fraction of checked entries allowed outside the bound: whole ReLU networks have kinks that a
  // step may cross (a wiring bug shows up in most entries of a tensor, not in a few).
  double outlier_fraction = 0.0;
};

// Compares analytic[i] with the central difference of loss() in x[i] for up to max_checks
// indices spread over x. Restores x.
inline void expect_gradient(const std::string& what, float* x, std::size_t n, const float* analytic,
                            const std::function<double()>& loss, const FdTolerance& tol,
                            std::size_t max_checks = 48) {
  const std::size_t stride = std::max<std::size_t>(1, n / max_checks);
  int failures = 0, checked = 0;
  for (std::size_t i = 0; i < n; i += stride) {
    const float saved = x[i];
    x[i] = saved + tol.step;
    const double up = loss();
    x[i] = saved - tol.step;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2.0 * static_cast<double>(tol.step));
    ++checked;
    const double a = analytic[i];
    const double bound = tol.abs_tol + tol.rel_tol * std::max(std::fabs(a), std::fabs(numeric));
    if (std::fabs(a - numeric) > bound) {
      ++failures;
      if (tol.outlier_fraction == 0.0 && failures <= 5)
        ADD_FAILURE() << what << "[" << i << "]: analytic " << a << " vs numeric " << numeric;
    }
  }
  EXPECT_LE(failures, static_cast<int>(std::ceil(tol.outlier_fraction * checked)))
      << what << ": " << failures << " of " << checked << " entries off";
}

inline void expect_gradient(const std::string& what, Tensor& x, const Tensor& analytic,
                            const std::function<double()>& loss, const FdTolerance& tol,
                            std::size_t max_checks = 48) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  expect_gradient(what, x.data(), x.size(), analytic.data(), loss, tol, max_checks);
}

}  // namespace nce::nn::testing
