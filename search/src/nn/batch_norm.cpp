#include "nce/nn/batch_norm.h"

#include <cmath>

namespace nce::nn {

void batch_norm_forward_train(const BatchNormParams& p, const Tensor& x, const float* gamma,
                              const float* beta, float* running_mean, float* running_var,
                              float* save_mean, float* save_inv_std, Tensor& y) {
  const int n = x.n(), c = x.c();
  const Eigen::Index hw = static_cast<Eigen::Index>(x.plane());
  const double count = static_cast<double>(n) * hw;
  if (&y != &x) y.resize_like(x);
#pragma omp parallel for schedule(static)
  for (int ch = 0; ch < c; ++ch) {
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < n; ++i) {
      ConstArrayMap a(x.data() + (static_cast<std::size_t>(i) * c + ch) * hw, hw);
      sum += a.sum();
    }
    const double mean = sum / count;
    for (int i = 0; i < n; ++i) {
      ConstArrayMap a(x.data() + (static_cast<std::size_t>(i) * c + ch) * hw, hw);
      sq += (a - static_cast<float>(mean)).square().sum();
    }
    const double var = sq / count;
    const float inv_std = static_cast<float>(1.0 / std::sqrt(var + p.eps));
    save_mean[ch] = static_cast<float>(mean);
    save_inv_std[ch] = inv_std;
    const double unbiased = count > 1 ? sq / (count - 1) : var;
    running_mean[ch] =
        (1.0f - p.momentum) * running_mean[ch] + p.momentum * static_cast<float>(mean);
    running_var[ch] =
        (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
    const float scale = gamma[ch] * inv_std;
    const float shift = beta[ch] - static_cast<float>(mean) * scale;
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
#pragma omp parallel for schedule(static) collapse(2)
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
#pragma omp parallel for schedule(static)
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
