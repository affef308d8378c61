#include "nce/nn/batch_norm.h"

#include "fixed_sum.h"
#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "batch_norm_kernels.h"
#include "nce/nn/isa.h"

namespace nce::nn {
namespace {

using detail::PlaneSums;

#if NCE_NN_X86_LEVELS
// The AVX2 plane loops run at the AVX2 and AVX-512 levels (nce/nn/isa.h).
bool vector_planes() {
  return active_isa() != Isa::kPortable;
}
#endif

// One pass over a plane: u = x*scale + shift, g *= pass(u) (ActParams::backward) and the sums
// (the same values as ActParams::backward followed by the two sums, up to float reassociation).
PlaneSums act_bn_plane_backward(const ActParams& act, const float* x, float scale, float shift,
                                float mean, float* g, std::size_t n) {
  PlaneSums r{0.0f, 0.0f, 0.0f};
  const bool pact = act.kind == ActParams::Kind::kPact, relu = act.kind == ActParams::Kind::kRelu;
  const float clip = act.clip;
  std::size_t j = 0;
#if NCE_NN_X86_LEVELS
  if (vector_planes()) {
    const detail::PlaneAct kind = pact   ? detail::PlaneAct::kPact
                                  : relu ? detail::PlaneAct::kRelu
                                         : detail::PlaneAct::kNone;
    j = detail::act_bn_plane_backward_avx2(kind, clip, x, scale, shift, mean, g, n, &r);
  }
#endif
  for (; j < n; ++j) {
    const float u = x[j] * scale + shift;
    float gj = g[j];
    if (pact) {
      if (u >= clip) r.clip += gj;
      gj = (u >= 0.0f && u <= clip) ? gj : 0.0f;
      g[j] = gj;
    } else if (relu) {
      gj = u > 0.0f ? gj : 0.0f;
      g[j] = gj;
    }
    r.g += gj;
    r.gx += gj * (x[j] - mean);
  }
  return r;
}

// Batch statistics of channel ch; updates the running statistics and returns
// scale = gamma*inv_std, shift = beta - mean*scale.
void channel_stats(const BatchNormParams& p, const Tensor& x, int ch, const float* gamma,
                   const float* beta, float* running_mean, float* running_var, float* save_mean,
                   float* save_inv_std, float* scale, float* shift) {
  const ChannelStatistics st = batch_norm_channel_statistics(p, x, ch);
  save_mean[ch] = st.mean;
  save_inv_std[ch] = st.inv_std;
  batch_norm_update_running(p, st, &running_mean[ch], &running_var[ch]);
  *scale = gamma[ch] * st.inv_std;
  *shift = beta[ch] - st.mean * *scale;
}

// Training-mode BN of every channel of x into y: the channel's batch statistics (channel_stats,
// which also updates the running and saved ones), then apply(src, scale, shift, dst, hw) on each
// of its n planes.
template <typename Apply>
void normalize_train(const BatchNormParams& p, const Tensor& x, const float* gamma,
                     const float* beta, float* running_mean, float* running_var, float* save_mean,
                     float* save_inv_std, Tensor& y, Apply apply) {
  const int n = x.n(), c = x.c();
  const std::size_t hw = x.plane();
#pragma omp parallel for schedule(dynamic, 1) if (x.size() >= detail::kMinParallelElements)
  for (int ch = 0; ch < c; ++ch) {
    float scale, shift;
    channel_stats(p, x, ch, gamma, beta, running_mean, running_var, save_mean, save_inv_std, &scale,
                  &shift);
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      apply(x.data() + off, scale, shift, y.data() + off, hw);
    }
  }
}

// Eval-mode BN of x into y from the running statistics: apply(src, scale, shift, dst, hw) on
// every plane.
template <typename Apply>
void normalize_eval(const BatchNormParams& p, const Tensor& x, const float* gamma,
                    const float* beta, const float* running_mean, const float* running_var,
                    Tensor& y, Apply apply) {
  const int n = x.n(), c = x.c();
  const std::size_t hw = x.plane();
#pragma omp parallel for schedule(static) collapse(2) if (x.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    for (int ch = 0; ch < c; ++ch) {
      const float scale = gamma[ch] / std::sqrt(running_var[ch] + p.eps);
      const float shift = beta[ch] - running_mean[ch] * scale;
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      apply(x.data() + off, scale, shift, y.data() + off, hw);
    }
  }
}

