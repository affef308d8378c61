#include "nce/nn/pooling.h"

#include "fixed_sum.h"
#include "parallel.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace nce::nn {

namespace {

// Every output window must overlap the input; a map smaller than its window (a 1-pixel map under
// a 2x2 pool) has no valid output. models::build refuses such networks, so this is a broken
// invariant, reported rather than read out of bounds.
void check_pool_shape(const char* what, const PoolParams& p, const Tensor& x) {
  const bool ok = p.k >= 1 && p.stride >= 1 && p.pad >= 0 && p.pad < p.k &&
                  x.h() + 2 * p.pad >= p.k && x.w() + 2 * p.pad >= p.k;
  if (!ok) {
    throw std::invalid_argument(
        std::string(what) + ": a " + std::to_string(x.h()) + "x" + std::to_string(x.w()) +
        " map is too small for a " + std::to_string(p.k) + "x" + std::to_string(p.k) + " stride-" +
        std::to_string(p.stride) + " pad-" + std::to_string(p.pad) + " window");
  }
}

// For each of x's n*c planes (in parallel when x is large): fn(plane, its input, its output in y).
template <typename Fn>
void for_each_plane(const Tensor& x, Tensor& y, Fn fn) {
  const int planes = x.n() * x.c();
  const std::size_t in_plane = x.plane(), out_plane = y.plane();
#pragma omp parallel for schedule(static) if (x.size() >= detail::kMinParallelElements)
  for (int pl = 0; pl < planes; ++pl) {
    fn(pl, x.data() + static_cast<std::size_t>(pl) * in_plane,
       y.data() + static_cast<std::size_t>(pl) * out_plane);
  }
}

}  // namespace

void max_pool_forward(const PoolParams& p, const Tensor& x, Tensor& y,
                      std::vector<std::int32_t>& argmax) {
  check_pool_shape("max_pool_forward", p, x);
  const int n = x.n(), c = x.c(), h = x.h(), w = x.w();
  const int ho = p.out_size(h), wo = p.out_size(w);
  y.resize(n, c, ho, wo);
  argmax.resize(y.size());
  for_each_plane(x, y, [&](int pl, const float* src, float* dst) {
    std::int32_t* idx = argmax.data() + static_cast<std::size_t>(pl) * ho * wo;
    for (int oy = 0; oy < ho; ++oy) {
      for (int ox = 0; ox < wo; ++ox) {
        float best = -std::numeric_limits<float>::infinity();
        std::int32_t best_i = -1;
        for (int ky = 0; ky < p.k; ++ky) {
          const int iy = oy * p.stride - p.pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < p.k; ++kx) {
            const int ix = ox * p.stride - p.pad + kx;
            if (ix < 0 || ix >= w) continue;
            const float v = src[iy * w + ix];
            if (best_i < 0 || v > best) best = v, best_i = iy * w + ix;
          }
        }
        dst[oy * wo + ox] = best_i < 0 ? 0.0f : best;
        idx[oy * wo + ox] = best_i;
      }
    }
  });
}

void max_pool_backward(const PoolParams& p, const Tensor& x, const Tensor& dy,
                       const std::vector<std::int32_t>& argmax, Tensor& dx) {
  dx.resize_like(x);
  dx.set_zero();
  const int planes = x.n() * x.c();
  const std::size_t in_plane = x.plane(), out_plane = dy.plane();
#pragma omp parallel for schedule(static) if (static_cast <std::size_t>(planes) * in_plane >= \
                                              detail::kMinParallelElements)
  for (int pl = 0; pl < planes; ++pl) {
    float* d = dx.data() + pl * in_plane;
    const float* g = dy.data() + pl * out_plane;
    const std::int32_t* idx = argmax.data() + pl * out_plane;
    for (std::size_t j = 0; j < out_plane; ++j)
      if (idx[j] >= 0) d[idx[j]] += g[j];
  }
}

void avg_pool_forward(const PoolParams& p, const Tensor& x, Tensor& y) {
  check_pool_shape("avg_pool_forward", p, x);
  const int n = x.n(), c = x.c(), h = x.h(), w = x.w();
  const int ho = p.out_size(h), wo = p.out_size(w);
  y.resize(n, c, ho, wo);
  if (p.k == 2 && p.stride == 2 && p.pad == 0 && 2 * ho <= h && 2 * wo <= w) {
    // The TAS shortcut's 2x2 pool: every output reads one 2x2 window, no bounds checks.
    for_each_plane(x, y, [&](int, const float* src, float* dst) {
      for (int oy = 0; oy < ho; ++oy) {
        const float* r0 = src + 2 * oy * w;
        const float* r1 = r0 + w;
        for (int ox = 0; ox < wo; ++ox)
          dst[oy * wo + ox] = 0.25f * (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]);
      }
    });
    return;
  }
  const float inv = 1.0f / static_cast<float>(p.k * p.k);
  for_each_plane(x, y, [&](int, const float* src, float* dst) {
    for (int oy = 0; oy < ho; ++oy) {
      for (int ox = 0; ox < wo; ++ox) {
        float s = 0.0f;
        for (int ky = 0; ky < p.k; ++ky) {
          const int iy = oy * p.stride - p.pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < p.k; ++kx) {
            const int ix = ox * p.stride - p.pad + kx;
            if (ix >= 0 && ix < w) s += src[iy * w + ix];
          }
        }
        dst[oy * wo + ox] = s * inv;
      }
    }
  });
}

