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
class Writer : public common::ByteWriter {
 public:
  template <typename T>
  void array(const std::vector<T>& v) {
    common::ByteWriter::array<std::uint32_t>(v);
  }
  void pool(const PoolSpec& p) {
    pod(static_cast<std::uint8_t>(p.kind));
    pod<std::int32_t>(p.k);
    pod<std::int32_t>(p.stride);
    pod<std::int32_t>(p.pad);
  }
};

class Reader : public common::ByteReader {
 public:
  Reader(const char* data, std::size_t size, const std::string& source)
      : common::ByteReader(data, size, source + ": malformed integer model payload") {}
  template <typename T>
  std::vector<T> array(const char* what) {
    return common::ByteReader::array<std::uint32_t, T>(what, kMaxCount);
  }
  int i32(const char* what) { return pod<std::int32_t>(what); }
  // A u32 record count, at most kMaxCount.
  std::uint32_t count(const char* what) {
    const auto n = pod<std::uint32_t>(what);
    if (n > kMaxCount) malformed(what);
    return n;
  }
  // An enum stored as a u8, at most `last`.
  template <typename Enum>
  Enum code(const char* what, std::uint8_t last) {
    const auto v = pod<std::uint8_t>(what);
    if (v > last) malformed(what);
    return static_cast<Enum>(v);
  }
  PoolSpec pool(const char* what) {
    PoolSpec p;
    p.kind = code<PoolKind>(what, 2);
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

ValueInfo read_value(Reader& r) {
  ValueInfo v;
  v.kind = r.code<ValueKind>("value kind", 1);
  v.channels = r.i32("value");
  v.height = r.i32("value");
  v.width = r.i32("value");
  v.max_code = r.i32("value");
  v.scale = r.pod<double>("value scale");
  return v;
}

ConvOp read_conv(Reader& r) {
  ConvOp c;
  c.name = r.str("conv name");
  for (int* v : {&c.input, &c.output, &c.c_in, &c.c_out, &c.k, &c.stride, &c.pad, &c.h_in, &c.w_in,
                 &c.h_out, &c.w_out})
    *v = r.i32("conv geometry");
  c.in_pool = r.pool("conv in_pool");
  c.out_pool = r.pool("conv out_pool");
  c.rule = r.code<WeightRule>("conv weight rule", 1);
  for (int* v : {&c.weight_bits, &c.alpha, &c.beta, &c.input_shift, &c.bias_frac_bits})
    *v = r.i32("conv weight fields");
  c.weight_scale = r.array<float>("conv weight scale");
  c.weights = r.array<std::int8_t>("conv weights");
  c.acc_bias = r.array<std::int32_t>("conv accumulator bias");
  c.requant = read_requant(r);
  return c;
}

AddOp read_add(Reader& r) {
  AddOp a;
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
  return a;
}

HeadOp read_head(Reader& r) {
  HeadOp h;
  h.name = r.str("head name");
  for (int* v : {&h.input, &h.c_in, &h.classes}) *v = r.i32("head shape");
  h.rule = r.code<WeightRule>("head weight rule", 1);
  h.weights = r.array<std::int8_t>("head weights");
  h.multiplier = r.array<std::int64_t>("head multiplier");
  h.bias = r.array<std::int64_t>("head bias");
  h.logit_frac_bits = r.i32("head bits");
  return h;
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
  common::write_file_atomic(path, bytes.data(), bytes.size());
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
  for (std::uint32_t i = 0, n = r.count("value count"); i < n; ++i)
    m.values.push_back(read_value(r));
  for (std::uint32_t i = 0, n = r.count("op count"); i < n; ++i) {
    Op op;
    op.kind = r.code<OpKind>("op kind", 2);
    if (op.kind == OpKind::kConv) {
      op.conv = read_conv(r);
    } else if (op.kind == OpKind::kAdd) {
      op.add = read_add(r);
    } else {
      op.head = read_head(r);
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
  const std::string bytes = common::read_input_file(path, common::InputKind::kModel, "integer model");
  return parse_int_model(bytes.data(), bytes.size(), path);
}

}  // namespace nce::deploy
