#include "nce/nn/activation.h"

#include <cmath>

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
  const float levels = bits >= 32 ? 0.0f : static_cast<float>((1 << bits) - 1);
  const float step = levels > 0.0f ? clip / levels : 0.0f;
  const float inv_step = levels > 0.0f && clip > 0.0f ? levels / clip : 0.0f;
  detail::parallel_chunks(x.size(), [&](std::size_t b, std::size_t e) {
    if (levels <= 0.0f) {
      for (std::size_t i = b; i < e; ++i) out[i] = std::fmin(std::fmax(in[i], 0.0f), clip);
    } else {
      for (std::size_t i = b; i < e; ++i) {
        const float v = std::fmin(std::fmax(in[i], 0.0f), clip);
        out[i] = std::nearbyint(v * inv_step) * step;
      }
    }
  });
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
