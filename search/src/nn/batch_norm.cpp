#include "nce/nn/batch_norm.h"

#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace nce::nn {
namespace {

#if defined(__AVX2__) && defined(__FMA__)
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Sums over one plane that the BN backward needs, after the activation's backward.
struct PlaneSums {
  float clip = 0.0f;  // sum of g where u >= clip (PACT)
  float g = 0.0f;     // sum of the masked g
  float gx = 0.0f;    // sum of the masked g * (x - mean)
};

// One pass over a plane: u = x*scale + shift, g *= pass(u) (ActParams::backward) and the sums
// (the same values as ActParams::backward followed by the two sums, up to float reassociation).
PlaneSums act_bn_plane_backward(const ActParams& act, const float* x, float scale, float shift,
                                float mean, float* g, std::size_t n) {
  PlaneSums r;
  const bool pact = act.kind == ActParams::Kind::kPact, relu = act.kind == ActParams::Kind::kRelu;
  const float clip = act.clip;
  std::size_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
  const __m256 vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift), vm = _mm256_set1_ps(mean),
               vc = _mm256_set1_ps(clip), zero = _mm256_setzero_ps();
  __m256 ac = zero, ag = zero, agx = zero;
  for (; j + 8 <= n; j += 8) {
    const __m256 xv = _mm256_loadu_ps(x + j);
    __m256 gv = _mm256_loadu_ps(g + j);
    const __m256 u = _mm256_add_ps(_mm256_mul_ps(xv, vs), vb);  // unfused, as in the forward
    if (pact) {
      ac = _mm256_add_ps(ac, _mm256_and_ps(_mm256_cmp_ps(u, vc, _CMP_GE_OQ), gv));
      const __m256 pass =
          _mm256_and_ps(_mm256_cmp_ps(u, zero, _CMP_GE_OQ), _mm256_cmp_ps(u, vc, _CMP_LE_OQ));
      gv = _mm256_and_ps(pass, gv);
      _mm256_storeu_ps(g + j, gv);
    } else if (relu) {
      gv = _mm256_and_ps(_mm256_cmp_ps(u, zero, _CMP_GT_OQ), gv);
      _mm256_storeu_ps(g + j, gv);
    }
    ag = _mm256_add_ps(ag, gv);
    agx = _mm256_add_ps(agx, _mm256_mul_ps(gv, _mm256_sub_ps(xv, vm)));
  }
  r.clip = hsum(ac), r.g = hsum(ag), r.gx = hsum(agx);
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
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 vk = _mm256_set1_ps(k);
    __m256 as0 = _mm256_setzero_ps(), aq0 = as0, as1 = as0, aq1 = as0;
    for (; j + 16 <= hw; j += 16) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + j), vk);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + j + 8), vk);
      as0 = _mm256_add_ps(as0, d0), as1 = _mm256_add_ps(as1, d1);
      aq0 = _mm256_add_ps(aq0, _mm256_mul_ps(d0, d0));
      aq1 = _mm256_add_ps(aq1, _mm256_mul_ps(d1, d1));
    }
    ps = hsum(_mm256_add_ps(as0, as1)), pq = hsum(_mm256_add_ps(aq0, aq1));
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
