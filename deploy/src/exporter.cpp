#include "nce/deploy/exporter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "export_weights.h"
#include "nce/common/output_file.h"
#include "nce/models/network.h"
#include "nce/nn/quantizer.h"

namespace nce::deploy {

namespace {

using namespace export_detail;

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

// The checkpoint's options that shape the whole model, checked for what nce infer can run.
struct ExportSettings {
  int wbits = 0, abits = 0;
  nn::QuantizerKind qkind = nn::QuantizerKind::kSawb;
  double eps = 0.0;
  bool qall = false;  // quantize_all_layers
};

ExportSettings read_settings(const Ctx& c) {
  ExportSettings s;
  s.wbits = to_int(c, "weight_bits");
  s.abits = to_int(c, "activation_bits");
  for (int b : {s.wbits, s.abits})
    if (b != 2 && b != 3 && b != 4 && b != 8)
      c.fail("weight_bits " + std::to_string(s.wbits) + ", activation_bits " +
             std::to_string(s.abits) + ": only 2, 3, 4 or 8 bits have an integer form");
  s.qkind = nn::parse_quantizer(c.option("quantizer"));
  // What nce infer cannot run is refused here, before anything is written: SAWB and DoReFa codes
  // c map to the effective integers 2c + 1, which at 8 bits reach +-255, past the signed byte the
  // engine (and the array's 8-bit rule) multiplies.
  if (s.wbits == 8 && s.qkind != nn::QuantizerKind::kLsq)
    c.fail(std::string("8-bit ") + nn::to_string(s.qkind) +
           " weights are not supported by the integer engine (their effective integers 2c+1 reach "
           "+-255, past a signed byte); export a checkpoint with weight_bits 2, 3 or 4, or train "
           "8-bit weights with --quantizer lsq");
  s.eps = to_double(c, "bn_eps");
  s.qall = c.option("quantize_all_layers") == "1";
  return s;
}

// The checkpoint's network on its input (option 'input', CxHxW), which the normalization must
// match.
models::Network checkpoint_network(const Ctx& c, const nn::Normalization& norm) {
  models::InputShape input;
  const std::string& in = c.option("input");
  char x1 = 0, x2 = 0;
  std::istringstream is(in);
  if (!(is >> input.channels >> x1 >> input.height >> x2 >> input.width) || x1 != 'x' || x2 != 'x')
    c.fail("option 'input' = '" + in + "' is not CxHxW");
  input.num_classes = 10;
  if (norm.mean.size() != static_cast<std::size_t>(input.channels) ||
      norm.stddev.size() != norm.mean.size())
    c.fail("the normalization has " + std::to_string(norm.mean.size()) + " channels, the input " +
           std::to_string(input.channels));
  try {
    return models::build(c.ck.model, c.ck.widths, input);
  } catch (const std::invalid_argument& e) {
    c.fail(e.what());
  }
}

// The integer model of a checkpoint, built op by op in the network's execution order: a conv op
// per conv layer, an add op after each residual block, the head last.
class IntModelBuilder {
 public:
  IntModelBuilder(const Ctx& c, const ExportSettings& s, const nn::Normalization& norm,
                  const models::Network& desc, IntModel& m)
      : c_(c), s_(s), norm_(norm), desc_(desc), m_(m), la_((1 << s.abits) - 1) {
    const std::size_t nl = desc.layers.size(), nb = desc.blocks.size();
    block_of_.assign(nl, -1);
    is_shortcut_.assign(nl, false);
    for (int b = 0; b < static_cast<int>(nb); ++b) {
      const models::Block& bl = desc.blocks[static_cast<std::size_t>(b)];
      for (int li : {bl.conv_a, bl.conv_b, bl.conv_c, bl.shortcut})
        if (li >= 0) block_of_[static_cast<std::size_t>(li)] = b;
      if (bl.shortcut >= 0) is_shortcut_[static_cast<std::size_t>(bl.shortcut)] = true;
    }
    block_in_.assign(nb, -1);
    block_main_.assign(nb, -1);
    add_unit_.assign(nb, 0.0);
    add_pact_.assign(nb, false);
  }

  void add_layer(int li);

