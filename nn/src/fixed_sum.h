// Internal: sums whose order of additions does not depend on the instruction set the file is
// compiled for. Eigen's sum() and GEMM add in packets of their SIMD width (4 floats at the x86-64
// baseline, 16 with AVX-512) and fuse multiply-adds where FMA exists, so the portable build and a
// -march=native one rounded differently (nn/CMakeLists.txt). Here lane j (of 16) adds terms j,
// j + 16, j + 32, ..., the lanes are then added as a fixed tree (j + 8, j + 4, j + 2, j + 1) and
// the tail terms in order: the same float operations whatever width the compiler vectorizes the
// lanes to (it does not reassociate float additions without -ffast-math; multiply-adds stay
// unfused: x86-64's baseline has no FMA, and NCE_NATIVE_ARCH builds with -ffp-contract=off).
#pragma once

#include <cstddef>

namespace nce::nn::detail {

constexpr std::size_t kSumLanes = 16;

// term(0) + ... + term(n - 1) in the order above; term(i) is a float.
template <class Term>
float fixed_order_sum(std::size_t n, Term term) {
  float lane[kSumLanes] = {};
  std::size_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes) {
    for (std::size_t j = 0; j < kSumLanes; ++j) lane[j] += term(i + j);
  }
  for (std::size_t width = kSumLanes / 2; width > 0; width /= 2) {
    for (std::size_t j = 0; j < width; ++j) lane[j] += lane[j + width];
  }
  float s = lane[0];
  for (; i < n; ++i) s += term(i);
  return s;
}

inline float fixed_order_sum(const float* x, std::size_t n) {
  return fixed_order_sum(n, [x](std::size_t i) { return x[i]; });
}

// The dot product of a[0..n) and b[0..n), in the same order.
inline float fixed_order_dot(const float* a, const float* b, std::size_t n) {
  return fixed_order_sum(n, [a, b](std::size_t i) { return a[i] * b[i]; });
}

}  // namespace nce::nn::detail
