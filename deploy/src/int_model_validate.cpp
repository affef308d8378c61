// validate() (int_model.h): the integer model's structure, its fields' ranges and the overflow
// proofs of its integer arithmetic, one check per op kind.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nce/common/checked.h"
#include "nce/deploy/int_model.h"

namespace nce::deploy {
namespace {

std::string op_label(const IntModel& m, std::size_t i) {
  const Op& op = m.ops[i];
  const std::string& name = op.kind == OpKind::kConv  ? op.conv.name
                            : op.kind == OpKind::kAdd ? op.add.name
                                                      : op.head.name;
  return "op " + std::to_string(i) + " ('" + name + "')";
}

std::string range_text(std::int64_t lo, std::int64_t hi) {
  return " (want " + std::to_string(lo) + ".." + std::to_string(hi) + ")";
}

std::string shape_text(int channels, int height, int width) {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

// Output size of a window; 0 when the window does not fit the padded map (a negative numerator
// would truncate toward zero).
int pooled(int n, const PoolSpec& p) {
  if (p.kind == PoolKind::kNone) return n;
  return n + 2 * p.pad < p.k ? 0 : (n + 2 * p.pad - p.k) / p.stride + 1;
}

// What a computed value can hold (inclusive), from the clamps that produce it: the ranges that
// the overflow proofs start from.
struct Range {
  std::int64_t lo = 0, hi = 0;
};

class Validator {
 public:
  Validator(const IntModel& m, const std::string& source)
      : m_(m),
        source_(source),
        range_(m.values.size()),
        defined_(m.values.size(), false),
        nv_(static_cast<int>(m.values.size())) {}

  void run() {
    check_values();
    range_[0] = {0, 255};
    defined_[0] = true;
    for (std::size_t i = 0; i < m_.ops.size(); ++i) {
      const Op& op = m_.ops[i];
      label_ = op_label(m_, i) + ": ";
      if (op.kind == OpKind::kConv) {
        check_conv(op.conv);
      } else if (op.kind == OpKind::kAdd) {
        check_add(op.add);
      } else if (op.kind == OpKind::kHead) {
        if (i + 1 != m_.ops.size()) fail(label_ + "the head is not the last op");
        check_head(op.head);
      } else {
        fail(label_ + "unknown op kind " + std::to_string(static_cast<int>(op.kind)));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(source_ + ": invalid integer model: " + what);
  }
  // The current op's field `name` = v within lo..hi.
  void field(const std::string& name, std::int64_t v, std::int64_t lo, std::int64_t hi) const {
    if (v < lo || v > hi) fail(label_ + name + " " + std::to_string(v) + range_text(lo, hi));
  }
  [[noreturn]] void overflow(const std::string& what) const {
    fail(label_ + what + " can overflow 64-bit integers");
  }
  void check_in(int v, const char* name) const {
    if (v < 0 || v >= nv_ || !defined_[static_cast<std::size_t>(v)])
      fail(label_ + name + " " + std::to_string(v) + " is not a computed value");
  }
  void check_out(int v) {
    if (v <= 0 || v >= nv_ || defined_[static_cast<std::size_t>(v)])
      fail(label_ + "output " + std::to_string(v) + " is not a fresh value");
    defined_[static_cast<std::size_t>(v)] = true;
  }
  void check_pool(const PoolSpec& p, const std::string& name) const {
    if (p.kind == PoolKind::kNone) return;
    field(name + " k", p.k, 1, kMaxPool);
    field(name + " stride", p.stride, 1, kMaxPool);
    field(name + " pad", p.pad, 0, p.k - 1);
  }

  void check_values() const;
  void check_conv(const ConvOp& c);
  void check_conv_geometry(const ConvOp& c, const ValueInfo& vi) const;
  void check_conv_weights(const ConvOp& c) const;
  void check_conv_requant(const ConvOp& c) const;
  void check_conv_overflow(const ConvOp& c, int input_max_code) const;
  void check_add(const AddOp& a);
  Range mapped(const Range& x, std::int64_t mult, std::int64_t off, int sh, const char* name) const;
  void check_head(const HeadOp& h) const;

  const IntModel& m_;
  const std::string& source_;
  std::vector<Range> range_;
  std::vector<bool> defined_;
  const int nv_;
  std::string label_;  // "op i ('name'): " of the op being checked
};

void Validator::check_values() const {
  if (m_.values.empty()) fail("no values");
  if (m_.ops.empty() || m_.ops.back().kind != OpKind::kHead) fail("the last op is not the head");
  const ValueInfo& in = m_.values[0];
  if (in.kind != ValueKind::kCodes || in.max_code != 255 || in.channels < 1 || in.height < 1 ||
      in.width < 1 || in.channels > 64 || in.height > 4096 || in.width > 4096)
    fail("value 0 is not an image of 8-bit pixels (kind " +
         std::to_string(static_cast<int>(in.kind)) + ", " +
         shape_text(in.channels, in.height, in.width) + ", max_code " +
         std::to_string(in.max_code) + ")");
  for (std::size_t i = 0; i < m_.values.size(); ++i) {
    const ValueInfo& v = m_.values[i];
    const std::string label = "value " + std::to_string(i);
    if (v.channels < 1 || v.height < 1 || v.width < 1 || v.channels > 65536 || v.height > 4096 ||
        v.width > 4096)
      fail(label + " has a bad shape " + shape_text(v.channels, v.height, v.width));
    const std::int64_t elements = std::int64_t{v.channels} * v.height * v.width;
    if (elements > kMaxValueElements)
      fail(label + " has " + std::to_string(elements) + " elements (" +
           shape_text(v.channels, v.height, v.width) + "; at most " +
           std::to_string(kMaxValueElements) + ")");
    if (v.kind == ValueKind::kCodes && (v.max_code < 1 || v.max_code > 255))
      fail(label + " has max_code " + std::to_string(v.max_code) + range_text(1, 255));
  }
}

void Validator::check_conv(const ConvOp& c) {
  check_in(c.input, "input");
  const ValueInfo& vi = m_.values[static_cast<std::size_t>(c.input)];
  if (vi.kind != ValueKind::kCodes)
    fail(label_ + "input value " + std::to_string(c.input) + " is not codes");
  check_conv_geometry(c, vi);
  check_conv_weights(c);
  field("input_shift", c.input_shift, 0, 16);
  field("bias_frac_bits", c.bias_frac_bits, 0, 16);
  check_conv_requant(c);
  check_out(c.output);
  const ValueInfo& vo = m_.values[static_cast<std::size_t>(c.output)];
  if (vo.channels != c.c_out || vo.height != pooled(c.h_out, c.out_pool) ||
      vo.width != pooled(c.w_out, c.out_pool))
    fail(label_ + "output shape " +
         shape_text(c.c_out, pooled(c.h_out, c.out_pool), pooled(c.w_out, c.out_pool)) +
         " does not match value " + std::to_string(c.output) + " (" +
         shape_text(vo.channels, vo.height, vo.width) + ")");
  const Requant& r = c.requant;
  if (vo.kind == ValueKind::kCodes) {
    field("requantization lo", r.lo, 0, vo.max_code);
    field("requantization hi", r.hi, 0, vo.max_code);
  } else {
    field("requantization lo", r.lo, INT32_MIN, INT32_MAX);
    field("requantization hi", r.hi, INT32_MIN, INT32_MAX);
  }
  check_conv_overflow(c, vi.max_code);
  range_[static_cast<std::size_t>(c.output)] = {r.lo, r.hi};
}

void Validator::check_conv_geometry(const ConvOp& c, const ValueInfo& vi) const {
  check_pool(c.in_pool, "in_pool");
  check_pool(c.out_pool, "out_pool");
  if (c.out_pool.kind != PoolKind::kNone && c.out_pool.kind != PoolKind::kMax)
    fail(label_ + "only a max pool may follow a conv (out_pool kind " +
         std::to_string(static_cast<int>(c.out_pool.kind)) + ")");
  field("k", c.k, 1, kMaxKernel);
  field("stride", c.stride, 1, 16);
  field("pad", c.pad, 0, c.k);
  field("c_in", c.c_in, vi.channels, vi.channels);
  field("h_in", c.h_in, pooled(vi.height, c.in_pool), pooled(vi.height, c.in_pool));
  field("w_in", c.w_in, pooled(vi.width, c.in_pool), pooled(vi.width, c.in_pool));
  field("h_in", c.h_in, 1, 4096);
  field("w_in", c.w_in, 1, 4096);
  const int h_out = c.h_in + 2 * c.pad < c.k ? 0 : (c.h_in + 2 * c.pad - c.k) / c.stride + 1;
  const int w_out = c.w_in + 2 * c.pad < c.k ? 0 : (c.w_in + 2 * c.pad - c.k) / c.stride + 1;
  field("h_out", c.h_out, h_out, h_out);
  field("w_out", c.w_out, w_out, w_out);
  field("h_out", c.h_out, 1, 4096);
  field("w_out", c.w_out, 1, 4096);
  field("c_out", c.c_out, 1, 65536);
}

void Validator::check_conv_weights(const ConvOp& c) const {
  const std::size_t nw = static_cast<std::size_t>(c.c_out) * c.c_in * c.k * c.k;
  if (c.weights.size() != nw)
    fail(label_ + "weight count " + std::to_string(c.weights.size()) + " (want " +
         std::to_string(nw) + " = c_out x c_in x k x k)");
  if (c.weight_scale.size() != static_cast<std::size_t>(c.c_out))
    fail(label_ + "weight scale count " + std::to_string(c.weight_scale.size()) + " (want c_out " +
         std::to_string(c.c_out) + ")");
  if (c.rule == WeightRule::kFull8) return;
  if (c.rule != WeightRule::kQuantized)
    fail(label_ + "unknown weight rule " + std::to_string(static_cast<int>(c.rule)));
  field("weight_bits", c.weight_bits, 2, 8);
  field("alpha", c.alpha, 1, 2);
  field("beta", c.beta, 0, 1);
  const int lo = -(1 << (c.weight_bits - 1)), hi = (1 << (c.weight_bits - 1)) - 1;
  for (std::size_t j = 0; j < c.weights.size(); ++j) {
    if (c.weights[j] < lo || c.weights[j] > hi)
      field("weight code [" + std::to_string(j) + "]", c.weights[j], lo, hi);
    const int e = effective_weight(c, c.weights[j]);
    if (e < -128 || e > 127)
      fail(label_ + "effective weight " + std::to_string(c.alpha) + " x " +
           std::to_string(c.weights[j]) + " + " + std::to_string(c.beta) + " = " +
           std::to_string(e) +
           " does not fit a signed byte (8-bit SAWB/DoReFa weights are not supported by the "
           "integer engine)");
  }
}

void Validator::check_conv_requant(const ConvOp& c) const {
  const std::size_t plane = static_cast<std::size_t>(c.h_out) * c.w_out;
  if (!c.acc_bias.empty() && c.acc_bias.size() != static_cast<std::size_t>(c.c_out) * plane)
    fail(label_ + "accumulator bias count " + std::to_string(c.acc_bias.size()) + " (want 0 or " +
         std::to_string(static_cast<std::size_t>(c.c_out) * plane) + ")");
  const Requant& r = c.requant;
  const auto n = static_cast<std::size_t>(c.c_out);
  if (r.multiplier.size() != n || r.offset.size() != n || r.shift.size() != n)
    fail(label_ + "requantization counts " + std::to_string(r.multiplier.size()) + "/" +
         std::to_string(r.offset.size()) + "/" + std::to_string(r.shift.size()) + " (want c_out " +
         std::to_string(c.c_out) + ")");
  for (std::size_t ch = 0; ch < n; ++ch)
    field("requantization shift [" + std::to_string(ch) + "]", r.shift[ch], 0, 62);
  if (r.lo > r.hi)
    fail(label_ + "requantization clamp lo " + std::to_string(r.lo) + " > hi " +
         std::to_string(r.hi));
}

// The accumulators: int32, |acc| <= bound[ch] whatever the GEMM's order; then the int64
// requantization t * multiplier + offset.
void Validator::check_conv_overflow(const ConvOp& c, int input_max_code) const {
  const Requant& r = c.requant;
  const std::size_t plane = static_cast<std::size_t>(c.h_out) * c.w_out;
  const int operand_max = conv_operand_max(c, input_max_code);
  const std::vector<std::int64_t> bound = conv_accumulator_bounds(c, operand_max);
  for (std::size_t ch = 0; ch < static_cast<std::size_t>(c.c_out); ++ch) {
    if (bound[ch] > INT32_MAX)
      fail(label_ + "output channel " + std::to_string(ch) + ": the int32 accumulator can reach " +
           std::to_string(bound[ch]) + " (operand max " + std::to_string(operand_max) +
           " x the sum of |weights|; at most " + std::to_string(INT32_MAX) + ")");
    // t = acc (or acc * 2^bias_frac_bits + acc_bias); t * multiplier + offset in int64.
    std::optional<std::int64_t> t = bound[ch];
    if (!c.acc_bias.empty()) {
      std::int64_t b = 0;
      for (std::size_t q = 0; q < plane; ++q)
        b = std::max<std::int64_t>(b, std::abs(std::int64_t{c.acc_bias[ch * plane + q]}));
      t = common::checked_mul<std::int64_t>(*t, std::int64_t{1} << c.bias_frac_bits);
      if (t) t = common::checked_add<std::int64_t>(*t, b);
    }
    std::optional<std::int64_t> v;
    if (t) v = common::checked_mul<std::int64_t>(*t, std::abs(std::int64_t{r.multiplier[ch]}));
    const std::optional<std::int64_t> off = common::checked_abs(r.offset[ch]);
    if (v && off) v = common::checked_add(*v, *off);
    if (!v || !off)
      overflow("output channel " + std::to_string(ch) + ": the requantization (multiplier " +
               std::to_string(r.multiplier[ch]) + ", offset " + std::to_string(r.offset[ch]) +
               ", accumulator bound " + std::to_string(bound[ch]) + ")");
  }
}

void Validator::check_add(const AddOp& a) {
  check_in(a.a, "input a");
  check_in(a.b, "input b");
  const ValueInfo &va = m_.values[static_cast<std::size_t>(a.a)],
                  &vb = m_.values[static_cast<std::size_t>(a.b)];
  if (va.channels != vb.channels || va.height != vb.height || va.width != vb.width)
    fail(label_ + "inputs differ in shape (" + shape_text(va.channels, va.height, va.width) +
         " and " + shape_text(vb.channels, vb.height, vb.width) + ")");
  field("a_shift", a.a_shift, 0, 62);
  field("b_shift", a.b_shift, 0, 62);
  field("frac_bits", a.frac_bits, 1, 30);
  check_out(a.output);
  const ValueInfo& vo = m_.values[static_cast<std::size_t>(a.output)];
  if (vo.channels != va.channels || vo.height != va.height || vo.width != va.width)
    fail(label_ + "output value " + std::to_string(a.output) + " differs in shape from the inputs");
  if (a.pact != (vo.kind == ValueKind::kCodes))
    fail(label_ + "output kind " + std::to_string(static_cast<int>(vo.kind)) + " with pact " +
         std::to_string(a.pact ? 1 : 0));
  if (a.pact) field("max_code", a.max_code, vo.max_code, vo.max_code);
  const Range ra =
      mapped(range_[static_cast<std::size_t>(a.a)], a.a_multiplier, a.a_offset, a.a_shift, "a");
  const Range rb =
      mapped(range_[static_cast<std::size_t>(a.b)], a.b_multiplier, a.b_offset, a.b_shift, "b");
  const std::int64_t half = std::int64_t{1} << (a.frac_bits - 1);
  std::optional<std::int64_t> lo = common::checked_add(ra.lo, rb.lo), hi = common::checked_add(ra.hi, rb.hi);
  if (hi) hi = common::checked_add(*hi, half);
  if (!lo || !hi) overflow("the sum");
  range_[static_cast<std::size_t>(a.output)] = a.pact ? Range{0, a.max_code} : Range{0, INT32_MAX};
}

// (x * multiplier + offset) >> shift for x in an add's input range (the sum and the rounding
// half are check_add's).
Range Validator::mapped(const Range& x, std::int64_t mult, std::int64_t off, int sh,
                        const char* name) const {
  std::optional<std::int64_t> p = common::checked_mul(x.lo, mult), q = common::checked_mul(x.hi, mult);
  if (p && q) {
    const std::int64_t lo = std::min(*p, *q), hi = std::max(*p, *q);
    p = common::checked_add(lo, off);
    q = common::checked_add(hi, off);
  }
  if (!p || !q)
    overflow(std::string("input ") + name + " (multiplier " + std::to_string(mult) + ", offset " +
             std::to_string(off) + ", input range " + std::to_string(x.lo) + ".." +
             std::to_string(x.hi) + ")");
  return Range{*p >> sh, *q >> sh};
}

void Validator::check_head(const HeadOp& h) const {
  check_in(h.input, "input");
  const ValueInfo& vi = m_.values[static_cast<std::size_t>(h.input)];
  field("c_in", h.c_in, vi.channels, vi.channels);
  field("classes", h.classes, 1, kMaxClasses);
  if (h.weights.size() != static_cast<std::size_t>(h.classes) * h.c_in ||
      h.multiplier.size() != static_cast<std::size_t>(h.classes) ||
      h.bias.size() != static_cast<std::size_t>(h.classes))
    fail(label_ + "array sizes " + std::to_string(h.weights.size()) + "/" +
         std::to_string(h.multiplier.size()) + "/" + std::to_string(h.bias.size()) +
         " (want classes x c_in " + std::to_string(static_cast<std::size_t>(h.classes) * h.c_in) +
         ", classes " + std::to_string(h.classes) + ", classes)");
  field("logit_frac_bits", h.logit_frac_bits, 0, 62);
  // The pooled features (non-negative) and the largest per-image shift e they can need.
  const Range& x = range_[static_cast<std::size_t>(h.input)];
  const std::int64_t top =
      std::max<std::int64_t>(x.hi, 0) * (std::int64_t{vi.height} * vi.width);  // < 2^57
  int e_max = 0;
  while (e_max < 62 && (e_max == 0 ? top : (top + (std::int64_t{1} << (e_max - 1))) >> e_max) > 127)
    ++e_max;
  for (std::size_t j = 0; j < static_cast<std::size_t>(h.classes); ++j) {
    std::int64_t wsum = 0;
    for (int c = 0; c < h.c_in; ++c)
      wsum += std::abs(static_cast<int>(h.weights[j * static_cast<std::size_t>(h.c_in) + c]));
    // |logit| <= 127 * sum |w| * |multiplier| + |bias| + 2^(e-1) (the bias's rounding).
    std::optional<std::int64_t> v = common::checked_abs(h.multiplier[j]);
    if (v) v = common::checked_mul<std::int64_t>(*v, 127 * wsum);
    const std::optional<std::int64_t> b = common::checked_abs(h.bias[j]);
    if (v && b) v = common::checked_add(*v, *b);
    if (v && e_max > 0) v = common::checked_add(*v, std::int64_t{1} << (e_max - 1));
    if (!v || !b)
      overflow("class " + std::to_string(j) + ": the logit (multiplier " +
               std::to_string(h.multiplier[j]) + ", bias " + std::to_string(h.bias[j]) + ")");
  }
}

}  // namespace

void validate(const IntModel& m, const std::string& source) {
  Validator(m, source).run();
}

}  // namespace nce::deploy
