#include "nce/search/mixed_bn.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>
#include <string>

#include "nce/search/cwi.h"

namespace nce::search {
namespace {

// Below this many elements the passes run on one thread (thread start-up would dominate).
constexpr std::size_t kMinParallelElements = 65536;
// Pixels per chunk of a recomputed pre-activation (on the stack).
constexpr std::size_t kChunk = 256;
// Independent float accumulators of the backward's sums: one dependent chain of additions
// would run at the adder's latency (the compiler keeps a float sum's order); kLanes chains,
// one vector register wide, run at its throughput.
constexpr std::size_t kLanes = 16;

float fold(float (&acc)[kLanes]) {
  for (std::size_t half = kLanes / 2; half > 0; half /= 2) {
    for (std::size_t l = 0; l < half; ++l) acc[l] += acc[l + half];
  }
  return acc[0];
}

// sum over k of g[k].
float lane_sum(const float* g, std::size_t len) {
  float acc[kLanes] = {};
  std::size_t k = 0;
  for (; k + kLanes <= len; k += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) acc[l] += g[k + l];
  }
  for (std::size_t l = 0; k + l < len; ++l) acc[l] += g[k + l];
  return fold(acc);
}

// sum over k of g[k] * (src[k] - m).
float lane_centered_dot(const float* g, const float* src, float m, std::size_t len) {
  float acc[kLanes] = {};
  std::size_t k = 0;
  for (; k + kLanes <= len; k += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) acc[l] += g[k + l] * (src[k + l] - m);
  }
  for (std::size_t l = 0; k + l < len; ++l) acc[l] += g[k + l] * (src[k + l] - m);
  return fold(acc);
}

}  // namespace

void MixedBatchNormAct::build_terms(const std::array<MixedCandidate, 2>& cands, int channels) {
  terms_.clear();
  row_begin_.assign(static_cast<std::size_t>(channels) + 1, 0);
  for (int o = 0; o < channels; ++o) {
    row_begin_[static_cast<std::size_t>(o)] = static_cast<int>(terms_.size());
    for (int j = 0; j < 2; ++j) {
      assert(cands[j].width >= 1 && cands[j].width <= channels);
      int first, last;
      cwi_range(cands[j].width, channels, o, first, last);
      const float r = 1.0f / static_cast<float>(last - first);
      for (int c = first; c < last; ++c) {
        terms_.push_back(Term{o, j, c, static_cast<float>(cands[j].weight) * r, r});
      }
    }
  }
  row_begin_[static_cast<std::size_t>(channels)] = static_cast<int>(terms_.size());
  // The same terms grouped by the channel of y they read (counting sort on c).
  col_begin_.assign(static_cast<std::size_t>(channels) + 1, 0);
  for (const Term& t : terms_) ++col_begin_[static_cast<std::size_t>(t.c) + 1];
  for (int c = 0; c < channels; ++c) col_begin_[c + 1] += col_begin_[c];
  by_col_.resize(terms_.size());
  std::vector<int> fill(col_begin_.begin(), col_begin_.end() - 1);
  for (std::size_t t = 0; t < terms_.size(); ++t)
    by_col_[fill[terms_[t].c]++] = static_cast<int>(t);
  for (int c = 0; c < channels; ++c) {
    if (col_begin_[c + 1] - col_begin_[c] > kMaxTermsPerLine ||
        row_begin_[c + 1] - row_begin_[c] > kMaxTermsPerLine) {
      throw std::logic_error("mixed batch norm: candidate widths " +
                             std::to_string(cands[0].width) + " and " +
                             std::to_string(cands[1].width) + " are too far apart");
    }
  }
}

void MixedBatchNormAct::preactivation(const nn::Tensor& y, int i, int o, std::size_t p0,
                                      std::size_t len, float* buf) const {
  const int channels = y.c();
  const std::size_t hw = y.plane();
  const float b0 = shift_[static_cast<std::size_t>(o)];
  for (std::size_t k = 0; k < len; ++k) buf[k] = b0;
  for (int t = row_begin_[o]; t < row_begin_[o + 1]; ++t) {
    const float a = coef_[static_cast<std::size_t>(t)];
    const float* src = y.data() + (static_cast<std::size_t>(i) * channels + terms_[t].c) * hw + p0;
    for (std::size_t k = 0; k < len; ++k) buf[k] += a * src[k];
  }
}

