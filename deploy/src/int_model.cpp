#include "nce/deploy/int_model.h"
#include "nce/common/input_file.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "nce/common/byte_io.h"
#include "nce/common/checked.h"
#include "nce/common/output_file.h"

namespace nce::deploy {

namespace {

constexpr char kMagic[8] = {'N', 'C', 'E', 'I', 'M', '\0', '\0', '\0'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 8 + 4;
constexpr std::uint32_t kMaxCount = 1u << 28;  // no array in a sane model is longer

// The model's records on nce/common/byte_io.h: arrays are a u32 count (at most kMaxCount).
class Writer : public ByteWriter {
 public:
  template <typename T>
  void array(const std::vector<T>& v) {
    ByteWriter::array<std::uint32_t>(v);
  }
  void pool(const PoolSpec& p) {
    pod(static_cast<std::uint8_t>(p.kind));
    pod<std::int32_t>(p.k);
    pod<std::int32_t>(p.stride);
    pod<std::int32_t>(p.pad);
  }
};

class Reader : public ByteReader {
 public:
  Reader(const char* data, std::size_t size, const std::string& source)
      : ByteReader(data, size, source + ": malformed integer model payload") {}
  template <typename T>
  std::vector<T> array(const char* what) {
    return ByteReader::array<std::uint32_t, T>(what, kMaxCount);
  }
  int i32(const char* what) { return pod<std::int32_t>(what); }
  PoolSpec pool(const char* what) {
    PoolSpec p;
    const auto kind = pod<std::uint8_t>(what);
    if (kind > 2) malformed(what);
    p.kind = static_cast<PoolKind>(kind);
    p.k = i32(what);
    p.stride = i32(what);
    p.pad = i32(what);
    return p;
  }
};

void write_requant(Writer& w, const Requant& r) {
  w.array(r.multiplier);
  w.array(r.offset);
  w.array(r.shift);
  w.pod(r.lo);
  w.pod(r.hi);
}

Requant read_requant(Reader& r) {
  Requant q;
  q.multiplier = r.array<std::int32_t>("requant multiplier");
  q.offset = r.array<std::int64_t>("requant offset");
  q.shift = r.array<std::uint8_t>("requant shift");
  q.lo = r.pod<std::int64_t>("requant lo");
  q.hi = r.pod<std::int64_t>("requant hi");
  return q;
}

std::vector<char> payload(const IntModel& m) {
  Writer w;
  w.str(m.model);
  w.array(m.widths);
  w.str(m.dataset);
  w.pod<std::int32_t>(m.weight_bits);
  w.pod<std::int32_t>(m.activation_bits);
  w.str(m.quantizer);
  w.array(m.norm_mean);
  w.array(m.norm_stddev);
  w.pod(static_cast<std::uint32_t>(m.values.size()));
  for (const ValueInfo& v : m.values) {
    w.pod(static_cast<std::uint8_t>(v.kind));
    w.pod<std::int32_t>(v.channels);
    w.pod<std::int32_t>(v.height);
    w.pod<std::int32_t>(v.width);
    w.pod<std::int32_t>(v.max_code);
    w.pod(v.scale);
  }
  w.pod(static_cast<std::uint32_t>(m.ops.size()));
  for (const Op& op : m.ops) {
    w.pod(static_cast<std::uint8_t>(op.kind));
    if (op.kind == OpKind::kConv) {
      const ConvOp& c = op.conv;
      w.str(c.name);
      for (int v : {c.input, c.output, c.c_in, c.c_out, c.k, c.stride, c.pad, c.h_in, c.w_in,
                    c.h_out, c.w_out})
        w.pod<std::int32_t>(v);
      w.pool(c.in_pool);
      w.pool(c.out_pool);
      w.pod(static_cast<std::uint8_t>(c.rule));
      for (int v : {c.weight_bits, c.alpha, c.beta, c.input_shift, c.bias_frac_bits})
        w.pod<std::int32_t>(v);
      w.array(c.weight_scale);
      w.array(c.weights);
      w.array(c.acc_bias);
      write_requant(w, c.requant);
    } else if (op.kind == OpKind::kAdd) {
      const AddOp& a = op.add;
      w.str(a.name);
      for (int v : {a.a, a.b, a.output}) w.pod<std::int32_t>(v);
      w.pod(a.a_multiplier);
      w.pod(a.b_multiplier);
      w.pod(a.a_offset);
      w.pod(a.b_offset);
      for (int v : {a.a_shift, a.b_shift, a.pact ? 1 : 0, a.frac_bits, a.max_code})
        w.pod<std::int32_t>(v);
    } else {
      const HeadOp& h = op.head;
      w.str(h.name);
      for (int v : {h.input, h.c_in, h.classes}) w.pod<std::int32_t>(v);
      w.pod(static_cast<std::uint8_t>(h.rule));
      w.array(h.weights);
      w.array(h.multiplier);
      w.array(h.bias);
      w.pod<std::int32_t>(h.logit_frac_bits);
    }
  }
  return w.bytes();
}

std::string op_label(const IntModel& m, std::size_t i) {
  const Op& op = m.ops[i];
  const std::string& name = op.kind == OpKind::kConv  ? op.conv.name
                            : op.kind == OpKind::kAdd ? op.add.name
                                                      : op.head.name;
  return "op " + std::to_string(i) + " ('" + name + "')";
}

}  // namespace

int IntModel::classes() const {
  if (ops.empty() || ops.back().kind != OpKind::kHead) return 0;
  return ops.back().head.classes;
}

int conv_operand_max(const ConvOp& op, int input_max_code) {
  std::int64_t top = input_max_code;
  if (op.in_pool.kind == PoolKind::kSum) top *= std::int64_t{op.in_pool.k} * op.in_pool.k;
  if (op.input_shift > 0 && op.input_shift < 32)
    top = (top + (std::int64_t{1} << (op.input_shift - 1))) >> op.input_shift;
  return static_cast<int>(std::min<std::int64_t>(top, 255));
}

int effective_weight(const ConvOp& op, int code) {
  return op.rule == WeightRule::kQuantized ? op.alpha * code + op.beta : code;
}

std::vector<std::int64_t> conv_accumulator_bounds(const ConvOp& op, int operand_max) {
  const std::size_t per = op.weights.size() / static_cast<std::size_t>(std::max(op.c_out, 1));
  std::vector<std::int64_t> bounds(static_cast<std::size_t>(std::max(op.c_out, 0)), 0);
  for (std::size_t m = 0; m < bounds.size(); ++m) {
    std::int64_t sum = 0;  // at most 2^31 weights of |w| <= 255 (validate bounds the count)
    for (std::size_t j = m * per; j < (m + 1) * per; ++j)
      sum += std::abs(effective_weight(op, op.weights[j]));
    bounds[m] = sum * operand_max;
  }
  return bounds;
}

void validate(const IntModel& m, const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(source + ": invalid integer model: " + what);
  };
  auto range_text = [](std::int64_t lo, std::int64_t hi) {
    return " (want " + std::to_string(lo) + ".." + std::to_string(hi) + ")";
  };
  if (m.values.empty()) fail("no values");
  if (m.ops.empty() || m.ops.back().kind != OpKind::kHead) fail("the last op is not the head");
  const ValueInfo& in = m.values[0];
  if (in.kind != ValueKind::kCodes || in.max_code != 255 || in.channels < 1 || in.height < 1 ||
      in.width < 1 || in.channels > 64 || in.height > 4096 || in.width > 4096)
    fail("value 0 is not an image of 8-bit pixels (kind " +
         std::to_string(static_cast<int>(in.kind)) + ", " + std::to_string(in.channels) + "x" +
         std::to_string(in.height) + "x" + std::to_string(in.width) + ", max_code " +
         std::to_string(in.max_code) + ")");
  for (std::size_t i = 0; i < m.values.size(); ++i) {
    const ValueInfo& v = m.values[i];
    const std::string label = "value " + std::to_string(i);
    if (v.channels < 1 || v.height < 1 || v.width < 1 || v.channels > 65536 || v.height > 4096 ||
        v.width > 4096)
      fail(label + " has a bad shape " + std::to_string(v.channels) + "x" +
           std::to_string(v.height) + "x" + std::to_string(v.width));
    const std::int64_t elements = std::int64_t{v.channels} * v.height * v.width;
    if (elements > kMaxValueElements)
      fail(label + " has " + std::to_string(elements) + " elements (" + std::to_string(v.channels) +
           "x" + std::to_string(v.height) + "x" + std::to_string(v.width) + "; at most " +
           std::to_string(kMaxValueElements) + ")");
    if (v.kind == ValueKind::kCodes && (v.max_code < 1 || v.max_code > 255))
      fail(label + " has max_code " + std::to_string(v.max_code) + range_text(1, 255));
  }
  // What each computed value can hold (inclusive), from the clamps that produce it: the ranges
  // that the overflow proofs below start from.
  struct Range {
    std::int64_t lo = 0, hi = 0;
  };
  std::vector<Range> range(m.values.size());
  range[0] = {0, 255};
  std::vector<bool> defined(m.values.size(), false);
  defined[0] = true;
  const int nv = static_cast<int>(m.values.size());
  for (std::size_t i = 0; i < m.ops.size(); ++i) {
    const Op& op = m.ops[i];
    const std::string label = op_label(m, i) + ": ";
    auto field = [&](const std::string& name, std::int64_t v, std::int64_t lo, std::int64_t hi) {
      if (v < lo || v > hi) fail(label + name + " " + std::to_string(v) + range_text(lo, hi));
    };
    auto overflow = [&](const std::string& what) {
      fail(label + what + " can overflow 64-bit integers");
    };
    auto check_in = [&](int v, const char* name) {
      if (v < 0 || v >= nv || !defined[static_cast<std::size_t>(v)])
        fail(label + name + " " + std::to_string(v) + " is not a computed value");
    };
    auto check_out = [&](int v) {
      if (v <= 0 || v >= nv || defined[static_cast<std::size_t>(v)])
        fail(label + "output " + std::to_string(v) + " is not a fresh value");
      defined[static_cast<std::size_t>(v)] = true;
    };
    auto check_pool = [&](const PoolSpec& p, const std::string& name) {
      if (p.kind == PoolKind::kNone) return;
      field(name + " k", p.k, 1, kMaxPool);
      field(name + " stride", p.stride, 1, kMaxPool);
      field(name + " pad", p.pad, 0, p.k - 1);
    };
    // Output size of a window; 0 when the window does not fit the padded map (a negative
    // numerator would truncate toward zero).
    auto pooled = [](int n, const PoolSpec& p) {
      if (p.kind == PoolKind::kNone) return n;
      return n + 2 * p.pad < p.k ? 0 : (n + 2 * p.pad - p.k) / p.stride + 1;
    };
    if (op.kind == OpKind::kConv) {
      const ConvOp& c = op.conv;
      check_in(c.input, "input");
      const ValueInfo& vi = m.values[static_cast<std::size_t>(c.input)];
      if (vi.kind != ValueKind::kCodes)
        fail(label + "input value " + std::to_string(c.input) + " is not codes");
      check_pool(c.in_pool, "in_pool");
      check_pool(c.out_pool, "out_pool");
      if (c.out_pool.kind != PoolKind::kNone && c.out_pool.kind != PoolKind::kMax)
        fail(label + "only a max pool may follow a conv (out_pool kind " +
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
      const std::size_t nw = static_cast<std::size_t>(c.c_out) * c.c_in * c.k * c.k;
      if (c.weights.size() != nw)
        fail(label + "weight count " + std::to_string(c.weights.size()) + " (want " +
             std::to_string(nw) + " = c_out x c_in x k x k)");
      if (c.weight_scale.size() != static_cast<std::size_t>(c.c_out))
        fail(label + "weight scale count " + std::to_string(c.weight_scale.size()) +
             " (want c_out " + std::to_string(c.c_out) + ")");
      if (c.rule == WeightRule::kQuantized) {
        field("weight_bits", c.weight_bits, 2, 8);
        field("alpha", c.alpha, 1, 2);
        field("beta", c.beta, 0, 1);
        const int lo = -(1 << (c.weight_bits - 1)), hi = (1 << (c.weight_bits - 1)) - 1;
        for (std::size_t j = 0; j < c.weights.size(); ++j) {
          if (c.weights[j] < lo || c.weights[j] > hi)
            field("weight code [" + std::to_string(j) + "]", c.weights[j], lo, hi);
          const int e = effective_weight(c, c.weights[j]);
          if (e < -128 || e > 127)
            fail(label + "effective weight " + std::to_string(c.alpha) + " x " +
                 std::to_string(c.weights[j]) + " + " + std::to_string(c.beta) + " = " +
                 std::to_string(e) +
                 " does not fit a signed byte (8-bit SAWB/DoReFa weights are not supported by the "
                 "integer engine)");
        }
      } else if (c.rule != WeightRule::kFull8) {
        fail(label + "unknown weight rule " + std::to_string(static_cast<int>(c.rule)));
      }
      field("input_shift", c.input_shift, 0, 16);
      field("bias_frac_bits", c.bias_frac_bits, 0, 16);
      const std::size_t plane = static_cast<std::size_t>(c.h_out) * c.w_out;
      if (!c.acc_bias.empty() && c.acc_bias.size() != static_cast<std::size_t>(c.c_out) * plane)
        fail(label + "accumulator bias count " + std::to_string(c.acc_bias.size()) +
             " (want 0 or " + std::to_string(static_cast<std::size_t>(c.c_out) * plane) + ")");
      const Requant& r = c.requant;
      const auto n = static_cast<std::size_t>(c.c_out);
      if (r.multiplier.size() != n || r.offset.size() != n || r.shift.size() != n)
        fail(label + "requantization counts " + std::to_string(r.multiplier.size()) + "/" +
             std::to_string(r.offset.size()) + "/" + std::to_string(r.shift.size()) +
             " (want c_out " + std::to_string(c.c_out) + ")");
      for (std::size_t ch = 0; ch < n; ++ch)
        field("requantization shift [" + std::to_string(ch) + "]", r.shift[ch], 0, 62);
      if (r.lo > r.hi)
        fail(label + "requantization clamp lo " + std::to_string(r.lo) + " > hi " +
             std::to_string(r.hi));
      check_out(c.output);
      const ValueInfo& vo = m.values[static_cast<std::size_t>(c.output)];
      if (vo.channels != c.c_out || vo.height != pooled(c.h_out, c.out_pool) ||
          vo.width != pooled(c.w_out, c.out_pool))
        fail(label + "output shape " + std::to_string(c.c_out) + "x" +
             std::to_string(pooled(c.h_out, c.out_pool)) + "x" +
             std::to_string(pooled(c.w_out, c.out_pool)) + " does not match value " +
             std::to_string(c.output) + " (" + std::to_string(vo.channels) + "x" +
             std::to_string(vo.height) + "x" + std::to_string(vo.width) + ")");
      if (vo.kind == ValueKind::kCodes) {
        field("requantization lo", r.lo, 0, vo.max_code);
        field("requantization hi", r.hi, 0, vo.max_code);
      } else {
        field("requantization lo", r.lo, INT32_MIN, INT32_MAX);
        field("requantization hi", r.hi, INT32_MIN, INT32_MAX);
      }
      // The accumulators: int32, |acc| <= bound[ch] whatever the GEMM's order.
      const int operand_max = conv_operand_max(c, vi.max_code);
      const std::vector<std::int64_t> bound = conv_accumulator_bounds(c, operand_max);
      for (std::size_t ch = 0; ch < n; ++ch) {
        if (bound[ch] > INT32_MAX)
          fail(label + "output channel " + std::to_string(ch) +
               ": the int32 accumulator can reach " + std::to_string(bound[ch]) + " (operand max " +
               std::to_string(operand_max) + " x the sum of |weights|; at most " +
               std::to_string(INT32_MAX) + ")");
        // t = acc (or acc * 2^bias_frac_bits + acc_bias); t * multiplier + offset in int64.
        std::optional<std::int64_t> t = bound[ch];
        if (!c.acc_bias.empty()) {
          std::int64_t b = 0;
          for (std::size_t q = 0; q < plane; ++q)
            b = std::max<std::int64_t>(b, std::abs(std::int64_t{c.acc_bias[ch * plane + q]}));
          t = checked_mul<std::int64_t>(*t, std::int64_t{1} << c.bias_frac_bits);
          if (t) t = checked_add<std::int64_t>(*t, b);
        }
        std::optional<std::int64_t> v;
        if (t) v = checked_mul<std::int64_t>(*t, std::abs(std::int64_t{r.multiplier[ch]}));
        const std::optional<std::int64_t> off = checked_abs(r.offset[ch]);
        if (v && off) v = checked_add(*v, *off);
        if (!v || !off)
          overflow("output channel " + std::to_string(ch) + ": the requantization (multiplier " +
                   std::to_string(r.multiplier[ch]) + ", offset " + std::to_string(r.offset[ch]) +
                   ", accumulator bound " + std::to_string(bound[ch]) + ")");
      }
      range[static_cast<std::size_t>(c.output)] = {r.lo, r.hi};
    } else if (op.kind == OpKind::kAdd) {
      const AddOp& a = op.add;
      check_in(a.a, "input a");
      check_in(a.b, "input b");
      const ValueInfo &va = m.values[static_cast<std::size_t>(a.a)],
                      &vb = m.values[static_cast<std::size_t>(a.b)];
      if (va.channels != vb.channels || va.height != vb.height || va.width != vb.width)
        fail(label + "inputs differ in shape (" + std::to_string(va.channels) + "x" +
             std::to_string(va.height) + "x" + std::to_string(va.width) + " and " +
             std::to_string(vb.channels) + "x" + std::to_string(vb.height) + "x" +
             std::to_string(vb.width) + ")");
      field("a_shift", a.a_shift, 0, 62);
      field("b_shift", a.b_shift, 0, 62);
      field("frac_bits", a.frac_bits, 1, 30);
      check_out(a.output);
      const ValueInfo& vo = m.values[static_cast<std::size_t>(a.output)];
      if (vo.channels != va.channels || vo.height != va.height || vo.width != va.width)
        fail(label + "output value " + std::to_string(a.output) +
             " differs in shape from the inputs");
      if (a.pact != (vo.kind == ValueKind::kCodes))
        fail(label + "output kind " + std::to_string(static_cast<int>(vo.kind)) + " with pact " +
             std::to_string(a.pact ? 1 : 0));
      if (a.pact) field("max_code", a.max_code, vo.max_code, vo.max_code);
      // (x * multiplier + offset) >> shift for x in the input's range, the sum, the rounding half.
      auto mapped = [&](const Range& x, std::int64_t mult, std::int64_t off, int sh,
                        const char* name) {
        std::optional<std::int64_t> p = checked_mul(x.lo, mult), q = checked_mul(x.hi, mult);
        if (p && q) {
          const std::int64_t lo = std::min(*p, *q), hi = std::max(*p, *q);
          p = checked_add(lo, off);
          q = checked_add(hi, off);
        }
        if (!p || !q)
          overflow(std::string("input ") + name + " (multiplier " + std::to_string(mult) +
                   ", offset " + std::to_string(off) + ", input range " + std::to_string(x.lo) +
                   ".." + std::to_string(x.hi) + ")");
        return Range{*p >> sh, *q >> sh};
      };
      const Range ra =
          mapped(range[static_cast<std::size_t>(a.a)], a.a_multiplier, a.a_offset, a.a_shift, "a");
      const Range rb =
          mapped(range[static_cast<std::size_t>(a.b)], a.b_multiplier, a.b_offset, a.b_shift, "b");
      const std::int64_t half = std::int64_t{1} << (a.frac_bits - 1);
      std::optional<std::int64_t> lo = checked_add(ra.lo, rb.lo), hi = checked_add(ra.hi, rb.hi);
      if (hi) hi = checked_add(*hi, half);
      if (!lo || !hi) overflow("the sum");
      range[static_cast<std::size_t>(a.output)] =
          a.pact ? Range{0, a.max_code} : Range{0, INT32_MAX};
    } else if (op.kind == OpKind::kHead) {
      const HeadOp& h = op.head;
      if (i + 1 != m.ops.size()) fail(label + "the head is not the last op");
      check_in(h.input, "input");
      const ValueInfo& vi = m.values[static_cast<std::size_t>(h.input)];
      field("c_in", h.c_in, vi.channels, vi.channels);
      field("classes", h.classes, 1, kMaxClasses);
      if (h.weights.size() != static_cast<std::size_t>(h.classes) * h.c_in ||
          h.multiplier.size() != static_cast<std::size_t>(h.classes) ||
          h.bias.size() != static_cast<std::size_t>(h.classes))
        fail(label + "array sizes " + std::to_string(h.weights.size()) + "/" +
             std::to_string(h.multiplier.size()) + "/" + std::to_string(h.bias.size()) +
             " (want classes x c_in " +
             std::to_string(static_cast<std::size_t>(h.classes) * h.c_in) + ", classes " +
             std::to_string(h.classes) + ", classes)");
      field("logit_frac_bits", h.logit_frac_bits, 0, 62);
      // The pooled features (non-negative) and the largest per-image shift e they can need.
      const Range& x = range[static_cast<std::size_t>(h.input)];
      const std::int64_t top =
          std::max<std::int64_t>(x.hi, 0) * (std::int64_t{vi.height} * vi.width);  // < 2^57
      int e_max = 0;
      while (e_max < 62 &&
             (e_max == 0 ? top : (top + (std::int64_t{1} << (e_max - 1))) >> e_max) > 127)
        ++e_max;
      for (std::size_t j = 0; j < static_cast<std::size_t>(h.classes); ++j) {
        std::int64_t wsum = 0;
        for (int c = 0; c < h.c_in; ++c)
          wsum += std::abs(static_cast<int>(h.weights[j * static_cast<std::size_t>(h.c_in) + c]));
        // |logit| <= 127 * sum |w| * |multiplier| + |bias| + 2^(e-1) (the bias's rounding).
        std::optional<std::int64_t> v = checked_abs(h.multiplier[j]);
        if (v) v = checked_mul<std::int64_t>(*v, 127 * wsum);
        const std::optional<std::int64_t> b = checked_abs(h.bias[j]);
        if (v && b) v = checked_add(*v, *b);
        if (v && e_max > 0) v = checked_add(*v, std::int64_t{1} << (e_max - 1));
        if (!v || !b)
          overflow("class " + std::to_string(j) + ": the logit (multiplier " +
                   std::to_string(h.multiplier[j]) + ", bias " + std::to_string(h.bias[j]) + ")");
      }
    } else {
      fail(label + "unknown op kind " + std::to_string(static_cast<int>(op.kind)));
    }
  }
}

std::vector<char> serialize(const IntModel& m) {
  const std::vector<char> body = payload(m);
  Writer w;
  w.raw(kMagic, 8);
  w.pod(kIntModelVersion);
  w.pod(static_cast<std::uint64_t>(body.size()));
  w.pod(static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  w.raw(body.data(), body.size());
  return w.bytes();
}

void write_int_model(const std::string& path, const IntModel& model) {
  validate(model, path);
  const std::vector<char> bytes = serialize(model);
  write_file_atomic(path, bytes.data(), bytes.size());
}

IntModel parse_int_model(const char* data, std::size_t size, const std::string& source) {
  if (size < 8 || std::memcmp(data, kMagic, 8) != 0)
    throw std::runtime_error(source + ": not an nce integer model (bad magic; want \"NCEIM\")");
  if (size < kHeaderBytes) throw std::runtime_error(source + ": truncated integer model (header)");
  std::uint32_t version, crc;
  std::uint64_t length;
  std::memcpy(&version, data + 8, 4);
  std::memcpy(&length, data + 12, 8);
  std::memcpy(&crc, data + 20, 4);
  if (version != kIntModelVersion)
    throw std::runtime_error(source + ": integer model format version " + std::to_string(version) +
                             " is not supported (this nce reads version " +
                             std::to_string(kIntModelVersion) + ")");
  if (length != size - kHeaderBytes)
    throw std::runtime_error(source + ": truncated integer model (payload of " +
                             std::to_string(size - kHeaderBytes) + " bytes, header says " +
                             std::to_string(length) + ")");
  const char* body = data + kHeaderBytes;
  const auto actual = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body), static_cast<uInt>(length)));
  if (actual != crc) throw std::runtime_error(source + ": integer model checksum mismatch");
  Reader r(body, length, source);
  IntModel m;
  m.model = r.str("model");
  m.widths = r.array<int>("widths");
  m.dataset = r.str("dataset");
  m.weight_bits = r.i32("weight_bits");
  m.activation_bits = r.i32("activation_bits");
  m.quantizer = r.str("quantizer");
  m.norm_mean = r.array<float>("norm_mean");
  m.norm_stddev = r.array<float>("norm_stddev");
  const auto nv = r.pod<std::uint32_t>("value count");
  if (nv > kMaxCount) r.malformed("value count");
  for (std::uint32_t i = 0; i < nv; ++i) {
    ValueInfo v;
    const auto kind = r.pod<std::uint8_t>("value kind");
    if (kind > 1) r.malformed("value kind");
    v.kind = static_cast<ValueKind>(kind);
    v.channels = r.i32("value");
    v.height = r.i32("value");
    v.width = r.i32("value");
    v.max_code = r.i32("value");
    v.scale = r.pod<double>("value scale");
    m.values.push_back(v);
  }
  const auto nops = r.pod<std::uint32_t>("op count");
  if (nops > kMaxCount) r.malformed("op count");
  for (std::uint32_t i = 0; i < nops; ++i) {
    Op op;
    const auto kind = r.pod<std::uint8_t>("op kind");
    if (kind > 2) r.malformed("op kind");
    op.kind = static_cast<OpKind>(kind);
    if (op.kind == OpKind::kConv) {
      ConvOp& c = op.conv;
      c.name = r.str("conv name");
      for (int* v : {&c.input, &c.output, &c.c_in, &c.c_out, &c.k, &c.stride, &c.pad, &c.h_in,
                     &c.w_in, &c.h_out, &c.w_out})
        *v = r.i32("conv geometry");
      c.in_pool = r.pool("conv in_pool");
      c.out_pool = r.pool("conv out_pool");
      const auto rule = r.pod<std::uint8_t>("conv weight rule");
      if (rule > 1) r.malformed("conv weight rule");
      c.rule = static_cast<WeightRule>(rule);
      for (int* v : {&c.weight_bits, &c.alpha, &c.beta, &c.input_shift, &c.bias_frac_bits})
        *v = r.i32("conv weight fields");
      c.weight_scale = r.array<float>("conv weight scale");
      c.weights = r.array<std::int8_t>("conv weights");
      c.acc_bias = r.array<std::int32_t>("conv accumulator bias");
      c.requant = read_requant(r);
    } else if (op.kind == OpKind::kAdd) {
      AddOp& a = op.add;
      a.name = r.str("add name");
      for (int* v : {&a.a, &a.b, &a.output}) *v = r.i32("add inputs");
      a.a_multiplier = r.pod<std::int32_t>("add multiplier");
      a.b_multiplier = r.pod<std::int32_t>("add multiplier");
      a.a_offset = r.pod<std::int64_t>("add offset");
      a.b_offset = r.pod<std::int64_t>("add offset");
      int pact = 0;
      for (int* v : {&a.a_shift, &a.b_shift, &pact, &a.frac_bits, &a.max_code})
        *v = r.i32("add fields");
      a.pact = pact != 0;
    } else {
      HeadOp& h = op.head;
      h.name = r.str("head name");
      for (int* v : {&h.input, &h.c_in, &h.classes}) *v = r.i32("head shape");
      const auto rule = r.pod<std::uint8_t>("head weight rule");
      if (rule > 1) r.malformed("head weight rule");
      h.rule = static_cast<WeightRule>(rule);
      h.weights = r.array<std::int8_t>("head weights");
      h.multiplier = r.array<std::int64_t>("head multiplier");
      h.bias = r.array<std::int64_t>("head bias");
      h.logit_frac_bits = r.i32("head bits");
    }
    m.ops.push_back(std::move(op));
  }
  if (!r.at_end()) r.malformed("trailing bytes");
  validate(m, source);
  return m;
}

IntModel read_int_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the integer model (missing?)");
  const std::string bytes = read_input_file(path, InputKind::kModel, "integer model");
  return parse_int_model(bytes.data(), bytes.size(), path);
}

}  // namespace nce::deploy
