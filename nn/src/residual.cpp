#include "nce/nn/residual.h"

#include "parallel.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <vector>

namespace nce::nn {
namespace {
// Elements per block of the fused add + activation loops (2 KiB).
constexpr std::size_t kBlock = 512;
}  // namespace

void residual_add(const Tensor& a, const Tensor& b, Tensor& y) {
  assert(a.n() == b.n() && a.h() == b.h() && a.w() == b.w());
  const Tensor& wide = a.c() >= b.c() ? a : b;
  const Tensor& narrow = a.c() >= b.c() ? b : a;
  assert(&y != &narrow || a.c() == b.c());
  const int n = a.n(), cw = wide.c(), cn = narrow.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(a.plane());
  if (&y != &wide && &y != &narrow) y.resize_like(wide);
#pragma omp parallel for schedule(dynamic, \
                                  4) if (a.size() + b.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    float* yi = y.data() + static_cast<std::size_t>(i) * cw * hw;
    const float* wi = wide.data() + static_cast<std::size_t>(i) * cw * hw;
    const float* ni = narrow.data() + static_cast<std::size_t>(i) * cn * hw;
    const Eigen::Index head = cn * hw, all = cw * hw;
    ArrayMap(yi, head) = ConstArrayMap(wi, head) + ConstArrayMap(ni, head);
    if (yi != wi && all > head)
      std::memcpy(yi + head, wi + head, sizeof(float) * static_cast<std::size_t>(all - head));
  }
}

void residual_add_backward(const Tensor& dy, int c, Tensor& d, bool accumulate) {
  assert(c <= dy.c());
  const int n = dy.n(), cy = dy.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(dy.plane());
  if (!accumulate) d.resize(n, c, dy.h(), dy.w());
  assert(d.n() == n && d.c() == c);
#pragma omp parallel for schedule(static) if (dy.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    const float* g = dy.data() + static_cast<std::size_t>(i) * cy * hw;
    float* o = d.data() + static_cast<std::size_t>(i) * c * hw;
    if (accumulate) {
      ArrayMap(o, c * hw) += ConstArrayMap(g, c * hw);
    } else if (o != g) {
      std::memcpy(o, g, sizeof(float) * static_cast<std::size_t>(c * hw));
    }
  }
}

void residual_add_act_forward(const ActParams& act, const Tensor& a, const Tensor& b, Tensor& y) {
  assert(a.n() == b.n() && a.h() == b.h() && a.w() == b.w());
  const Tensor& wide = a.c() >= b.c() ? a : b;
  const Tensor& narrow = a.c() >= b.c() ? b : a;
  const int n = a.n(), cw = wide.c(), cn = narrow.c();
  const std::size_t hw = a.plane();
  y.resize_like(wide);
  const ActParams::Eval f = act.eval();
#pragma omp parallel for schedule(dynamic, \
                                  4) if (a.size() + b.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    const std::size_t head = cn * hw, all = cw * hw;
    const float* wi = wide.data() + i * all;
    const float* ni = narrow.data() + i * head;
    float* yi = y.data() + i * all;
    // Add and activate in L1-sized blocks (one pass over y instead of two).
    for (std::size_t s = 0; s < head; s += kBlock) {
      const std::size_t e = std::min(head, s + kBlock);
      for (std::size_t j = s; j < e; ++j) yi[j] = wi[j] + ni[j];
      ActParams::apply(f, yi + s, 1.0f, 0.0f, yi + s, e - s);
    }
    ActParams::apply(f, wi + head, 1.0f, 0.0f, yi + head, all - head);
  }
}

void residual_add_act_backward(const ActParams& act, const Tensor& a, const Tensor& b, Tensor& g,
                               float* dclip) {
  const Tensor& wide = a.c() >= b.c() ? a : b;
  const Tensor& narrow = a.c() >= b.c() ? b : a;
  const int n = a.n(), cw = wide.c(), cn = narrow.c();
  const std::size_t hw = a.plane();
  std::vector<double> part(static_cast<std::size_t>(n), 0.0);
#pragma omp parallel for schedule(dynamic, \
                                  4) if (a.size() + b.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    const std::size_t head = cn * hw, all = cw * hw;
    const float* wi = wide.data() + i * all;
    const float* ni = narrow.data() + i * head;
    float* gi = g.data() + i * all;
    // The sum of the head channels, rebuilt block by block in an L1-sized buffer.
    float sum[kBlock];
    float sc = 0.0f;
    for (std::size_t s = 0; s < head; s += kBlock) {
      const std::size_t e = std::min(head, s + kBlock);
      for (std::size_t j = s; j < e; ++j) sum[j - s] = wi[j] + ni[j];
      sc += act.backward(sum, 1.0f, 0.0f, gi + s, e - s);
    }
    sc += act.backward(wi + head, 1.0f, 0.0f, gi + head, all - head);
    part[static_cast<std::size_t>(i)] = sc;
  }
  if (act.kind == ActParams::Kind::kPact && dclip) {
    double s = 0.0;
    for (double v : part) s += v;
    *dclip += static_cast<float>(s);
  }
}

}  // namespace nce::nn