 private:
  const models::Block* block(int b) const {
    return b >= 0 ? &desc_.blocks[static_cast<std::size_t>(b)] : nullptr;
  }
  void add_head(const models::Layer& l);
  void open_block(int b, const models::Layer& l);
  std::vector<double> stem_weights(ConvOp& cv, const models::Layer& l, const LayerWeights& lw);
  std::vector<double> inner_weights(ConvOp& cv, const models::Layer& l, const LayerWeights& lw,
                                    const ValueInfo& vin);
  ValueInfo requantize(ConvOp& cv, const models::Layer& l, int li, int b,
                       const std::vector<double>& t_real);
  void map_add_input(int v, double u, const std::string& name, std::int32_t& mult,
                     std::int64_t& off, int& sh);
  int emit_add(int b, int main_v, int short_v);

  const Ctx& c_;
  const ExportSettings& s_;
  const nn::Normalization& norm_;
  const models::Network& desc_;
  IntModel& m_;
  const int la_;               // the largest activation code
  std::vector<int> block_of_;  // per layer: its residual block, -1 for none
  std::vector<bool> is_shortcut_;
  std::vector<int> block_in_, block_main_;  // per block: its input value, its main path's output
  std::vector<double> add_unit_;            // per block: real per unit of the add's fixed domain
  std::vector<bool> add_pact_;
  int cur_ = 0;  // the value the next layer reads
};

void IntModelBuilder::add_head(const models::Layer& l) {
  const ValueInfo& vi = m_.values[static_cast<std::size_t>(cur_)];
  if (vi.channels != l.c_in) c_.fail("layer '" + l.name + "': input channels");
  Op op;
  op.kind = OpKind::kHead;
  HeadOp& h = op.head;
  h.name = l.name;
  h.input = cur_;
  h.c_in = l.c_in;
  h.classes = l.c_out;
  // nn::Network's head multiplies with the float weights whatever the options say.
  const LayerWeights lw = layer_weights(c_, l.name, static_cast<std::size_t>(l.c_out) * l.c_in,
                                        false, s_.qkind, s_.wbits);
  const std::vector<float>& bias = c_.tensor(l.name + ".bias", static_cast<std::size_t>(l.c_out));
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
  if (q < 0) c_.fail("layer '" + l.name + "': logits out of range");
  h.logit_frac_bits = q;
  for (int j = 0; j < l.c_out; ++j) {
    h.multiplier.push_back(static_cast<std::int64_t>(
        std::llround(std::ldexp(scales[static_cast<std::size_t>(j)] * vi.scale / plane, q))));
    h.bias.push_back(static_cast<std::int64_t>(
        std::llround(std::ldexp(static_cast<double>(bias[static_cast<std::size_t>(j)]), q))));
  }
  m_.ops.push_back(std::move(op));
}

// Block b starts at its conv_a l: its input, and its add's domain (PACT codes with the block's
// out_clip, or fixed point).
void IntModelBuilder::open_block(int b, const models::Layer& l) {
  const auto bi = static_cast<std::size_t>(b);
  block_in_[bi] = cur_;
  const std::string clip_name = block_prefix(l.name) + ".out_clip";
  if (c_.has(clip_name)) {
    const float clip = c_.tensor(clip_name, 1)[0];
    if (!(clip > 0)) c_.fail("'" + clip_name + "' is not positive");
    add_pact_[bi] = true;
    add_unit_[bi] = clip / la_ / (1 << kAddFracBits);
  } else {
    add_unit_[bi] = kFixedUnit;
  }
}

// The stem reads raw pixels: x = pixel (0..255); normalized v = pixel * f_c - mean_c / std_c,
// f_c = 1 / (255 std_c), folded into 8-bit weights and per-pixel accumulator offsets. Returns
// the real value of one unit of t per output channel.
std::vector<double> IntModelBuilder::stem_weights(ConvOp& cv, const models::Layer& l,
                                                  const LayerWeights& lw) {
  if (l.in_pool.kind != models::PoolKind::kNone) c_.fail("layer '" + l.name + "': input pool");
  std::vector<double> f(static_cast<std::size_t>(l.c_in));
  for (int ch = 0; ch < l.c_in; ++ch) {
    if (!(norm_.stddev[static_cast<std::size_t>(ch)] > 0)) c_.fail("normalization stddev <= 0");
    f[static_cast<std::size_t>(ch)] = 1.0 / (255.0 * norm_.stddev[static_cast<std::size_t>(ch)]);
  }
  cv.rule = WeightRule::kFull8;
  cv.weight_bits = 8;
  full8_weights(lw, l.c_out, cv.weights, cv.weight_scale, f, l.c_in, l.k * l.k);
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
              s +=
                  cv.weights[((static_cast<std::size_t>(mo) * l.c_in + ch) * l.k + ky) * l.k + kx] *
                  255.0 * norm_.mean[static_cast<std::size_t>(ch)];
            }
        cv.acc_bias[static_cast<std::size_t>(mo) * plane + oy * l.w_out + ox] =
            static_cast<std::int32_t>(std::llround(-s * (1 << kStemBiasFracBits)));
      }
  std::vector<double> t_real(static_cast<std::size_t>(l.c_out));
  for (int mo = 0; mo < l.c_out; ++mo)
    t_real[static_cast<std::size_t>(mo)] =
        cv.weight_scale[static_cast<std::size_t>(mo)] / (1 << kStemBiasFracBits);
  return t_real;
}

