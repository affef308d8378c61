#include "nce/deploy/exporter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "nce/common/output_file.h"
#include "nce/models/network.h"
#include "nce/nn/quantizer.h"

namespace nce::deploy {

namespace {

constexpr int kAddFracBits = 16;  // fixed-point bits of a residual add below one code step
constexpr double kFixedUnit = 1.0 / 65536.0;  // real per unit of ReLU (non-PACT) fixed values
constexpr int kStemBiasFracBits = 8;  // the stem's accumulator offsets, in 2^-8 accumulator units
constexpr int kMultiplierBits = 30;   // requantization multipliers in [2^29, 2^30)
constexpr int kHeadMultiplierBits = 24;

struct Ctx {
  const nn::Checkpoint& ck;
  std::string source;
  std::map<std::string, const std::vector<float>*> state;
  std::map<std::string, std::string> options;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(source + ": cannot export as an integer model: " + what);
  }
  const std::string& option(const std::string& key) const {
    auto it = options.find(key);
    if (it == options.end()) fail("the checkpoint has no option '" + key + "'");
    return it->second;
  }
  bool has(const std::string& name) const { return state.count(name) > 0; }
  const std::vector<float>& tensor(const std::string& name, std::size_t n) const {
    auto it = state.find(name);
    if (it == state.end()) fail("tensor '" + name + "' is missing");
    if (it->second->size() != n)
      fail("tensor '" + name + "' has " + std::to_string(it->second->size()) + " values, want " +
           std::to_string(n));
    for (float v : *it->second)
      if (!std::isfinite(v)) fail("tensor '" + name + "' holds a non-finite value");
    return *it->second;
  }
};

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

// round(t * f + g) as (t * multiplier + offset) >> shift.
struct Scalar {
  std::int32_t multiplier = 0;
  std::int64_t offset = 0;
  int shift = 0;
};

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

// A layer's weights as the float network applies them, and (when quantized) their codes.
struct LayerWeights {
  std::vector<float> w;  // what the float forward multiplies with (wq or w)
  bool quantized = false;
  std::vector<int> codes;  // b-bit signed codes c
  int alpha = 1, beta = 0;
  double scale = 0.0;  // weight = scale * (alpha*c + beta)
};

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

// Full-precision (8-bit) weights per output channel: codes and scales. When the layer is
// quantized and its effective integers fit a signed byte, they are used exactly.
void full8_weights(const LayerWeights& lw, int c_out, std::vector<std::int8_t>& codes,
                   std::vector<float>& scales, const std::vector<double>& in_factor, int c_in,
                   int kk) {
  const std::size_t per = static_cast<std::size_t>(c_in) * kk;
  codes.resize(per * c_out);
  scales.resize(static_cast<std::size_t>(c_out));
  bool exact = lw.quantized;
  if (exact) {
    for (double f : in_factor) exact = exact && f == in_factor[0];
    for (int v : lw.codes) exact = exact && std::abs(lw.alpha * v + lw.beta) <= 127;
  }
  for (int m = 0; m < c_out; ++m) {
    if (exact) {
      scales[static_cast<std::size_t>(m)] = static_cast<float>(lw.scale * in_factor[0]);
      for (std::size_t j = 0; j < per; ++j)
        codes[m * per + j] = static_cast<std::int8_t>(lw.alpha * lw.codes[m * per + j] + lw.beta);
      continue;
    }
    double mx = 0;
    for (std::size_t j = 0; j < per; ++j)
      mx = std::max(mx, std::fabs(lw.w[m * per + j] * in_factor[j / kk]));
    const double s = mx > 0 ? mx / 127.0 : 1.0;
    scales[static_cast<std::size_t>(m)] = static_cast<float>(s);
    for (std::size_t j = 0; j < per; ++j) {
      const long q = std::lround(lw.w[m * per + j] * in_factor[j / kk] / s);
      codes[m * per + j] = static_cast<std::int8_t>(std::clamp<long>(q, -127, 127));
    }
  }
}

PoolSpec to_pool(const models::Pool& p, bool avg_as_sum) {
  PoolSpec s;
  if (p.kind == models::PoolKind::kNone) return s;
  s.kind = p.kind == models::PoolKind::kMax ? PoolKind::kMax : PoolKind::kSum;
  (void)avg_as_sum;
  s.k = p.k;
  s.stride = p.stride;
  s.pad = p.pad;
  return s;
}

std::string block_prefix(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace

IntModel export_int_model(const nn::Checkpoint& ck, const nn::Normalization& norm,
                          const std::string& source) {
  Ctx c{ck, source, {}, {}};
  for (const auto& b : ck.network) c.state[b.name] = &b.values;
  for (const auto& [k, v] : ck.options) c.options[k] = v;
  const int wbits = to_int(c, "weight_bits"), abits = to_int(c, "activation_bits");
  for (int b : {wbits, abits})
    if (b != 2 && b != 3 && b != 4 && b != 8)
      c.fail("weight_bits " + std::to_string(wbits) + ", activation_bits " + std::to_string(abits) +
             ": only 2, 3, 4 or 8 bits have an integer form");
  const nn::QuantizerKind qkind = nn::parse_quantizer(c.option("quantizer"));
  // What nce infer cannot run is refused here, before anything is written: SAWB and DoReFa codes
  // c map to the effective integers 2c + 1, which at 8 bits reach +-255, past the signed byte the
  // engine (and the array's 8-bit rule) multiplies.
  if (wbits == 8 && qkind != nn::QuantizerKind::kLsq)
    c.fail(std::string("8-bit ") + nn::to_string(qkind) +
           " weights are not supported by the integer engine (their effective integers 2c+1 reach "
           "+-255, past a signed byte); export a checkpoint with weight_bits 2, 3 or 4, or train "
           "8-bit weights with --quantizer lsq");
  const double eps = to_double(c, "bn_eps");
  const bool qall = c.option("quantize_all_layers") == "1";

  models::InputShape input;
  {
    const std::string& in = c.option("input");
    char x1 = 0, x2 = 0;
    std::istringstream is(in);
    if (!(is >> input.channels >> x1 >> input.height >> x2 >> input.width) || x1 != 'x' ||
        x2 != 'x')
      c.fail("option 'input' = '" + in + "' is not CxHxW");
    input.num_classes = 10;
  }
  if (norm.mean.size() != static_cast<std::size_t>(input.channels) ||
      norm.stddev.size() != norm.mean.size())
    c.fail("the normalization has " + std::to_string(norm.mean.size()) + " channels, the input " +
           std::to_string(input.channels));
  models::Network desc;
  try {
    desc = models::build(ck.model, ck.widths, input);
  } catch (const std::invalid_argument& e) {
    c.fail(e.what());
  }

  IntModel m;
  m.model = ck.model;
  m.widths = desc.widths;
  m.dataset = c.options.count("dataset") ? c.options["dataset"] : "";
  m.weight_bits = wbits;
  m.activation_bits = abits;
  m.quantizer = nn::to_string(qkind);
  m.norm_mean = norm.mean;
  m.norm_stddev = norm.stddev;
  m.values.push_back(
      ValueInfo{ValueKind::kCodes, input.channels, input.height, input.width, 255, 0.0});
  const int La = (1 << abits) - 1;

  const auto& layers = desc.layers;
  const int nl = static_cast<int>(layers.size());
  std::vector<int> block_of(static_cast<std::size_t>(nl), -1);
  std::vector<bool> is_shortcut(static_cast<std::size_t>(nl), false);
  for (int b = 0; b < static_cast<int>(desc.blocks.size()); ++b) {
    const models::Block& bl = desc.blocks[static_cast<std::size_t>(b)];
    for (int li : {bl.conv_a, bl.conv_b, bl.conv_c, bl.shortcut})
      if (li >= 0) block_of[static_cast<std::size_t>(li)] = b;
    if (bl.shortcut >= 0) is_shortcut[static_cast<std::size_t>(bl.shortcut)] = true;
  }
  const std::size_t nb = desc.blocks.size();
  std::vector<int> block_in(nb, -1), block_main(nb, -1);
  std::vector<double> add_unit(nb, 0.0);  // real per unit of the add's fixed domain
  std::vector<bool> add_pact(nb, false);
  int cur = 0;

  auto emit_add = [&](int b, int main_v, int short_v) {
    const models::Block& bl = desc.blocks[static_cast<std::size_t>(b)];
    const std::string name = block_prefix(layers[static_cast<std::size_t>(bl.conv_a)].name);
    Op op;
    op.kind = OpKind::kAdd;
    AddOp& a = op.add;
    a.name = name + ".add";
    a.a = main_v;
    a.b = short_v;
    const double u = add_unit[static_cast<std::size_t>(b)];
    auto map_in = [&](int v, std::int32_t& mult, std::int64_t& off, int& sh) {
      const ValueInfo& vi = m.values[static_cast<std::size_t>(v)];
      if (vi.kind == ValueKind::kFixed) {
        if (vi.scale != u) c.fail("block '" + name + "': inputs in different fixed domains");
        mult = 1;
        off = 0;
        sh = 0;
        return;
      }
      const Scalar s = make_requant(vi.scale / u, 0.0, c, a.name);
      mult = s.multiplier;
      off = s.offset;
      sh = s.shift;
    };
    map_in(a.a, a.a_multiplier, a.a_offset, a.a_shift);
    map_in(a.b, a.b_multiplier, a.b_offset, a.b_shift);
    a.pact = add_pact[static_cast<std::size_t>(b)];
    a.frac_bits = kAddFracBits;
    a.max_code = La;
    const ValueInfo& vm = m.values[static_cast<std::size_t>(main_v)];
    ValueInfo out{a.pact ? ValueKind::kCodes : ValueKind::kFixed,
                  vm.channels,
                  vm.height,
                  vm.width,
                  a.pact ? La : 0,
                  a.pact ? u * (1 << kAddFracBits) : u};
    const ValueInfo& vs = m.values[static_cast<std::size_t>(short_v)];
    if (vs.channels != vm.channels || vs.height != vm.height || vs.width != vm.width)
      c.fail("block '" + name + "' adds tensors of different shapes");
    m.values.push_back(out);
    a.output = static_cast<int>(m.values.size()) - 1;
    m.ops.push_back(std::move(op));
    return a.output;
  };

  for (int li = 0; li < nl; ++li) {
    const models::Layer& l = layers[static_cast<std::size_t>(li)];
    if (l.kind == models::LayerKind::kFC) {
      if (li != nl - 1) c.fail("FC layer '" + l.name + "' is not the last layer");
      const ValueInfo& vi = m.values[static_cast<std::size_t>(cur)];
      if (vi.channels != l.c_in) c.fail("layer '" + l.name + "': input channels");
      Op op;
      op.kind = OpKind::kHead;
      HeadOp& h = op.head;
      h.name = l.name;
      h.input = cur;
      h.c_in = l.c_in;
      h.classes = l.c_out;
      // nn::Network's head multiplies with the float weights whatever the options say.
      const LayerWeights lw =
          layer_weights(c, l.name, static_cast<std::size_t>(l.c_out) * l.c_in, false, qkind, wbits);
      const std::vector<float>& bias =
          c.tensor(l.name + ".bias", static_cast<std::size_t>(l.c_out));
      std::vector<float> scales;
      full8_weights(lw, l.c_out, h.weights, scales,
                    std::vector<double>(static_cast<std::size_t>(l.c_in), 1.0), l.c_in, 1);
      h.rule = WeightRule::kFull8;
      const double plane = static_cast<double>(vi.height) * vi.width;
      double mx = 0;
      for (float s : scales) mx = std::max(mx, s * vi.scale / plane);
      int e = 0;
      std::frexp(mx > 0 ? mx : 1.0, &e);
      int q = std::clamp(kHeadMultiplierBits - e, 0, 62);
      double bmax = 0;
      for (float b : bias) bmax = std::max(bmax, static_cast<double>(std::fabs(b)));
      if (bmax > 0) {
        int eb = 0;
        std::frexp(bmax, &eb);
        q = std::min(q, 60 - eb);
      }
      if (q < 0) c.fail("layer '" + l.name + "': logits out of range");
      h.logit_frac_bits = q;
      for (int j = 0; j < l.c_out; ++j) {
        h.multiplier.push_back(static_cast<std::int64_t>(
            std::llround(std::ldexp(scales[static_cast<std::size_t>(j)] * vi.scale / plane, q))));
        h.bias.push_back(static_cast<std::int64_t>(
            std::llround(std::ldexp(static_cast<double>(bias[static_cast<std::size_t>(j)]), q))));
      }
      m.ops.push_back(std::move(op));
      continue;
    }
    const int b = block_of[static_cast<std::size_t>(li)];
    const models::Block* bl = b >= 0 ? &desc.blocks[static_cast<std::size_t>(b)] : nullptr;
    if (bl && li == bl->conv_a) {
      block_in[static_cast<std::size_t>(b)] = cur;
      const std::string clip_name = block_prefix(l.name) + ".out_clip";
      if (c.has(clip_name)) {
        const float clip = c.tensor(clip_name, 1)[0];
        if (!(clip > 0)) c.fail("'" + clip_name + "' is not positive");
        add_pact[static_cast<std::size_t>(b)] = true;
        add_unit[static_cast<std::size_t>(b)] = clip / La / (1 << kAddFracBits);
      } else {
        add_unit[static_cast<std::size_t>(b)] = kFixedUnit;
      }
    }
    const int in_v =
        is_shortcut[static_cast<std::size_t>(li)] ? block_in[static_cast<std::size_t>(b)] : cur;
    const ValueInfo vin = m.values[static_cast<std::size_t>(in_v)];
    Op op;
    op.kind = OpKind::kConv;
    ConvOp& cv = op.conv;
    cv.name = l.name;
    cv.input = in_v;
    cv.c_in = l.c_in;
    cv.c_out = l.c_out;
    cv.k = l.k;
    cv.stride = l.stride;
    cv.pad = l.pad;
    cv.h_in = l.h_in;
    cv.w_in = l.w_in;
    cv.h_out = l.h_out;
    cv.w_out = l.w_out;
    cv.in_pool = to_pool(l.in_pool, true);
    cv.out_pool = to_pool(l.out_pool, false);
    if (vin.channels != l.c_in) c.fail("layer '" + l.name + "': input channels do not match");
    const int kk = l.k * l.k;
    const std::size_t nw = static_cast<std::size_t>(l.c_out) * l.c_in * kk;
    const bool qw = l.quantized || qall;
    const LayerWeights lw = layer_weights(c, l.name, nw, qw, qkind, wbits);
    std::vector<double> t_real(static_cast<std::size_t>(l.c_out));  // real per unit of t
    const bool stem = in_v == 0;
    const bool avg_in = l.in_pool.kind == models::PoolKind::kAvg;
    if (stem) {
      if (l.in_pool.kind != models::PoolKind::kNone) c.fail("layer '" + l.name + "': input pool");
      // x = pixel (0..255); normalized v = pixel * f_c - mean_c / std_c, f_c = 1 / (255 std_c).
      std::vector<double> f(static_cast<std::size_t>(l.c_in));
      for (int ch = 0; ch < l.c_in; ++ch) {
        if (!(norm.stddev[static_cast<std::size_t>(ch)] > 0)) c.fail("normalization stddev <= 0");
        f[static_cast<std::size_t>(ch)] = 1.0 / (255.0 * norm.stddev[static_cast<std::size_t>(ch)]);
      }
      cv.rule = WeightRule::kFull8;
      cv.weight_bits = 8;
      full8_weights(lw, l.c_out, cv.weights, cv.weight_scale, f, l.c_in, kk);
      // Offsets: the taps inside the image contribute -sum w8 * 255 * mean_c (zero padding of the
      // normalized input = pixel 255 * mean_c there).
      const int plane = l.h_out * l.w_out;
      cv.bias_frac_bits = kStemBiasFracBits;
      cv.acc_bias.resize(static_cast<std::size_t>(l.c_out) * plane);
      for (int mo = 0; mo < l.c_out; ++mo)
        for (int oy = 0; oy < l.h_out; ++oy)
          for (int ox = 0; ox < l.w_out; ++ox) {
            double s = 0;
            for (int ch = 0; ch < l.c_in; ++ch)
              for (int ky = 0; ky < l.k; ++ky)
                for (int kx = 0; kx < l.k; ++kx) {
                  const int iy = oy * l.stride - l.pad + ky, ix = ox * l.stride - l.pad + kx;
                  if (iy < 0 || iy >= l.h_in || ix < 0 || ix >= l.w_in) continue;
                  s += cv.weights[((static_cast<std::size_t>(mo) * l.c_in + ch) * l.k + ky) * l.k +
                                  kx] *
                       255.0 * norm.mean[static_cast<std::size_t>(ch)];
                }
            cv.acc_bias[static_cast<std::size_t>(mo) * plane + oy * l.w_out + ox] =
                static_cast<std::int32_t>(std::llround(-s * (1 << kStemBiasFracBits)));
          }
      for (int mo = 0; mo < l.c_out; ++mo)
        t_real[static_cast<std::size_t>(mo)] =
            cv.weight_scale[static_cast<std::size_t>(mo)] / (1 << kStemBiasFracBits);
    } else {
      if (vin.kind != ValueKind::kCodes)
        c.fail("layer '" + l.name + "' reads a value that is not activation codes");
      double sx = vin.scale;
      int in_max = vin.max_code;
      if (avg_in) {
        if (l.in_pool.pad != 0) c.fail("layer '" + l.name + "': padded average pool");
        sx /= static_cast<double>(l.in_pool.k) * l.in_pool.k;
        in_max *= l.in_pool.k * l.in_pool.k;
      }
      if (lw.quantized && !avg_in) {
        cv.rule = WeightRule::kQuantized;
        cv.weight_bits = wbits;
        cv.alpha = lw.alpha;
        cv.beta = lw.beta;
        cv.weights.resize(nw);
        for (std::size_t i = 0; i < nw; ++i) cv.weights[i] = static_cast<std::int8_t>(lw.codes[i]);
        cv.weight_scale.assign(static_cast<std::size_t>(l.c_out), static_cast<float>(lw.scale));
        for (auto& t : t_real) t = sx * lw.scale;
      } else {
        cv.rule = WeightRule::kFull8;
        cv.weight_bits = 8;
        while (((in_max + (cv.input_shift > 0 ? (1 << (cv.input_shift - 1)) : 0)) >>
                cv.input_shift) > 127)
          ++cv.input_shift;
        sx *= static_cast<double>(1 << cv.input_shift);
        full8_weights(lw, l.c_out, cv.weights, cv.weight_scale,
                      std::vector<double>(static_cast<std::size_t>(l.c_in), 1.0), l.c_in, kk);
        for (int mo = 0; mo < l.c_out; ++mo)
          t_real[static_cast<std::size_t>(mo)] = sx * cv.weight_scale[static_cast<std::size_t>(mo)];
      }
    }
    // BN (eval: running statistics), then the activation or the add's domain.
    std::vector<double> bn_scale(static_cast<std::size_t>(l.c_out), 1.0),
        bn_shift(static_cast<std::size_t>(l.c_out), 0.0);
    if (l.batch_norm) {
      const auto n = static_cast<std::size_t>(l.c_out);
      const auto& gamma = c.tensor(l.name + ".bn.gamma", n);
      const auto& beta = c.tensor(l.name + ".bn.beta", n);
      const auto& mean = c.tensor(l.name + ".bn.running_mean", n);
      const auto& var = c.tensor(l.name + ".bn.running_var", n);
      for (std::size_t j = 0; j < n; ++j) {
        bn_scale[j] = gamma[j] / std::sqrt(static_cast<double>(var[j]) + eps);
        bn_shift[j] = beta[j] - mean[j] * bn_scale[j];
      }
    }
    ValueInfo vout;
    vout.channels = l.c_out;
    vout.height = l.out_pool.kind == models::PoolKind::kNone
                      ? l.h_out
                      : (l.h_out + 2 * l.out_pool.pad - l.out_pool.k) / l.out_pool.stride + 1;
    vout.width = l.out_pool.kind == models::PoolKind::kNone
                     ? l.w_out
                     : (l.w_out + 2 * l.out_pool.pad - l.out_pool.k) / l.out_pool.stride + 1;
    double out_unit = 0;
    const std::string clip_name = l.name + ".act_clip";
    Requant& rq = cv.requant;
    if (c.has(clip_name)) {
      const float clip = c.tensor(clip_name, 1)[0];
      if (!(clip > 0)) c.fail("'" + clip_name + "' is not positive");
      vout.kind = ValueKind::kCodes;
      vout.max_code = La;
      out_unit = static_cast<double>(clip) / La;
      rq.lo = 0;
      rq.hi = La;
    } else {
      if (l.out_pool.kind == models::PoolKind::kAvg)
        c.fail("layer '" + l.name + "': an average pool after a full-precision activation");
      vout.kind = ValueKind::kFixed;
      const bool to_add = bl && (li == bl->last() || is_shortcut[static_cast<std::size_t>(li)]);
      out_unit = to_add ? add_unit[static_cast<std::size_t>(b)] : kFixedUnit;
      rq.lo = l.relu ? 0 : std::numeric_limits<std::int32_t>::min();
      rq.hi = std::numeric_limits<std::int32_t>::max();
      if (to_add && l.relu) c.fail("layer '" + l.name + "': a ReLU before the residual add");
    }
    vout.scale = out_unit;
    for (int mo = 0; mo < l.c_out; ++mo) {
      const Scalar s = make_requant(
          t_real[static_cast<std::size_t>(mo)] * bn_scale[static_cast<std::size_t>(mo)] / out_unit,
          bn_shift[static_cast<std::size_t>(mo)] / out_unit, c, l.name);
      rq.multiplier.push_back(s.multiplier);
      rq.offset.push_back(s.offset);
      rq.shift.push_back(static_cast<std::uint8_t>(s.shift));
    }
    m.values.push_back(vout);
    cv.output = static_cast<int>(m.values.size()) - 1;
    const int out = cv.output;
    m.ops.push_back(std::move(op));
    if (bl && is_shortcut[static_cast<std::size_t>(li)]) {
      cur = emit_add(b, block_main[static_cast<std::size_t>(b)], out);
    } else if (bl && li == bl->last()) {
      if (bl->shortcut >= 0) {
        block_main[static_cast<std::size_t>(b)] = out;
        cur = out;
      } else {
        cur = emit_add(b, out, block_in[static_cast<std::size_t>(b)]);
      }
    } else {
      cur = out;
    }
  }
  validate(m, source);
  return m;
}

ExportResult run_export(const ExportConfig& config) {
  if (config.checkpoint.empty() || config.out.empty())
    throw std::invalid_argument("export: --checkpoint and --out are required");
  if (config.subset < 0) throw std::invalid_argument("export: --subset must be >= 0");
  if (config.format != "nce" && config.format != "qonnx")
    throw std::invalid_argument("export: --format '" + config.format +
                                "': want nce (the integer model) or qonnx");
  check_output_path(config.out);  // before the minutes of reading and exporting
  const nn::Checkpoint ck = nn::read_checkpoint(config.checkpoint);
  std::string dataset = config.dataset;
  std::string trained_on, train_images;
  for (const auto& [k, v] : ck.options) {
    if (k == "dataset") trained_on = v;
    if (k == "train_images") train_images = v;
  }
  if (dataset.empty()) dataset = trained_on;
  if (!trained_on.empty() && dataset != trained_on)
    throw std::runtime_error(config.checkpoint + ": trained on '" + trained_on + "', not '" +
                             dataset + "'");
  nn::DatasetPair data = nn::load_dataset(dataset, config.data_dir);
  if (config.subset > 0) data.train = nn::subset_per_class(data.train, config.subset);
  if (!train_images.empty() && train_images != std::to_string(data.train.size()))
    throw std::runtime_error(config.checkpoint + ": trained on " + train_images +
                             " images, this training set has " + std::to_string(data.train.size()) +
                             " (pass the run's --subset; the normalization comes from them)");
  const nn::Normalization norm = nn::compute_normalization(data.train);
  ExportResult r;
  if (config.format == "qonnx") {
    // The graph quantizes as the integer model does, so it refuses what that refuses.
    r.qonnx = export_qonnx(ck, norm, config.checkpoint, &r.model);
    write_file_atomic(config.out, r.qonnx.bytes);
    r.bytes = r.qonnx.bytes.size();
    return r;
  }
  r.model = export_int_model(ck, norm, config.checkpoint);
  write_int_model(config.out, r.model);
  r.bytes = serialize(r.model).size();
  return r;
}

}  // namespace nce::deploy