// out[n, o] = act(shift_[o] + sum over row o of coef_[t] * y[n, c_t]), given per-(j, c) BN
// scale/shift in `scale`/`shift` (index j * C + c).
void MixedBatchNormAct::apply(const nn::ActParams& act, const nn::Tensor& y,
                              const std::vector<float>& scale, const std::vector<float>& shift,
                              nn::Tensor& out) {
  const int n = y.n(), channels = y.c();
  const std::size_t hw = y.plane();
  coef_.resize(terms_.size());
  shift_.assign(static_cast<std::size_t>(channels), 0.0f);
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const Term& tm = terms_[t];
    const std::size_t jc = static_cast<std::size_t>(tm.j) * channels + tm.c;
    coef_[t] = tm.u * scale[jc];
    shift_[static_cast<std::size_t>(tm.o)] += tm.u * shift[jc];
  }
  out.resize_like(y);
  const nn::ActParams::Eval f = act.eval();
#pragma omp parallel for schedule(static) collapse(2) if (y.size() >= kMinParallelElements)
  for (int i = 0; i < n; ++i) {
    for (int o = 0; o < channels; ++o) {
      float* dst = out.data() + (static_cast<std::size_t>(i) * channels + o) * hw;
      for (std::size_t p0 = 0; p0 < hw; p0 += kChunk) {
        const std::size_t len = std::min(kChunk, hw - p0);
        float buf[kChunk];
        preactivation(y, i, o, p0, len, buf);
        nn::ActParams::apply(f, buf, 1.0f, 0.0f, dst + p0, len);
      }
    }
  }
}

void MixedBatchNormAct::identity_scales(const std::array<MixedCandidate, 2>& cands, int channels,
                                        std::vector<float>& scale, std::vector<float>& shift) {
  mean_.assign(static_cast<std::size_t>(channels), 0.0f);
  inv_std_.assign(static_cast<std::size_t>(channels), 1.0f);
  for (int j = 0; j < 2; ++j) {
    for (int c = 0; c < cands[j].width; ++c) {
      scale[static_cast<std::size_t>(j) * channels + c] = 1.0f;
      shift[static_cast<std::size_t>(j) * channels + c] = 0.0f;
    }
  }
}

void MixedBatchNormAct::forward_train(const nn::BatchNormParams& p, const nn::ActParams& act,
                                      const nn::Tensor& y,
                                      const std::array<MixedCandidate, 2>& cands, nn::Tensor& out) {
  assert(&out != &y);
  const int channels = y.c();
  build_terms(cands, channels);
  mean_.resize(static_cast<std::size_t>(channels));
  inv_std_.resize(static_cast<std::size_t>(channels));
  std::vector<float>& scale = bn_scale_;
  std::vector<float>& shift = bn_shift_;
  scale.assign(2 * static_cast<std::size_t>(channels), 0.0f);
  shift.assign(scale.size(), 0.0f);
  if (!cands[0].gamma) {  // no BatchNorm: CWI and mix of the raw conv output
    identity_scales(cands, channels, scale, shift);
    apply(act, y, scale, shift, out);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) if (y.size() >= kMinParallelElements)
  for (int c = 0; c < channels; ++c) {
    const nn::ChannelStatistics st = nn::batch_norm_channel_statistics(p, y, c);
    mean_[static_cast<std::size_t>(c)] = st.mean;
    inv_std_[static_cast<std::size_t>(c)] = st.inv_std;
    for (int j = 0; j < 2; ++j) {
      const MixedCandidate& m = cands[j];
      if (c >= m.width) continue;
      nn::batch_norm_update_running(p, st, &m.running_mean[c], &m.running_var[c]);
      const float s = m.gamma[c] * st.inv_std;
      scale[static_cast<std::size_t>(j) * channels + c] = s;
      shift[static_cast<std::size_t>(j) * channels + c] = m.beta[c] - st.mean * s;
    }
  }
  apply(act, y, scale, shift, out);
}