// A conv past the stem reads activation codes: its b-bit codes as they are, or (full-precision
// layers, or after an average pool) the 8-bit rule on inputs shifted into 8 bits. Returns the real
// value of one unit of t per output channel.
std::vector<double> IntModelBuilder::inner_weights(ConvOp& cv, const models::Layer& l,
                                                   const LayerWeights& lw, const ValueInfo& vin) {
  if (vin.kind != ValueKind::kCodes)
    c_.fail("layer '" + l.name + "' reads a value that is not activation codes");
  const bool avg_in = l.in_pool.kind == models::PoolKind::kAvg;
  double sx = vin.scale;
  int in_max = vin.max_code;
  if (avg_in) {
    if (l.in_pool.pad != 0) c_.fail("layer '" + l.name + "': padded average pool");
    sx /= static_cast<double>(l.in_pool.k) * l.in_pool.k;
    in_max *= l.in_pool.k * l.in_pool.k;
  }
  std::vector<double> t_real(static_cast<std::size_t>(l.c_out));
  if (lw.quantized && !avg_in) {
    cv.rule = WeightRule::kQuantized;
    cv.weight_bits = s_.wbits;
    cv.alpha = lw.alpha;
    cv.beta = lw.beta;
    cv.weights.assign(lw.codes.begin(), lw.codes.end());
    cv.weight_scale.assign(static_cast<std::size_t>(l.c_out), static_cast<float>(lw.scale));
    for (auto& t : t_real) t = sx * lw.scale;
    return t_real;
  }
  cv.rule = WeightRule::kFull8;
  cv.weight_bits = 8;
  while (((in_max + (cv.input_shift > 0 ? (1 << (cv.input_shift - 1)) : 0)) >> cv.input_shift) >
         127)
    ++cv.input_shift;
  sx *= static_cast<double>(1 << cv.input_shift);
  full8_weights(lw, l.c_out, cv.weights, cv.weight_scale,
                std::vector<double>(static_cast<std::size_t>(l.c_in), 1.0), l.c_in, l.k * l.k);
  for (int mo = 0; mo < l.c_out; ++mo)
    t_real[static_cast<std::size_t>(mo)] = sx * cv.weight_scale[static_cast<std::size_t>(mo)];
  return t_real;
}

