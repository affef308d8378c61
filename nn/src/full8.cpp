#include "full8.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "network_impl.h"

namespace nce::nn {

void full8_codes(const float* w, int c_out, int c_in, int kk, const std::vector<double>& f,
                 std::vector<std::int8_t>& codes, std::vector<double>& scales) {
  const std::size_t per = static_cast<std::size_t>(c_in) * kk;
  codes.resize(per * static_cast<std::size_t>(c_out));
  scales.resize(static_cast<std::size_t>(c_out));
  auto factor = [&](std::size_t j) {
    return f.empty() ? 1.0 : f[j / static_cast<std::size_t>(kk)];
  };
  for (int m = 0; m < c_out; ++m) {
    const float* wm = w + m * per;
    std::int8_t* cm = codes.data() + m * per;
    double mx = 0;
    for (std::size_t j = 0; j < per; ++j) mx = std::max(mx, std::fabs(wm[j] * factor(j)));
    const double s = mx > 0 ? mx / 127.0 : 1.0;
    scales[static_cast<std::size_t>(m)] = s;
    for (std::size_t j = 0; j < per; ++j)
      cm[j] =
          static_cast<std::int8_t>(std::clamp(std::round(wm[j] * factor(j) / s), -127.0, 127.0));
  }
}

void quantize_full8(const float* w, int c_out, int c_in, int kk, const std::vector<float>& f,
                    float* wq) {
  const std::vector<double> factors(f.begin(), f.end());
  std::vector<std::int8_t> codes;
  std::vector<double> scales;
  full8_codes(w, c_out, c_in, kk, factors, codes, scales);
  const std::size_t per = static_cast<std::size_t>(c_in) * kk;
  for (std::size_t j = 0; j < codes.size(); ++j) {
    const double fj = factors.empty() ? 1.0 : factors[(j % per) / static_cast<std::size_t>(kk)];
    wq[j] = static_cast<float>(codes[j] * scales[j / per] / fj);
  }
}

void quantize_head_input(Tensor& feat, double unit, int plane) {
  const int n = feat.n();
  const std::size_t c = feat.size() / static_cast<std::size_t>(n);
  const double to_sum = plane / unit;
  for (int i = 0; i < n; ++i) {
    float* x = feat.data() + static_cast<std::size_t>(i) * c;
    double mx = 0;
    for (std::size_t j = 0; j < c; ++j) mx = std::max(mx, std::round(x[j] * to_sum));
    int e = 0;
    while (std::floor(std::ldexp(mx, -e) + 0.5) > 127.0) ++e;
    for (std::size_t j = 0; j < c; ++j) {
      const double s = std::max(0.0, std::round(x[j] * to_sum));
      x[j] = static_cast<float>(std::floor(std::ldexp(s, -e) + 0.5) * std::ldexp(1.0, e) / to_sum);
    }
  }
}

// The Network's side of the rule: its weights (with the b-bit quantizer's), the head's input
// unit, the stem's factors.

void Network::Impl::quantize_weights(ConvNode& nd) {
  const int kk = nd.layer.k * nd.layer.k, c_out = nd.weight.n();
  const int c_in = static_cast<int>(nd.weight.size() / static_cast<std::size_t>(c_out)) / kk;
  if (nd.full8) {
    nd.wq.resize_like(nd.weight);
    quantize_full8(nd.weight.data(), c_out, c_in, kk, nd.in_scale, nd.wq.data());
    return;
  }
  if (!nd.quant_w) return;
  nd.wq.resize_like(nd.weight);
  nd.qscale =
      nn::quantize_weights(opt.quantizer, opt.weight_bits, nd.weight.data(), nd.weight.size(),
                           nd.step.size() ? nd.step[0] : 0.0f, nd.wq.data());
  // A quantized stem reads raw pixels on the array too: the exporter folds the normalization into
  // its b-bit levels, which stay exact integers only if every input channel has the same factor
  // and they fit a signed byte (LSQ's 8-bit code -128 does not); otherwise it rounds them to the
  // 8-bit rule, and so does the float network.
  if (opt.int8_full_precision && !nd.in_scale.empty()) {
    bool exact = std::equal(nd.in_scale.begin() + 1, nd.in_scale.end(), nd.in_scale.begin());
    if (exact && opt.quantizer == QuantizerKind::kLsq && opt.weight_bits == 8)
      for (std::size_t j = 0; j < nd.wq.size() && exact; ++j)
        exact = std::lround(nd.wq[j] / nd.step[0]) > -128;
    if (!exact) quantize_full8(nd.wq.data(), c_out, c_in, kk, nd.in_scale, nd.wq.data());
  }
}

double Network::Impl::head_input_unit(const HeadNode& nd) const {
  const Act act = nd.src < 0                    ? Act::kRelu
                  : nd.src_kind == Step::kConv ? convs[nd.src].act
                                               : adds[nd.src].act;
  if (act != Act::kPact) return 1.0 / 65536.0;  // the exporter's fixed point for ReLU values
  const float clip = nd.src_kind == Step::kConv ? convs[nd.src].clip[0] : adds[nd.src].clip[0];
  return clip / ((1 << opt.activation_bits) - 1);
}

void Network::set_input_scale(const std::vector<float>& per_channel) {
  Impl& m = *impl_;
  if (static_cast<int>(per_channel.size()) != m.desc.input.channels)
    throw std::invalid_argument("Network::set_input_scale: " + std::to_string(per_channel.size()) +
                                " factors for " + std::to_string(m.desc.input.channels) +
                                " input channels");
  for (ConvNode& nd : m.convs)
    if (nd.in == 0) nd.in_scale = per_channel;
}

}  // namespace nce::nn
