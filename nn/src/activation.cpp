#include "nce/nn/activation.h"

#include <cmath>

#include "fixed_sum.h"
#include "parallel.h"

namespace nce::nn {

void relu_forward(const Tensor& x, Tensor& y) {
  if (&y != &x) y.resize_like(x);
  const float* in = x.data();
  float* out = y.data();
  detail::parallel_chunks(x.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
  });
}

void relu_backward(const Tensor& x, const Tensor& dy, Tensor& dx) {
  if (&dx != &dy) dx.resize_like(dy);
  const float* in = x.data();
  const float* g = dy.data();
  float* out = dx.data();
  detail::parallel_chunks(x.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = in[i] > 0.0f ? g[i] : 0.0f;
  });
}

void pact_forward(const Tensor& x, float clip, int bits, Tensor& y) {
  if (&y != &x) y.resize_like(x);
  const float* in = x.data();
  float* out = y.data();
  const ActParams::Eval f = ActParams{ActParams::Kind::kPact, clip, bits}.eval();
  detail::parallel_chunks(x.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = f(in[i]);
  });
}

float ActParams::backward(const float* in, float scale, float shift, float* g,
                          std::size_t n) const {
  using Arr = Eigen::Map<Eigen::ArrayXf>;
  using CArr = Eigen::Map<const Eigen::ArrayXf>;
  const Eigen::Index m = static_cast<Eigen::Index>(n);
  CArr x(in, m);
  Arr gr(g, m);
  switch (kind) {
    case Kind::kNone:
      return 0.0f;
    case Kind::kRelu:
      gr = (x * scale + shift > 0.0f).select(gr, 0.0f);
      return 0.0f;
    case Kind::kPact: {
      // The clip's gradient in fixed_sum.h's order (Eigen's sum() follows the SIMD width).
      const float at = detail::fixed_order_sum(
          n, [&](std::size_t i) { return in[i] * scale + shift >= clip ? g[i] : 0.0f; });
      gr = ((x * scale + shift >= 0.0f) && (x * scale + shift <= clip)).select(gr, 0.0f);
      return at;
    }
  }
  return 0.0f;
}

void pact_backward(const Tensor& x, float clip, const Tensor& dy, Tensor& dx, float* dclip) {
  if (&dx != &dy) dx.resize_like(dy);
  const float* in = x.data();
  const float* g = dy.data();
  float* out = dx.data();
  const double s = detail::parallel_sum(x.size(), [&](std::size_t b, std::size_t e) {
    float acc = 0.0f;
    for (std::size_t i = b; i < e; ++i) {
      const float v = in[i], gi = g[i];
      acc += v >= clip ? gi : 0.0f;
      out[i] = (v >= 0.0f && v <= clip) ? gi : 0.0f;
    }
    return static_cast<double>(acc);
  });
  *dclip += static_cast<float>(s);
}

}  // namespace nce::nn