void MixedBatchNormAct::forward_eval(const nn::BatchNormParams& p, const nn::ActParams& act,
                                     const nn::Tensor& y,
                                     const std::array<MixedCandidate, 2>& cands, nn::Tensor& out) {
  const int channels = y.c();
  build_terms(cands, channels);
  std::vector<float>& scale = bn_scale_;
  std::vector<float>& shift = bn_shift_;
  scale.assign(2 * static_cast<std::size_t>(channels), 0.0f);
  shift.assign(scale.size(), 0.0f);
  if (!cands[0].gamma) {
    identity_scales(cands, channels, scale, shift);
    apply(act, y, scale, shift, out);
    return;
  }
  for (int j = 0; j < 2; ++j) {
    const MixedCandidate& m = cands[j];
    for (int c = 0; c < m.width; ++c) {
      const float s = m.gamma[c] / std::sqrt(m.running_var[c] + p.eps);
      scale[static_cast<std::size_t>(j) * channels + c] = s;
      shift[static_cast<std::size_t>(j) * channels + c] = m.beta[c] - m.running_mean[c] * s;
    }
  }
  apply(act, y, scale, shift, out);
}

void MixedBatchNormAct::backward(const nn::ActParams& act, const nn::Tensor& y,
                                 const std::array<MixedCandidate, 2>& cands, nn::Tensor& g,
                                 nn::Tensor& dy, double dmix[2], float* dclip) {
  const int n = y.n(), channels = y.c();
  const std::size_t hw = y.plane();
  assert(g.same_shape(y) && static_cast<int>(mean_.size()) == channels);
  const double count = static_cast<double>(n) * static_cast<double>(hw);
  sum_g_.assign(static_cast<std::size_t>(channels), 0.0);
  sum_gx_.assign(terms_.size(), 0.0);
  std::vector<double>& clip_part = clip_part_;
  clip_part.assign(static_cast<std::size_t>(channels), 0.0);
  // Pass 1, per output channel: recompute the pre-activation, mask g by the activation's
  // gradient, and sum g and g * (y[c] - mean[c]) for every channel c the row reads.
#pragma omp parallel for schedule(dynamic, 1) if (y.size() >= kMinParallelElements)
  for (int o = 0; o < channels; ++o) {
    const int t0 = row_begin_[o], t1 = row_begin_[o + 1];
    double s_clip = 0.0, s_g = 0.0;
    double s_gx[kMaxTermsPerLine] = {};
    for (int i = 0; i < n; ++i) {
      float* gp = g.data() + (static_cast<std::size_t>(i) * channels + o) * hw;
      for (std::size_t p0 = 0; p0 < hw; p0 += kChunk) {
        const std::size_t len = std::min(kChunk, hw - p0);
        float buf[kChunk];
        preactivation(y, i, o, p0, len, buf);
        s_clip += act.backward(buf, 1.0f, 0.0f, gp + p0, len);
        s_g += lane_sum(gp + p0, len);
        for (int t = t0; t < t1; ++t) {
          const int c = terms_[t].c;
          const float* src = y.data() + (static_cast<std::size_t>(i) * channels + c) * hw + p0;
          s_gx[t - t0] += lane_centered_dot(gp + p0, src, mean_[static_cast<std::size_t>(c)], len);
        }
      }
    }
    sum_g_[static_cast<std::size_t>(o)] = s_g;
    clip_part[static_cast<std::size_t>(o)] = s_clip;
    for (int t = t0; t < t1; ++t) sum_gx_[static_cast<std::size_t>(t)] = s_gx[t - t0];
  }
  // The per-channel sums of BN's backward, the BN parameter and mixing-weight gradients.
  std::vector<double>&k1 = k1_, &k2 = k2_, &dgamma = dgamma_, &dbeta = dbeta_;
  k1.assign(static_cast<std::size_t>(channels), 0.0);
  k2.assign(k1.size(), 0.0);
  dgamma.assign(2 * k1.size(), 0.0);
  dbeta.assign(2 * k1.size(), 0.0);
  dmix[0] = dmix[1] = 0.0;
  const bool has_bn = cands[0].gamma != nullptr;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const Term& tm = terms_[t];
    const MixedCandidate& m = cands[tm.j];
    const double gxhat = static_cast<double>(inv_std_[static_cast<std::size_t>(tm.c)]) * sum_gx_[t];
    const double sg = sum_g_[static_cast<std::size_t>(tm.o)];
    if (!has_bn) {  // y itself is mixed: d/dm_j = r * sum g[o] y[c]
      dmix[tm.j] += tm.r * gxhat;
      continue;
    }
    const double gamma = m.gamma[tm.c], beta = m.beta[tm.c];
    dmix[tm.j] += tm.r * (gamma * gxhat + beta * sg);
    const std::size_t jc = static_cast<std::size_t>(tm.j) * channels + tm.c;
    dgamma[jc] += tm.u * gxhat;
    dbeta[jc] += tm.u * sg;
    k1[static_cast<std::size_t>(tm.c)] += tm.u * gamma * sg;
    k2[static_cast<std::size_t>(tm.c)] += tm.u * gamma * gxhat;
  }
  for (int j = 0; j < 2; ++j) {
    const MixedCandidate& m = cands[j];
    if (!has_bn || !m.dgamma || !m.dbeta) continue;
    for (int c = 0; c < m.width; ++c) {
      m.dgamma[c] += static_cast<float>(dgamma[static_cast<std::size_t>(j) * channels + c]);
      m.dbeta[c] += static_cast<float>(dbeta[static_cast<std::size_t>(j) * channels + c]);
    }
  }
  if (act.kind == nn::ActParams::Kind::kPact && dclip) {
    double s = 0.0;
    for (double v : clip_part) s += v;
    *dclip += static_cast<float>(s);
  }
  // Pass 2, per channel of y: dy = inv_std * (sum_t u_t gamma_t g[o_t] - k1/M - xhat * k2/M).
  dy.resize_like(y);
