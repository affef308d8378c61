#include "nce/deploy/qonnx_export.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>

#include "nce/deploy/exporter.h"
#include "nce/deploy/onnx_proto.h"
#include "nce/models/network.h"

namespace nce::deploy {

namespace {

using onnx::Message;

// Appends nodes and initializers to one GraphProto, checking that every tensor name is unique.
struct Builder {
  std::string source;
  Message graph;
  std::set<std::string> names;
  int nodes = 0, quants = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(source + ": cannot export as QONNX: " + what);
  }
  const std::string& unique(const std::string& name) {
    if (!names.insert(name).second) fail("tensor name '" + name + "' is used twice");
    return name;
  }
  std::string init(const std::string& name, const std::vector<std::int64_t>& dims,
                   const std::vector<float>& values) {
    graph.message(onnx::graph_field::kInitializer, onnx::float_tensor(unique(name), dims, values));
    return name;
  }
  std::string add(const std::string& op, const std::vector<std::string>& inputs,
                  const std::string& out, const std::vector<Message>& attrs = {},
                  const std::string& domain = "") {
    graph.message(onnx::graph_field::kNode,
                  onnx::node(op, inputs, {unique(out)}, out, attrs, domain));
    ++nodes;
    return out;
  }
  // QONNX Quant: y = (clamp(round(x / scale + zeropt), min_int, max_int) - zeropt) * scale, with
  // [min_int, max_int] = [-2^(b-1) (+1 if narrow), 2^(b-1) - 1] (signed) or [0, 2^b - 1].
  std::string quant(const std::string& x, const std::string& out,
                    const std::vector<std::int64_t>& scale_dims, const std::vector<float>& scale,
                    float zeropt, int bits, bool is_signed, bool narrow, const char* rounding) {
    for (float s : scale)
      if (!(s > 0) || !std::isfinite(s))
        fail("'" + out + "': scale " + std::to_string(s) + " is not a positive number");
    const std::string s = init(out + ".scale", scale_dims, scale);
    const std::string z = init(out + ".zeropt", {}, {zeropt});
    const std::string b = init(out + ".bitwidth", {}, {static_cast<float>(bits)});
    ++quants;
    return add(
        "Quant", {x, s, z, b}, out,
        {onnx::attr_int("signed", is_signed ? 1 : 0), onnx::attr_int("narrow", narrow ? 1 : 0),
         onnx::attr_string("rounding_mode", rounding)},
        kQonnxDomain);
  }
  std::vector<Message> pool_attrs(int k, int stride, int pad) const {
    return {onnx::attr_ints("kernel_shape", {k, k}), onnx::attr_ints("strides", {stride, stride}),
            onnx::attr_ints("pads", {pad, pad, pad, pad})};
  }
};

int bits_of(int max_code) {
  int b = 0;
  while ((1 << b) - 1 < max_code) ++b;
  return b;
}

// Writes the graph of one integer model, op by op, into `B` (the float side of the model is read
// from the checkpoint's state).
struct GraphWriter {
  Builder& B;
  const IntModel& m;
  std::map<std::string, const std::vector<float>*> state;
  double eps = 0;
  std::vector<std::string> name;  // per value: the graph tensor that holds it
  std::string stem_in;            // the pixels as the stem's 8-bit operand, built once
  bool head_scale_dynamic = false;