// BN (eval: running statistics), then the activation (PACT codes) or the fixed-point domain
// (of the block's add, when the layer feeds it): the requantization of t to the output value,
// whose description it returns.
ValueInfo IntModelBuilder::requantize(ConvOp& cv, const models::Layer& l, int li, int b,
                                      const std::vector<double>& t_real) {
  const auto n = static_cast<std::size_t>(l.c_out);
  std::vector<double> bn_scale(n, 1.0), bn_shift(n, 0.0);
  if (l.batch_norm) {
    const auto& gamma = c_.tensor(l.name + ".bn.gamma", n);
    const auto& beta = c_.tensor(l.name + ".bn.beta", n);
    const auto& mean = c_.tensor(l.name + ".bn.running_mean", n);
    const auto& var = c_.tensor(l.name + ".bn.running_var", n);
    for (std::size_t j = 0; j < n; ++j) {
      bn_scale[j] = gamma[j] / std::sqrt(static_cast<double>(var[j]) + s_.eps);
      bn_shift[j] = beta[j] - mean[j] * bn_scale[j];
    }
  }
  ValueInfo vout;
  vout.channels = l.c_out;
  const bool pooled = l.out_pool.kind != models::PoolKind::kNone;
  const int pool_span = 2 * l.out_pool.pad - l.out_pool.k;
  vout.height = pooled ? (l.h_out + pool_span) / l.out_pool.stride + 1 : l.h_out;
  vout.width = pooled ? (l.w_out + pool_span) / l.out_pool.stride + 1 : l.w_out;
  const std::string clip_name = l.name + ".act_clip";
  Requant& rq = cv.requant;
  if (c_.has(clip_name)) {
    const float clip = c_.tensor(clip_name, 1)[0];
    if (!(clip > 0)) c_.fail("'" + clip_name + "' is not positive");
    vout.kind = ValueKind::kCodes;
    vout.max_code = la_;
    vout.scale = static_cast<double>(clip) / la_;
    rq.lo = 0;
    rq.hi = la_;
  } else {
    if (l.out_pool.kind == models::PoolKind::kAvg)
      c_.fail("layer '" + l.name + "': an average pool after a full-precision activation");
    vout.kind = ValueKind::kFixed;
    const models::Block* bl = block(b);
    const bool to_add = bl && (li == bl->last() || is_shortcut_[static_cast<std::size_t>(li)]);
    vout.scale = to_add ? add_unit_[static_cast<std::size_t>(b)] : kFixedUnit;
    rq.lo = l.relu ? 0 : std::numeric_limits<std::int32_t>::min();
    rq.hi = std::numeric_limits<std::int32_t>::max();
    if (to_add && l.relu) c_.fail("layer '" + l.name + "': a ReLU before the residual add");
  }
  for (std::size_t mo = 0; mo < n; ++mo) {
    const Scalar s =
        make_requant(t_real[mo] * bn_scale[mo] / vout.scale, bn_shift[mo] / vout.scale, c_, l.name);
    rq.multiplier.push_back(s.multiplier);
    rq.offset.push_back(s.offset);
    rq.shift.push_back(static_cast<std::uint8_t>(s.shift));
  }
  return vout;
}

// An input v of the add `name` into its domain of unit u: as it is when it is already there,
// else requantized.
void IntModelBuilder::map_add_input(int v, double u, const std::string& name, std::int32_t& mult,
                                    std::int64_t& off, int& sh) {
  const ValueInfo& vi = m_.values[static_cast<std::size_t>(v)];
  if (vi.kind == ValueKind::kFixed) {
    if (vi.scale != u) c_.fail("block '" + name + "': inputs in different fixed domains");
    mult = 1;
    off = 0;
    sh = 0;
    return;
  }
  const Scalar s = make_requant(vi.scale / u, 0.0, c_, name + ".add");
  mult = s.multiplier;
  off = s.offset;
  sh = s.shift;
}

int IntModelBuilder::emit_add(int b, int main_v, int short_v) {
  const models::Block& bl = desc_.blocks[static_cast<std::size_t>(b)];
  const std::string name = block_prefix(desc_.layers[static_cast<std::size_t>(bl.conv_a)].name);
  Op op;
  op.kind = OpKind::kAdd;
  AddOp& a = op.add;
  a.name = name + ".add";
  a.a = main_v;
  a.b = short_v;
  const double u = add_unit_[static_cast<std::size_t>(b)];
  map_add_input(a.a, u, name, a.a_multiplier, a.a_offset, a.a_shift);
  map_add_input(a.b, u, name, a.b_multiplier, a.b_offset, a.b_shift);
  a.pact = add_pact_[static_cast<std::size_t>(b)];
  a.frac_bits = kAddFracBits;
  a.max_code = la_;
  const ValueInfo& vm = m_.values[static_cast<std::size_t>(main_v)];
  ValueInfo out{a.pact ? ValueKind::kCodes : ValueKind::kFixed,
                vm.channels,
                vm.height,
                vm.width,
                a.pact ? la_ : 0,
                a.pact ? u * (1 << kAddFracBits) : u};
  const ValueInfo& vs = m_.values[static_cast<std::size_t>(short_v)];
  if (vs.channels != vm.channels || vs.height != vm.height || vs.width != vm.width)
    c_.fail("block '" + name + "' adds tensors of different shapes");
  m_.values.push_back(out);
  a.output = static_cast<int>(m_.values.size()) - 1;
  m_.ops.push_back(std::move(op));
  return a.output;
}