// The plain BN's apply: dst = src * scale + shift.
void affine_plane(const float* src, float scale, float shift, float* dst, std::size_t hw) {
  const Eigen::Index len = static_cast<Eigen::Index>(hw);
  ArrayMap(dst, len) = ConstArrayMap(src, len) * scale + shift;
}

// The BN + activation's apply, for the activation `f`.
auto act_plane(ActParams::Eval f) {
  return [f](const float* src, float scale, float shift, float* dst, std::size_t hw) {
    ActParams::apply(f, src, scale, shift, dst, hw);
  };
}

}  // namespace

void BatchNormState::init(int channels) {
  for (Tensor* t : {&gamma, &beta, &dgamma, &dbeta, &running_mean, &running_var}) {
    t->resize(1, channels);
  }
  gamma.fill(1.0f);
  beta.set_zero();
  dgamma.set_zero();
  dbeta.set_zero();
  running_mean.set_zero();
  running_var.fill(1.0f);
  save_mean.assign(static_cast<std::size_t>(channels), 0.0f);
  save_inv_std.assign(static_cast<std::size_t>(channels), 1.0f);
}

ChannelStatistics batch_norm_channel_statistics(const BatchNormParams& p, const Tensor& x, int ch) {
  // Shifted by the channel's first element for accuracy.
  const int n = x.n(), c = x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  const double count = static_cast<double>(n) * hw;
  const float k = x.data()[static_cast<std::size_t>(ch) * hw];
  double sum = 0.0, sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const float* a = x.data() + (static_cast<std::size_t>(i) * c + ch) * hw;
    // One pass for both sums (float per plane, as Eigen's sum() was, up to reassociation).
    float ps = 0.0f, pq = 0.0f;
    Eigen::Index j = 0;
#if NCE_NN_X86_LEVELS
    if (vector_planes())
      j = detail::plane_moments_avx2(a, static_cast<std::size_t>(hw), k, &ps, &pq);
#endif
    for (; j < hw; ++j) {
      const float d = a[j] - k;
      ps += d, pq += d * d;
    }
    sum += ps;
    sq += pq;
  }
  const double mean_shifted = sum / count;
  const double var = std::max(0.0, sq / count - mean_shifted * mean_shifted);
  const double mean = mean_shifted + k;
  ChannelStatistics st;
  st.mean = static_cast<float>(mean);
  st.inv_std = static_cast<float>(1.0 / std::sqrt(var + p.eps));
  st.unbiased_var = static_cast<float>(count > 1 ? var * count / (count - 1) : var);
  return st;
}

void batch_norm_update_running(const BatchNormParams& p, const ChannelStatistics& batch,
                               float* running_mean, float* running_var) {
  *running_mean = (1.0f - p.momentum) * *running_mean + p.momentum * batch.mean;
  *running_var = (1.0f - p.momentum) * *running_var + p.momentum * batch.unbiased_var;
}

void batch_norm_act_forward_train(const BatchNormParams& p, const ActParams& act, const Tensor& x,
                                  const float* gamma, const float* beta, float* running_mean,
                                  float* running_var, float* save_mean, float* save_inv_std,
                                  Tensor& y) {
  y.resize_like(x);
  normalize_train(p, x, gamma, beta, running_mean, running_var, save_mean, save_inv_std, y,
                  act_plane(act.eval()));
}

void batch_norm_act_forward_eval(const BatchNormParams& p, const ActParams& act, const Tensor& x,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, Tensor& y) {
  if (&y != &x) y.resize_like(x);
  normalize_eval(p, x, gamma, beta, running_mean, running_var, y, act_plane(act.eval()));
}