#pragma omp parallel for schedule(dynamic, 1) if (y.size() >= kMinParallelElements)
  for (int c = 0; c < channels; ++c) {
    const int b0 = col_begin_[c], b1 = col_begin_[c + 1];
    const float is = inv_std_[static_cast<std::size_t>(c)], mc = mean_[static_cast<std::size_t>(c)];
    const float mdy = static_cast<float>(k1[static_cast<std::size_t>(c)] / count);
    const float mdx = static_cast<float>(k2[static_cast<std::size_t>(c)] / count) * is;
    float v[kMaxTermsPerLine];
    int src_o[kMaxTermsPerLine];
    for (int b = b0; b < b1; ++b) {
      const Term& tm = terms_[static_cast<std::size_t>(by_col_[b])];
      v[b - b0] = has_bn ? tm.u * cands[tm.j].gamma[c] : tm.u;
      src_o[b - b0] = tm.o;
    }
    for (int i = 0; i < n; ++i) {
      const float* yp = y.data() + (static_cast<std::size_t>(i) * channels + c) * hw;
      float* dp = dy.data() + (static_cast<std::size_t>(i) * channels + c) * hw;
      const float* gs[kMaxTermsPerLine];
      for (int b = 0; b < b1 - b0; ++b) {
        gs[b] = g.data() + (static_cast<std::size_t>(i) * channels + src_o[b]) * hw;
      }
      // In kLanes-wide blocks, the sum held in registers until its one store.
      auto block = [&](std::size_t k, std::size_t w) {
        float acc[kLanes];
        for (std::size_t l = 0; l < w; ++l) acc[l] = v[0] * gs[0][k + l];
        for (int b = 1; b < b1 - b0; ++b) {
          const float vb = v[b];
          for (std::size_t l = 0; l < w; ++l) acc[l] += vb * gs[b][k + l];
        }
        for (std::size_t l = 0; l < w; ++l) {
          dp[k + l] = is * (acc[l] - mdy - (yp[k + l] - mc) * mdx);
        }
      };
      std::size_t k = 0;
      for (; k + kLanes <= hw; k += kLanes) block(k, kLanes);
      if (k < hw) block(k, hw - k);
    }
  }
}

}  // namespace nce::search