void IntModelBuilder::add_layer(int li) {
  const models::Layer& l = desc_.layers[static_cast<std::size_t>(li)];
  if (l.kind == models::LayerKind::kFC) {
    if (li != static_cast<int>(desc_.layers.size()) - 1)
      c_.fail("FC layer '" + l.name + "' is not the last layer");
    add_head(l);
    return;
  }
  const int b = block_of_[static_cast<std::size_t>(li)];
  const models::Block* bl = block(b);
  if (bl && li == bl->conv_a) open_block(b, l);
  const bool shortcut = is_shortcut_[static_cast<std::size_t>(li)];
  const int in_v = shortcut ? block_in_[static_cast<std::size_t>(b)] : cur_;
  const ValueInfo vin = m_.values[static_cast<std::size_t>(in_v)];
  Op op;
  op.kind = OpKind::kConv;
  ConvOp& cv = op.conv;
  cv.name = l.name;
  cv.input = in_v;
  std::tie(cv.c_in, cv.c_out, cv.k, cv.stride, cv.pad) =
      std::tie(l.c_in, l.c_out, l.k, l.stride, l.pad);
  std::tie(cv.h_in, cv.w_in, cv.h_out, cv.w_out) = std::tie(l.h_in, l.w_in, l.h_out, l.w_out);
  cv.in_pool = to_pool(l.in_pool, true);
  cv.out_pool = to_pool(l.out_pool, false);
  if (vin.channels != l.c_in) c_.fail("layer '" + l.name + "': input channels do not match");
  const std::size_t nw = static_cast<std::size_t>(l.c_out) * l.c_in * l.k * l.k;
  const LayerWeights lw = layer_weights(c_, l.name, nw, l.quantized || s_.qall, s_.qkind, s_.wbits);
  const std::vector<double> t_real =
      in_v == 0 ? stem_weights(cv, l, lw) : inner_weights(cv, l, lw, vin);
  m_.values.push_back(requantize(cv, l, li, b, t_real));
  cv.output = static_cast<int>(m_.values.size()) - 1;
  const int out = cv.output;
  m_.ops.push_back(std::move(op));
  if (bl && shortcut) {
    cur_ = emit_add(b, block_main_[static_cast<std::size_t>(b)], out);
  } else if (bl && li == bl->last()) {
    if (bl->shortcut >= 0) {
      block_main_[static_cast<std::size_t>(b)] = out;
      cur_ = out;
    } else {
      cur_ = emit_add(b, out, block_in_[static_cast<std::size_t>(b)]);
    }
  } else {
    cur_ = out;
  }
}

}  // namespace

IntModel export_int_model(const nn::Checkpoint& ck, const nn::Normalization& norm,
                          const std::string& source) {
  Ctx c{ck, source, {}, {}};
  for (const auto& b : ck.network) c.state[b.name] = &b.values;
  for (const auto& [k, v] : ck.options) c.options[k] = v;
  const ExportSettings settings = read_settings(c);
  const models::Network desc = checkpoint_network(c, norm);
  IntModel m;
  m.model = ck.model;
  m.widths = desc.widths;
  m.dataset = c.options.count("dataset") ? c.options["dataset"] : "";
  m.weight_bits = settings.wbits;
  m.activation_bits = settings.abits;
  m.quantizer = nn::to_string(settings.qkind);
  m.norm_mean = norm.mean;
  m.norm_stddev = norm.stddev;
  const models::InputShape& input = desc.input;
  m.values.push_back(
      ValueInfo{ValueKind::kCodes, input.channels, input.height, input.width, 255, 0.0});
  IntModelBuilder builder(c, settings, norm, desc, m);
  for (int li = 0; li < static_cast<int>(desc.layers.size()); ++li) builder.add_layer(li);
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
  common::check_output_path(config.out);  // before the minutes of reading and exporting
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
    common::write_file_atomic(config.out, r.qonnx.bytes);
    r.bytes = r.qonnx.bytes.size();
    return r;
  }
  r.model = export_int_model(ck, norm, config.checkpoint);
  write_int_model(config.out, r.model);
  r.bytes = serialize(r.model).size();
  return r;
}

}  // namespace nce::deploy
