#include "nce/nn/linear.h"

#include <cassert>
#include <cstddef>

#include "fixed_sum.h"

namespace nce::nn {

// Plain loops rather than Eigen's GEMM, whose order of additions (and use of FMA) follows the
// instruction set the file is compiled for: the portable and the -march=native build must train
// to the same numbers (fixed_sum.h). The layer is the network's head (ResNet-20: 64 x 10), a
// negligible share of a step.
void linear_forward(const LinearParams& p, const Tensor& x, const float* weight, const float* bias,
                    Tensor& y) {
  const int n = x.n();
  assert(static_cast<std::size_t>(p.in) * n == x.size());
  y.resize(n, p.out);
  const std::size_t in = static_cast<std::size_t>(p.in), ld = static_cast<std::size_t>(p.ld());
  for (int i = 0; i < n; ++i) {
    const float* xi = x.data() + static_cast<std::size_t>(i) * in;
    float* yi = y.data() + static_cast<std::size_t>(i) * p.out;
    for (int o = 0; o < p.out; ++o) {
      yi[o] = detail::fixed_order_dot(xi, weight + static_cast<std::size_t>(o) * ld, in);
      if (bias) yi[o] += bias[o];
    }
  }
}

// Every gradient adds over the batch or the outputs in ascending order, one element at a time.
void linear_backward(const LinearParams& p, const Tensor& x, const float* weight, const Tensor& dy,
                     float* dweight, float* dbias, Tensor* dx) {
  const int n = x.n();
  const std::size_t in = static_cast<std::size_t>(p.in), ld = static_cast<std::size_t>(p.ld());
  const float* g = dy.data();
  if (dweight) {
    for (int o = 0; o < p.out; ++o) {
      float* dw = dweight + static_cast<std::size_t>(o) * ld;
      for (int i = 0; i < n; ++i) {
        const float go = g[static_cast<std::size_t>(i) * p.out + o];
        const float* xi = x.data() + static_cast<std::size_t>(i) * in;
        for (std::size_t k = 0; k < in; ++k) dw[k] += go * xi[k];
      }
    }
  }
  if (dbias) {
    for (int i = 0; i < n; ++i) {
      for (int o = 0; o < p.out; ++o) dbias[o] += g[static_cast<std::size_t>(i) * p.out + o];
    }
  }
  if (dx) {
    dx->resize_like(x);
    for (int i = 0; i < n; ++i) {
      float* di = dx->data() + static_cast<std::size_t>(i) * in;
      const float* gi = g + static_cast<std::size_t>(i) * p.out;
      for (std::size_t k = 0; k < in; ++k) di[k] = 0.0f;
      for (int o = 0; o < p.out; ++o) {
        const float* wo = weight + static_cast<std::size_t>(o) * ld;
        for (std::size_t k = 0; k < in; ++k) di[k] += gi[o] * wo[k];
      }
    }
  }
}

}  // namespace nce::nn