  const std::vector<float>& tensor(const std::string& tn, std::size_t n) const {
    auto it = state.find(tn);
    if (it == state.end() || it->second->size() != n)
      B.fail("tensor '" + tn + "' is missing or has the wrong size");
    return *it->second;
  }
  // The conv's input operand: the pixels (stem), or codes pooled and shifted as the model does.
  std::string conv_input(const ConvOp& c) {
    const ValueInfo& vin = m.values[static_cast<std::size_t>(c.input)];
    std::string x = name[static_cast<std::size_t>(c.input)];
    if (c.input == 0) {
      if (c.in_pool.kind != PoolKind::kNone) B.fail("layer '" + c.name + "': a pool on the pixels");
      if (c.rule != WeightRule::kFull8) B.fail("layer '" + c.name + "': the stem is not 8-bit");
      if (stem_in.empty()) {
        // The pixels as the array's 8-bit operand (x = pixel - 128: zero point -128).
        stem_in = B.quant("image", "image.q", {}, {1.0f}, -128.0f, 8, true, false, "ROUND");
      }
      x = stem_in;
    } else {
      if (vin.kind != ValueKind::kCodes)
        B.fail("layer '" + c.name + "' reads a value that is not activation codes");
      double s_in = vin.scale;
      if (c.in_pool.kind == PoolKind::kMax) {
        x = B.add("MaxPool", {x}, c.name + ".in_pool",
                  B.pool_attrs(c.in_pool.k, c.in_pool.stride, c.in_pool.pad));
      } else if (c.in_pool.kind == PoolKind::kSum) {
        if (c.in_pool.pad != 0) B.fail("layer '" + c.name + "': a padded average pool");
        x = B.add("AveragePool", {x}, c.name + ".in_pool",
                  B.pool_attrs(c.in_pool.k, c.in_pool.stride, 0));
        s_in /= static_cast<double>(c.in_pool.k) * c.in_pool.k;
      }
      if (c.rule == WeightRule::kFull8) {
        // The 8-bit operand: the codes (or their pool sums) rounded right by input_shift, half
        // up as the integer model's (v + 2^(shift-1)) >> shift.
        const double scale = std::ldexp(s_in, c.input_shift);
        x = B.quant(x, c.name + ".input_q", {}, {static_cast<float>(scale)}, 0.0f, 8, true, false,
                    c.input_shift > 0 ? "HALF_UP" : "ROUND");
      }
    }
    return x;
  }
  // The conv's weights (an initializer of dequantized levels behind a Quant).
  std::string conv_weights(const ConvOp& c) {
    // Weights: a float initializer holding the dequantized levels, and the Quant that maps them
    // onto their integer codes (idempotent on the levels).
    const int kk = c.k * c.k;
    const std::size_t per = static_cast<std::size_t>(c.c_in) * kk;
    const std::vector<std::int64_t> wdims{c.c_out, c.c_in, c.k, c.k};
    std::vector<float> w(c.weights.size());
    std::string wq;
    if (c.rule == WeightRule::kQuantized) {
      // weight = scale * (alpha * c + beta) = (alpha * scale) * (c - (-beta / alpha)).
      const double sc = c.weight_scale.at(0);
      for (std::size_t i = 0; i < w.size(); ++i)
        w[i] = static_cast<float>(sc * (c.alpha * c.weights[i] + c.beta));
      const std::string wi = B.init(c.name + ".weight", wdims, w);
      wq = B.quant(wi, c.name + ".weight_q", {}, {static_cast<float>(c.alpha * sc)},
                   static_cast<float>(-static_cast<double>(c.beta) / c.alpha), c.weight_bits, true,
                   false, "ROUND");
    } else {
      for (int mo = 0; mo < c.c_out; ++mo)
        for (std::size_t j = 0; j < per; ++j)
          w[mo * per + j] =
              static_cast<float>(static_cast<double>(c.weight_scale[static_cast<std::size_t>(mo)]) *
                                 c.weights[mo * per + j]);
      const std::string wi = B.init(c.name + ".weight", wdims, w);
      wq = B.quant(wi, c.name + ".weight_q", {c.c_out, 1, 1, 1}, c.weight_scale, 0.0f, 8, true,
                   true, "ROUND");
    }
    return wq;
  }
  void conv(const ConvOp& c) {
    std::string y = B.add("Conv", {conv_input(c), conv_weights(c)}, c.name + ".conv",
                          {onnx::attr_ints("kernel_shape", {c.k, c.k}),
                           onnx::attr_ints("strides", {c.stride, c.stride}),
                           onnx::attr_ints("pads", {c.pad, c.pad, c.pad, c.pad})});
    if (!c.acc_bias.empty()) {
      // The stem's folded input normalization, as the integer model adds it: per output pixel
      // -sum over the in-image taps of w8 * 255 mean_c (in 2^-bias_frac_bits accumulator units).
      const std::size_t plane = static_cast<std::size_t>(c.h_out) * c.w_out;
      if (c.acc_bias.size() != plane * c.c_out)
        B.fail("layer '" + c.name + "': accumulator offsets of the wrong size");
      std::vector<float> off(c.acc_bias.size());
      for (std::size_t i = 0; i < off.size(); ++i)
        off[i] = static_cast<float>(std::ldexp(
            static_cast<double>(c.weight_scale[i / plane]) * c.acc_bias[i], -c.bias_frac_bits));
      const std::string ot = B.init(c.name + ".offset", {c.c_out, c.h_out, c.w_out}, off);
      y = B.add("Add", {y, ot}, c.name + ".conv_offset");
    }
    if (state.count(c.name + ".bn.gamma")) {
      const auto n = static_cast<std::size_t>(c.c_out);
      std::vector<std::string> ins{y};
      for (const char* t : {"gamma", "beta", "running_mean", "running_var"}) {
        const std::string tn = c.name + ".bn." + t;
        ins.push_back(B.init(tn, {c.c_out}, tensor(tn, n)));
      }
      y = B.add("BatchNormalization", ins, c.name + ".bn",
                {onnx::attr_float("epsilon", static_cast<float>(eps))});
    }
    const ValueInfo& vo = m.values[static_cast<std::size_t>(c.output)];
    if (vo.kind == ValueKind::kCodes) {
      // PACT: round(clamp(z, 0, clip) * L / clip) * clip / L = Quant unsigned b-bit, scale
      // clip/L.
      y = B.quant(y, c.name + ".act", {}, {static_cast<float>(vo.scale)}, 0.0f,
                  bits_of(vo.max_code), false, false, "ROUND");
    } else {
      // A fixed-point value (a residual add's input, or a ReLU feeding the FC): int32 in units
      // of vo.scale (2^-16 of the add's PACT step, or 2^-16).
      if (c.requant.lo == 0) y = B.add("Relu", {y}, c.name + ".relu");
      y = B.quant(y, c.name + ".fixed", {}, {static_cast<float>(vo.scale)}, 0.0f, 32, true, false,
                  "ROUND");
    }
    if (c.out_pool.kind == PoolKind::kMax) {
      y = B.add("MaxPool", {y}, c.name + ".pool",
                B.pool_attrs(c.out_pool.k, c.out_pool.stride, c.out_pool.pad));
    } else if (c.out_pool.kind != PoolKind::kNone) {
      B.fail("layer '" + c.name + "': an average pool on a conv's output");
    }
    name[static_cast<std::size_t>(c.output)] = y;
  }
  void add(const AddOp& a) {
    const ValueInfo& vo = m.values[static_cast<std::size_t>(a.output)];
    // The add's fixed-point domain: 2^-frac_bits of its PACT step, or the fixed unit of a ReLU.
    const double u = a.pact ? std::ldexp(vo.scale, -a.frac_bits) : vo.scale;
    std::string terms[2];
    for (int k = 0; k < 2; ++k) {
      const int v = k == 0 ? a.a : a.b;
      terms[k] = name[static_cast<std::size_t>(v)];
      // Codes (an identity shortcut) enter the domain rounded, as the integer model maps them.
      if (m.values[static_cast<std::size_t>(v)].kind == ValueKind::kCodes)
        terms[k] = B.quant(terms[k], a.name + (k == 0 ? ".a_fixed" : ".b_fixed"), {},
                           {static_cast<float>(u)}, 0.0f, 32, true, false, "HALF_UP");
    }
    std::string y = B.add("Add", {terms[0], terms[1]}, a.name);
    // Both inputs lie on the fixed-point grid (2^-16 of the step), so a sum can be an exact
    // half step: the integer model's (sum + 2^15) >> 16 rounds it up (HALF_UP; the negative
    // ties clamp to 0 either way).
    if (a.pact)
      y = B.quant(y, a.name + ".act", {}, {static_cast<float>(vo.scale)}, 0.0f, bits_of(a.max_code),
                  false, false, "HALF_UP");
    else
      y = B.add("Relu", {y}, a.name + ".relu");
    name[static_cast<std::size_t>(a.output)] = y;
  }
  // The FC's input as an 8-bit operand whose scale depends on the image (the integer model's
  // per-image shift e).
  std::string dynamic_head_input(const HeadOp& h, std::string x, int plane, double unit,
                                 double max_sum) {
    // Per image: S = max_c (pooled sum_c) = ReduceMax(average) x plane / unit; the integer
    // model's e is the smallest with round(S / 2^e) <= 127, i.e. the number of thresholds
    // 127.5 x 2^(k-1), k >= 1, that S reaches; for integer S, ceil(127.5 x 2^(k-1)) - 0.5
    // (127.5, 254.5, 509.5, ...) decides the same with half a unit of margin.
    // Past 2^23 a float32 cannot hold the half: the exact tie value itself (255 x 2^(k-2),
    // representable) then decides, for sums that the graph computes exactly.
    std::vector<float> thresholds;
    for (int k = 1; k < 64; ++k) {
      const double tie = std::ldexp(127.5, k - 1);
      if (tie > max_sum) break;
      const double t = std::ceil(tie) - 0.5;
      thresholds.push_back(static_cast<double>(static_cast<float>(t)) == t
                               ? static_cast<float>(t)
                               : static_cast<float>(tie));
    }
    const std::string hp = h.name + ".input_scale";
    const std::string mx =
        B.add("ReduceMax", {x}, hp + ".max",
              {onnx::attr_ints("axes", {1, 2, 3}), onnx::attr_int("keepdims", 1)});
    const std::string sums =
        B.add("Mul", {mx, B.init(hp + ".to_sum", {}, {static_cast<float>(plane / unit)})},
              hp + ".max_sum");
    const std::string ge = B.add(
        "GreaterOrEqual",
        {sums,
         B.init(hp + ".thresholds", {static_cast<std::int64_t>(thresholds.size())}, thresholds)},
        hp + ".reached");
    const std::string gef =
        B.add("Cast", {ge}, hp + ".reached_f", {onnx::attr_int("to", onnx::kFloat)});
    B.graph.message(onnx::graph_field::kInitializer,
                    onnx::int64_tensor(B.unique(hp + ".axis"), {1}, {3}));
    const std::string e =
        B.add("ReduceSum", {gef, hp + ".axis"}, hp + ".shift", {onnx::attr_int("keepdims", 1)});
    const std::string p2 = B.add("Pow", {B.init(hp + ".two", {}, {2.0f}), e}, hp + ".pow2");
    const std::string sc =
        B.add("Mul", {p2, B.init(hp + ".unit", {}, {static_cast<float>(unit / plane)})}, hp);
    // The 8-bit operand: round(sum / 2^e) half up, as (sum + 2^(e-1)) >> e.
    x = B.add("Quant",
              {x, sc, B.init(h.name + ".input_q.zeropt", {}, {0.0f}),
               B.init(h.name + ".input_q.bitwidth", {}, {8.0f})},
              h.name + ".input_q",
              {onnx::attr_int("signed", 1), onnx::attr_int("narrow", 0),
               onnx::attr_string("rounding_mode", "HALF_UP")},
              kQonnxDomain);
    ++B.quants;
    head_scale_dynamic = true;
    return x;
  }
  void head(const HeadOp& h) {
    const ValueInfo& vi = m.values[static_cast<std::size_t>(h.input)];
    if (h.rule != WeightRule::kFull8) B.fail("head '" + h.name + "' is not on the 8-bit rule");
    std::string x =
        B.add("GlobalAveragePool", {name[static_cast<std::size_t>(h.input)]}, h.name + ".pool");
    const int plane = vi.height * vi.width;
    const double unit = vi.scale;  // real value of one unit of the input (code or fixed)
    const double max_sum =
        static_cast<double>(plane) * (vi.kind == ValueKind::kCodes ? vi.max_code : 2147483647.0);
    if (max_sum <= 127) {
      // The pooled sums are at most 127: the integer model's shift is 0, a constant scale.
      x = B.quant(x, h.name + ".input_q", {}, {static_cast<float>(unit / plane)}, 0.0f, 8, true,
                  false, "ROUND");
    } else {
      x = dynamic_head_input(h, x, plane, unit, max_sum);
    }
    x = B.add("Flatten", {x}, h.name + ".flatten", {onnx::attr_int("axis", 1)});
    // The FC's 8-bit weights: per class max-abs / 127, as the exporter rounds them (checked
    // against the integer model's codes).
    const std::size_t per = static_cast<std::size_t>(h.c_in);
    const auto& fw = tensor(h.name + ".weight", per * h.classes);
    std::vector<float> scales(static_cast<std::size_t>(h.classes)), w(fw.size());
    for (int j = 0; j < h.classes; ++j) {
      double mx = 0;
      for (std::size_t c = 0; c < per; ++c) mx = std::max(mx, std::fabs(double{fw[j * per + c]}));
      const double s = mx > 0 ? mx / 127.0 : 1.0;
      scales[static_cast<std::size_t>(j)] = static_cast<float>(s);
      for (std::size_t c = 0; c < per; ++c) {
        const long q = std::clamp<long>(std::lround(fw[j * per + c] / s), -127, 127);
        if (q != h.weights[j * per + c])
          B.fail("head '" + h.name + "': its 8-bit weights differ from the integer model's");
        w[j * per + c] =
            static_cast<float>(static_cast<double>(scales[static_cast<std::size_t>(j)]) * q);
      }
    }
    const std::string wi = B.init(h.name + ".weight", {h.classes, h.c_in}, w);
    const std::string wq =
        B.quant(wi, h.name + ".weight_q", {h.classes, 1}, scales, 0.0f, 8, true, true, "ROUND");
    const std::string bias = B.init(h.name + ".bias", {h.classes},
                                    tensor(h.name + ".bias", static_cast<std::size_t>(h.classes)));
    B.add("Gemm", {x, wq, bias}, "logits", {onnx::attr_int("transB", 1)});
  }
};

}  // namespace

