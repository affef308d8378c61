#include "nce/nn/batch_norm.h"

#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nce::nn {
namespace {

// Batch statistics of channel ch (shifted by its first element for accuracy); updates the running
// statistics and returns scale = gamma*inv_std, shift = beta - mean*scale.
void channel_stats(const BatchNormParams& p, const Tensor& x, int ch, const float* gamma,
                   const float* beta, float* running_mean, float* running_var, float* save_mean,
                   float* save_inv_std, float* scale, float* shift) {
  const int n = x.n(), c = x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  const double count = static_cast<double>(n) * hw;
  const float k = x.data()[static_cast<std::size_t>(ch) * hw];
  double sum = 0.0, sq = 0.0;
  for (int i = 0; i < n; ++i) {
    ConstArrayMap a(x.data() + (static_cast<std::size_t>(i) * c + ch) * hw, hw);
    sum += (a - k).sum();
    sq += (a - k).square().sum();
  }
  const double mean_shifted = sum / count;
  const double var = std::max(0.0, sq / count - mean_shifted * mean_shifted);
  const double mean = mean_shifted + k;
  const float inv_std = static_cast<float>(1.0 / std::sqrt(var + p.eps));
  save_mean[ch] = static_cast<float>(mean);
  save_inv_std[ch] = inv_std;
  const double unbiased = count > 1 ? var * count / (count - 1) : var;
  running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * static_cast<float>(mean);
  running_var[ch] =
      (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
  *scale = gamma[ch] * inv_std;
  *shift = beta[ch] - static_cast<float>(mean) * *scale;
}

}  // namespace

void batch_norm_act_forward_train(const BatchNormParams& p, const ActParams& act, const Tensor& x,
                                  const float* gamma, const float* beta, float* running_mean,
                                  float* running_var, float* save_mean, float* save_inv_std,
                                  Tensor& y) {
  const int n = x.n(), c = x.c();
  const std::size_t hw = x.plane();
  y.resize_like(x);
  const ActParams::Eval f = act.eval();
#pragma omp parallel for schedule(dynamic, 1) if (x.size() >= detail::kMinParallelElements)
  for (int ch = 0; ch < c; ++ch) {
    float scale, shift;
    channel_stats(p, x, ch, gamma, beta, running_mean, running_var, save_mean, save_inv_std, &scale,
                  &shift);
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      ActParams::apply(f, x.data() + off, scale, shift, y.data() + off, hw);
    }
  }
}

void batch_norm_act_forward_eval(const BatchNormParams& p, const ActParams& act, const Tensor& x,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, Tensor& y) {
  const int n = x.n(), c = x.c();
  const std::size_t hw = x.plane();
  if (&y != &x) y.resize_like(x);
  const ActParams::Eval f = act.eval();
#pragma omp parallel for schedule(static) collapse(2) if (x.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    for (int ch = 0; ch < c; ++ch) {
      const float scale = gamma[ch] / std::sqrt(running_var[ch] + p.eps);
      const float shift = beta[ch] - running_mean[ch] * scale;
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      ActParams::apply(f, x.data() + off, scale, shift, y.data() + off, hw);
    }
  }
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
      const float* in = x.data() + off;
      float* gr = g.data() + off;
      sum_clip += act.backward(in, scale, shift, gr, hw);
      ConstArrayMap gm(gr, static_cast<Eigen::Index>(hw));
      ConstArrayMap xa(in, static_cast<Eigen::Index>(hw));
      sum_g += gm.sum();
      sum_gx += (gm * (xa - mean)).sum();
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
  const int n = x.n(), c = x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  if (&y != &x) y.resize_like(x);
#pragma omp parallel for schedule(dynamic, 1) if (x.size() >= detail::kMinParallelElements)
  for (int ch = 0; ch < c; ++ch) {
    float scale, shift;
    channel_stats(p, x, ch, gamma, beta, running_mean, running_var, save_mean, save_inv_std, &scale,
                  &shift);
    for (int i = 0; i < n; ++i) {
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      ArrayMap(y.data() + off, hw) = ConstArrayMap(x.data() + off, hw) * scale + shift;
    }
  }
}

void batch_norm_forward_eval(const BatchNormParams& p, const Tensor& x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             Tensor& y) {
  const int n = x.n(), c = x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  if (&y != &x) y.resize_like(x);
#pragma omp parallel for schedule(static) collapse(2) if (x.size() >= detail::kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    for (int ch = 0; ch < c; ++ch) {
      const float scale = gamma[ch] / std::sqrt(running_var[ch] + p.eps);
      const float shift = beta[ch] - running_mean[ch] * scale;
      const std::size_t off = (static_cast<std::size_t>(i) * c + ch) * hw;
      ArrayMap(y.data() + off, hw) = ConstArrayMap(x.data() + off, hw) * scale + shift;
    }
  }
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
      ConstArrayMap g(dy.data() + off, hw), a(x.data() + off, hw);
      sum_dy += g.sum();
      sum_dy_xhat += (g * (a - mean)).sum();
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
