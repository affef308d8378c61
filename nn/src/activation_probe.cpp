// nn::Network::probe_activations and measure_activation (network.h): the activation statistics of
// the paper's Fig. 1, measured on an eval-mode forward.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nce/nn/network.h"
#include "nce/nn/residual.h"
#include "network_impl.h"

namespace nce::nn {

// Moments, quantization error and (for a ReLU) the best reference clip of the activation x.
ActivationStats measure_activation(const float* x, std::size_t n, const ActParams& act,
                                   int reference_bits) {
  ActivationStats st;
  double sum = 0, sum2 = 0, rmax = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum += x[i];
    sum2 += static_cast<double>(x[i]) * x[i];
    rmax = std::max(rmax, static_cast<double>(x[i]));
  }
  const double count = static_cast<double>(std::max<std::size_t>(n, 1));
  st.mean = sum / count;
  st.stdev = std::sqrt(std::max(0.0, sum2 / count - st.mean * st.mean));
  double signal = 0, noise = 0, q_sum = 0, q_sum2 = 0;
  if (act.kind == ActParams::Kind::kPact) {
    st.bits = act.bits;
    st.clip = act.clip;
    const ActParams::Eval f = act.eval();
    for (std::size_t i = 0; i < n; ++i) {
      const double r = std::max(0.0f, x[i]);
      const double q = f(x[i]);
      signal += r * r;
      noise += (r - q) * (r - q);
      q_sum += q;
      q_sum2 += q * q;
    }
  } else {
    // A ReLU: the output is r itself; the SQNR is that of the best PACT quantizer at
    // reference_bits, found on a 4096-bin histogram of r over (0, rmax].
    st.bits = 32;
    st.reference = true;
    constexpr int kBins = 4096, kClips = 256;
    std::vector<double> count_in(kBins, 0.0), sum_in(kBins, 0.0), sum2_in(kBins, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const double r = std::max(0.0f, x[i]);
      q_sum += r;
      q_sum2 += r * r;
      if (r <= 0.0) continue;
      signal += r * r;
      const int b = std::min(kBins - 1, static_cast<int>(r / rmax * kBins));
      count_in[b] += 1;
      sum_in[b] += r;
      sum2_in[b] += r * r;
    }
    const double levels = std::pow(2.0, reference_bits) - 1.0;
    double best = std::numeric_limits<double>::infinity();
    for (int c = 1; c <= kClips && rmax > 0; ++c) {
      const double a = rmax * c / kClips;
      double err = 0;
      for (int b = 0; b < kBins; ++b) {
        if (count_in[b] == 0) continue;
        const double mean_r = sum_in[b] / count_in[b];
        const double q = std::round(std::min(mean_r, a) * levels / a) * a / levels;
        // sum over the bin of (r - q)^2 with q taken at the bin's mean.
        err += sum2_in[b] - 2.0 * q * sum_in[b] + q * q * count_in[b];
      }
      if (err < best) {
        best = err;
        st.clip = a;
      }
    }
    noise = rmax > 0 ? std::max(best, 0.0) : 0.0;
  }
  const double q_mean = q_sum / count;
  st.out_stdev = std::sqrt(std::max(0.0, q_sum2 / count - q_mean * q_mean));
  st.sqnr_db =
      noise > 0 ? 10.0 * std::log10(signal / noise) : std::numeric_limits<double>::infinity();
  return st;
}

void Network::visit_activation_inputs(const Tensor& images, const ActivationVisitor& visit) {
  forward(images, Mode::kEval);
  Impl& m = *impl_;
  Tensor x;
  for (const Step& s : m.plan) {
    if (s.kind == Step::kConv) {
      ConvNode& nd = m.convs[s.index];
      if (nd.act == Act::kNone) continue;
      const bool has_pool = nd.layer.out_pool.kind != models::PoolKind::kNone;
      const Tensor& z = (nd.bn || has_pool || nd.act != Act::kNone) ? nd.z : m.values[nd.out].data;
      x.resize_like(z);
      const std::size_t plane = static_cast<std::size_t>(z.plane());
      for (int i = 0; i < z.n(); ++i) {
        for (int c = 0; c < z.c(); ++c) {
          float scale = 1.0f, shift = 0.0f;
          if (nd.bn) {
            scale = nd.norm.gamma[c] / std::sqrt(nd.norm.running_var[c] + m.opt.bn_eps);
            shift = nd.norm.beta[c] - nd.norm.running_mean[c] * scale;
          }
          const std::size_t off = (static_cast<std::size_t>(i) * z.c() + c) * plane;
          for (std::size_t p = 0; p < plane; ++p) x[off + p] = z[off + p] * scale + shift;
        }
      }
      visit(nd.layer.name, x, m.act_params(nd));
    } else if (s.kind == Step::kAdd) {
      AddNode& nd = m.adds[s.index];
      if (nd.act == Act::kNone) continue;
      residual_add(m.values[nd.main].data, m.values[nd.shortcut].data, x);
      visit(nd.name + ".out", x, m.act_params(nd));
    }
  }
}

std::vector<ActivationStats> Network::probe_activations(const Tensor& images, int reference_bits) {
  if (reference_bits < 2 || reference_bits > 8) {
    throw std::invalid_argument("probe_activations: reference_bits = " +
                                std::to_string(reference_bits) + " must be in 2..8");
  }
  std::vector<ActivationStats> out;
  visit_activation_inputs(images, [&](const std::string& name, const Tensor& x,
                                      const ActParams& act) {
    ActivationStats st = measure_activation(x.data(), x.size(), act, reference_bits);
    st.name = name;
    st.channels = x.c();
    out.push_back(std::move(st));
  });
  return out;
}

}  // namespace nce::nn