QonnxGraph export_qonnx(const nn::Checkpoint& ck, const nn::Normalization& norm, const IntModel& m,
                        const std::string& source) {
  Builder B{source, {}, {}, 0, 0};
  GraphWriter W{B, m, {}, 0, {}, {}, false};
  for (const auto& b : ck.network) W.state[b.name] = &b.values;
  for (const auto& [k, v] : ck.options)
    if (k == "bn_eps") W.eps = std::stod(v);
  if (m.values.empty() || m.ops.empty() || m.ops.back().kind != OpKind::kHead)
    B.fail("the integer model has no head");
  const ValueInfo& in = m.values[0];
  if (norm.mean.size() != static_cast<std::size_t>(in.channels))
    B.fail("the normalization does not match the input channels");
  W.name.resize(m.values.size());
  W.name[0] = B.unique("image");
  for (const Op& op : m.ops) {
    if (op.kind == OpKind::kConv) {
      W.conv(op.conv);
    } else if (op.kind == OpKind::kAdd) {
      W.add(op.add);
    } else {
      W.head(op.head);
    }
  }
  QonnxGraph out;
  out.head_scale_dynamic = W.head_scale_dynamic;

  const int classes = m.classes();
  B.graph.bytes(onnx::graph_field::kName, m.model);
  B.graph.bytes(onnx::graph_field::kDocString,
                "nce " + m.model + " " + models::format_widths(m.widths) + " W" +
                    std::to_string(m.weight_bits) + "A" + std::to_string(m.activation_bits) + " " +
                    m.quantizer +
                    "; input 'image': raw pixels 0..255 as float NCHW; output 'logits'");
  B.graph.message(onnx::graph_field::kInput,
                  onnx::float_value_info("image", {-1, in.channels, in.height, in.width}));
  B.graph.message(onnx::graph_field::kOutput, onnx::float_value_info("logits", {-1, classes}));

  Message model;
  model.int64(onnx::model_field::kIrVersion, kQonnxIrVersion)
      .bytes(onnx::model_field::kProducerName, "nce")
      .bytes(onnx::model_field::kProducerVersion, "1")
      .message(onnx::model_field::kOpsetImport, onnx::opset("", kQonnxOnnxOpset))
      .message(onnx::model_field::kOpsetImport, onnx::opset(kQonnxDomain, 1))
      .message(onnx::model_field::kGraph, B.graph);
  out.bytes = model.data();
  out.nodes = B.nodes;
  out.quant_nodes = B.quants;
  return out;
}

QonnxGraph export_qonnx(const nn::Checkpoint& ck, const nn::Normalization& norm,
                        const std::string& source, IntModel* model) {
  IntModel m;
  try {
    m = export_int_model(ck, norm, source);
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    const std::string from = "cannot export as an integer model";
    const auto at = msg.find(from);
    if (at != std::string::npos)
      msg.replace(at, from.size(), "cannot export as QONNX (it follows the integer model's rules)");
    throw std::runtime_error(msg);
  }
  QonnxGraph g = export_qonnx(ck, norm, m, source);
  if (model) *model = std::move(m);
  return g;
}

}  // namespace nce::deploy