void batch_norm_act_backward(const ActParams& act, const Tensor& x, const float* gamma,
                             const float* beta, const float* save_mean, const float* save_inv_std,
                             Tensor& g, float* dgamma, float* dbeta, float* dclip) {
  const int n = x.n(), c = x.c();
  const std::size_t hw = x.plane();
  const double count = static_cast<double>(n) * hw;
  std::vector<double> clip_part(static_cast<std::size_t>(c), 0.0);
#pragma omp parallel for schedule(dynamic, 1) if (x.size() >= detail::kMinParallelElements)
  for (int ch = 0; ch < c; ++ch) {
    const float mean = save_mean[ch], inv_std = save_inv_std[ch];
    const float scale = gamma[ch] * inv_std, shift = beta[ch] - mean * scale;
    double sum_g = 0.0, sum_gx = 0.0, sum_clip = 0.0;
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      const PlaneSums ps =
          act_bn_plane_backward(act, x.data() + off, scale, shift, mean, g.data() + off, hw);
      sum_clip += ps.clip;
      sum_g += ps.g;
      sum_gx += ps.gx;
    }
    clip_part[static_cast<std::size_t>(ch)] = sum_clip;
    const double sum_gxhat = sum_gx * inv_std;
    dgamma[ch] += static_cast<float>(sum_gxhat);
    dbeta[ch] += static_cast<float>(sum_g);
    const float k = gamma[ch] * inv_std;
    const float mdy = static_cast<float>(sum_g / count);
    const float mdx = static_cast<float>(sum_gxhat / count) * inv_std;
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      ArrayMap gr(g.data() + off, static_cast<Eigen::Index>(hw));
      ConstArrayMap xa(x.data() + off, static_cast<Eigen::Index>(hw));
      gr = k * (gr - mdy - (xa - mean) * mdx);
    }
  }
  if (act.kind == ActParams::Kind::kPact && dclip) {
    double s = 0.0;
    for (double v : clip_part) s += v;
    *dclip += static_cast<float>(s);
  }
}

void batch_norm_forward_train(const BatchNormParams& p, const Tensor& x, const float* gamma,
                              const float* beta, float* running_mean, float* running_var,
                              float* save_mean, float* save_inv_std, Tensor& y) {
  if (&y != &x) y.resize_like(x);
  normalize_train(p, x, gamma, beta, running_mean, running_var, save_mean, save_inv_std, y,
                  affine_plane);
}

void batch_norm_forward_eval(const BatchNormParams& p, const Tensor& x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             Tensor& y) {
  if (&y != &x) y.resize_like(x);
  normalize_eval(p, x, gamma, beta, running_mean, running_var, y, affine_plane);
}

void batch_norm_backward(const Tensor& x, const Tensor& dy, const float* gamma,
                         const float* save_mean, const float* save_inv_std, Tensor& dx,
                         float* dgamma, float* dbeta) {
  const int n = x.n(), c = x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  const double count = static_cast<double>(n) * hw;
  if (&dx != &dy) dx.resize_like(x);
#pragma omp parallel for schedule(dynamic, 1) if (x.size() >= detail::kMinParallelElements)
  for (int ch = 0; ch < c; ++ch) {
    const float mean = save_mean[ch], inv_std = save_inv_std[ch];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      const float *g = dy.data() + off, *a = x.data() + off;  // fixed_sum.h's order
      const std::size_t len = static_cast<std::size_t>(hw);
      sum_dy += detail::fixed_order_sum(g, len);
      sum_dy_xhat += detail::fixed_order_sum(len, [&](std::size_t j) { return g[j] * (a[j] - mean); });
    }
    sum_dy_xhat *= inv_std;
    dgamma[ch] += static_cast<float>(sum_dy_xhat);
    dbeta[ch] += static_cast<float>(sum_dy);
    // dx = gamma*inv_std*(dy - mean(dy) - xhat*mean(dy*xhat))
    const float k = gamma[ch] * inv_std;
    const float mdy = static_cast<float>(sum_dy / count);
    const float mdx = static_cast<float>(sum_dy_xhat / count);
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      ConstArrayMap g(dy.data() + off, hw), a(x.data() + off, hw);
      ArrayMap(dx.data() + off, hw) = k * (g - mdy - (a - mean) * (inv_std * mdx));
    }
  }
}

}  // namespace nce::nn
