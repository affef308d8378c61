// The exporter's numbers (export_weights.h): checkpoint options and tensors, requantization
// scalars, weight codes.
#include "export_weights.h"

#include <algorithm>
#include <cmath>

#include "nce/nn/full8.h"

namespace nce::deploy::export_detail {
namespace {

constexpr int kMultiplierBits = 30;  // requantization multipliers in [2^29, 2^30)

}  // namespace

const std::vector<float>& Ctx::tensor(const std::string& name, std::size_t n) const {
  auto it = state.find(name);
  if (it == state.end()) fail("tensor '" + name + "' is missing");
  if (it->second->size() != n)
    fail("tensor '" + name + "' has " + std::to_string(it->second->size()) + " values, want " +
         std::to_string(n));
  for (float v : *it->second)
    if (!std::isfinite(v)) fail("tensor '" + name + "' holds a non-finite value");
  return *it->second;
}

int to_int(const Ctx& c, const std::string& key) {
  const std::string& v = c.option(key);
  try {
    std::size_t used = 0;
    const int x = std::stoi(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    c.fail("option '" + key + "' = '" + v + "' is not an integer");
  }
}

double to_double(const Ctx& c, const std::string& key) {
  const std::string& v = c.option(key);
  try {
    return std::stod(v);
  } catch (const std::exception&) {
    c.fail("option '" + key + "' = '" + v + "' is not a number");
  }
}

Scalar make_requant(double f, double g, const Ctx& c, const std::string& layer) {
  Scalar s;
  if (!std::isfinite(f) || !std::isfinite(g)) c.fail("layer '" + layer + "': non-finite scale");
  int sh = 0;
  if (f != 0.0) {
    int e = 0;
    std::frexp(std::fabs(f), &e);  // |f| in [2^(e-1), 2^e)
    sh = kMultiplierBits - e;
  } else {
    sh = kMultiplierBits;
  }
  // Keep the offset inside int64.
  if (g != 0.0) {
    int eg = 0;
    std::frexp(std::fabs(g), &eg);
    sh = std::min(sh, 60 - eg);
  }
  sh = std::min(sh, 62);
  if (sh < 0)
    c.fail("layer '" + layer + "': requantization factor " + std::to_string(f) +
           " is too large for a 32-bit multiplier");
  const double m = std::round(std::ldexp(f, sh));
  if (std::fabs(m) > 2147483647.0)
    c.fail("layer '" + layer + "': requantization multiplier overflows");
  s.multiplier = static_cast<std::int32_t>(m);
  s.shift = sh;
  s.offset = static_cast<std::int64_t>(std::round(std::ldexp(g, sh))) +
             (sh > 0 ? (std::int64_t{1} << (sh - 1)) : 0);
  return s;
}

LayerWeights layer_weights(const Ctx& c, const std::string& name, std::size_t n, bool quantize,
                           nn::QuantizerKind kind, int bits) {
  LayerWeights lw;
  const std::vector<float>& w = c.tensor(name + ".weight", n);
  lw.w = w;
  if (!quantize) return lw;
  lw.quantized = true;
  float step = 0.0f;
  if (kind == nn::QuantizerKind::kLsq) step = c.tensor(name + ".weight_step", 1)[0];
  std::vector<float> wq(n);
  const float aux = nn::quantize_weights(kind, bits, w.data(), n, step, wq.data());
  const int L = (1 << bits) - 1, half = 1 << (bits - 1);
  lw.codes.resize(n);
  if (kind == nn::QuantizerKind::kSawb || kind == nn::QuantizerKind::kDorefa) {
    lw.alpha = 2;
    lw.beta = 1;
    const double a = kind == nn::QuantizerKind::kSawb ? static_cast<double>(aux) : 1.0;
    lw.scale = a / L;
    for (std::size_t i = 0; i < n; ++i) {
      const long lev = a > 0 ? std::lround((wq[i] + a) * L / (2.0 * a)) : half;
      lw.codes[i] = static_cast<int>(std::clamp<long>(lev, 0, L)) - half;
    }
  } else {
    lw.scale = step;
    for (std::size_t i = 0; i < n; ++i) {
      const long q = step > 0 ? std::lround(wq[i] / step) : 0;
      lw.codes[i] = static_cast<int>(std::clamp<long>(q, -half, half - 1));
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double back = lw.scale * (lw.alpha * lw.codes[i] + lw.beta);
    if (std::fabs(back - wq[i]) > 1e-4 * (std::fabs(wq[i]) + lw.scale) + 1e-12)
      c.fail("layer '" + name + "': weight " + std::to_string(i) + " = " + std::to_string(wq[i]) +
             " is not on the quantizer's levels");
  }
  lw.w = std::move(wq);
  return lw;
}

void full8_weights(const LayerWeights& lw, int c_out, std::vector<std::int8_t>& codes,
                   std::vector<float>& scales, const std::vector<double>& in_factor, int c_in,
                   int kk) {
  bool exact = lw.quantized;
  if (exact) {
    for (double f : in_factor) exact = exact && f == in_factor[0];
    for (int v : lw.codes) exact = exact && std::abs(lw.alpha * v + lw.beta) <= 127;
  }
  if (!exact) {
    std::vector<double> s;
    nn::full8_codes(lw.w.data(), c_out, c_in, kk, in_factor, codes, s);
    scales.assign(s.begin(), s.end());
    return;
  }
  codes.resize(lw.codes.size());
  scales.assign(static_cast<std::size_t>(c_out), static_cast<float>(lw.scale * in_factor[0]));
  for (std::size_t j = 0; j < codes.size(); ++j)
    codes[j] = static_cast<std::int8_t>(lw.alpha * lw.codes[j] + lw.beta);
}

}  // namespace nce::deploy::export_detail