void avg_pool_backward(const PoolParams& p, const Tensor& x, const Tensor& dy, Tensor& dx) {
  check_pool_shape("avg_pool_backward", p, x);
  if (dy.h() != p.out_size(x.h()) || dy.w() != p.out_size(x.w())) {
    throw std::invalid_argument("avg_pool_backward: gradient " + std::to_string(dy.h()) + "x" +
                                std::to_string(dy.w()) + " does not match the pooled input");
  }
  const int h = x.h(), w = x.w(), ho = dy.h(), wo = dy.w();
  dx.resize_like(x);
  if (p.k == 2 && p.stride == 2 && p.pad == 0 && h == 2 * ho && w == 2 * wo) {
    // Windows tile the input exactly: write every input once, no zeroing.
    const int planes = x.n() * x.c();
#pragma omp parallel for schedule(static) if (x.size() >= detail::kMinParallelElements)
    for (int pl = 0; pl < planes; ++pl) {
      float* d = dx.data() + static_cast<std::size_t>(pl) * h * w;
      const float* g = dy.data() + static_cast<std::size_t>(pl) * ho * wo;
      for (int oy = 0; oy < ho; ++oy) {
        float* r0 = d + 2 * oy * w;
        float* r1 = r0 + w;
        for (int ox = 0; ox < wo; ++ox) {
          const float v = 0.25f * g[oy * wo + ox];
          r0[2 * ox] = r0[2 * ox + 1] = r1[2 * ox] = r1[2 * ox + 1] = v;
        }
      }
    }
    return;
  }
  dx.set_zero();
  const float inv = 1.0f / static_cast<float>(p.k * p.k);
  const int planes = x.n() * x.c();
#pragma omp parallel for schedule(static) if (static_cast <std::size_t>(planes) *     \
                                                  static_cast <std::size_t>(h) * w >= \
                                              detail::kMinParallelElements)
  for (int pl = 0; pl < planes; ++pl) {
    float* d = dx.data() + static_cast<std::size_t>(pl) * h * w;
    const float* g = dy.data() + static_cast<std::size_t>(pl) * ho * wo;
    for (int oy = 0; oy < ho; ++oy) {
      for (int ox = 0; ox < wo; ++ox) {
        const float v = g[oy * wo + ox] * inv;
        for (int ky = 0; ky < p.k; ++ky) {
          const int iy = oy * p.stride - p.pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < p.k; ++kx) {
            const int ix = ox * p.stride - p.pad + kx;
            if (ix >= 0 && ix < w) d[iy * w + ix] += v;
          }
        }
      }
    }
  }
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const int planes = x.n() * x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  y.resize(x.n(), x.c(), 1, 1);
  const float inv = 1.0f / static_cast<float>(hw);
#pragma omp parallel for schedule(static) if (static_cast <std::size_t>(planes) *  \
                                                  static_cast <std::size_t>(hw) >= \
                                              detail::kMinParallelElements)
  for (int pl = 0; pl < planes; ++pl) {
    // fixed_sum.h's order (Eigen's sum() follows the SIMD width).
    y[pl] = detail::fixed_order_sum(x.data() + static_cast<std::size_t>(pl) * hw,
                                    static_cast<std::size_t>(hw)) *
            inv;
  }
}

void global_avg_pool_backward(const Tensor& dy, int h, int w, Tensor& dx) {
  const int planes = dy.n() * dy.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(h) * w;
  dx.resize(dy.n(), dy.c(), h, w);
  const float inv = 1.0f / static_cast<float>(hw);
#pragma omp parallel for schedule(static) if (static_cast <std::size_t>(planes) *  \
                                                  static_cast <std::size_t>(hw) >= \
                                              detail::kMinParallelElements)
  for (int pl = 0; pl < planes; ++pl) {
    ArrayMap(dx.data() + static_cast<std::size_t>(pl) * hw, hw).setConstant(dy[pl] * inv);
  }
}

}  // namespace nce::nn
