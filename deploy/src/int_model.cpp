#include "nce/deploy/int_model.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <type_traits>

#include "nce/common/byte_io.h"

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

void validate(const IntModel& m, const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(source + ": invalid integer model: " + what);
  };
  if (m.values.empty()) fail("no values");
  if (m.ops.empty() || m.ops.back().kind != OpKind::kHead) fail("the last op is not the head");
  const ValueInfo& in = m.values[0];
  if (in.kind != ValueKind::kCodes || in.max_code != 255 || in.channels < 1 || in.height < 1 ||
      in.width < 1 || in.channels > 64 || in.height > 4096 || in.width > 4096)
    fail("value 0 is not an image of 8-bit pixels");
  for (std::size_t i = 0; i < m.values.size(); ++i) {
    const ValueInfo& v = m.values[i];
    if (v.channels < 1 || v.height < 1 || v.width < 1 || v.channels > 65536 || v.height > 4096 ||
        v.width > 4096)
      fail("value " + std::to_string(i) + " has a bad shape");
    if (v.kind == ValueKind::kCodes && (v.max_code < 1 || v.max_code > 255))
      fail("value " + std::to_string(i) + " has max_code " + std::to_string(v.max_code));
  }
  std::vector<bool> defined(m.values.size(), false);
  defined[0] = true;
  const int nv = static_cast<int>(m.values.size());
  auto check_in = [&](int v, std::size_t i, const char* field) {
    if (v < 0 || v >= nv || !defined[v])
      fail(op_label(m, i) + ": " + field + " " + std::to_string(v) + " is not a computed value");
  };
  auto check_out = [&](int v, std::size_t i) {
    if (v <= 0 || v >= nv || defined[v])
      fail(op_label(m, i) + ": output " + std::to_string(v) + " is not a fresh value");
    defined[v] = true;
  };
  auto check_pool = [&](const PoolSpec& p, std::size_t i) {
    if (p.kind == PoolKind::kNone) return;
    if (p.k < 1 || p.k > 16 || p.stride < 1 || p.stride > 16 || p.pad < 0 || p.pad >= p.k)
      fail(op_label(m, i) + ": bad pool");
  };
  auto pooled = [](int n, const PoolSpec& p) {
    return p.kind == PoolKind::kNone ? n : (n + 2 * p.pad - p.k) / p.stride + 1;
  };
  for (std::size_t i = 0; i < m.ops.size(); ++i) {
    const Op& op = m.ops[i];
    if (op.kind == OpKind::kConv) {
      const ConvOp& c = op.conv;
      check_in(c.input, i, "input");
      const ValueInfo& vi = m.values[c.input];
      if (vi.kind != ValueKind::kCodes) fail(op_label(m, i) + ": input is not codes");
      check_pool(c.in_pool, i);
      check_pool(c.out_pool, i);
      if (c.k < 1 || c.k > 15 || c.stride < 1 || c.stride > 16 || c.pad < 0 || c.pad >= c.k + 1)
        fail(op_label(m, i) + ": bad kernel geometry");
      if (c.c_in != vi.channels || pooled(vi.height, c.in_pool) != c.h_in ||
          pooled(vi.width, c.in_pool) != c.w_in)
        fail(op_label(m, i) + ": input shape does not match value " + std::to_string(c.input));
      if (c.h_out != (c.h_in + 2 * c.pad - c.k) / c.stride + 1 ||
          c.w_out != (c.w_in + 2 * c.pad - c.k) / c.stride + 1 || c.h_out < 1 || c.w_out < 1)
        fail(op_label(m, i) + ": output size does not follow from the geometry");
      if (c.c_out < 1 || c.c_out > 65536) fail(op_label(m, i) + ": bad c_out");
      const std::size_t nw = static_cast<std::size_t>(c.c_out) * c.c_in * c.k * c.k;
      if (c.weights.size() != nw) fail(op_label(m, i) + ": weight count");
      if (c.weight_scale.size() != static_cast<std::size_t>(c.c_out))
        fail(op_label(m, i) + ": weight scale count");
      if (c.rule == WeightRule::kQuantized) {
        if (c.weight_bits < 2 || c.weight_bits > 8) fail(op_label(m, i) + ": weight bits");
        const int lo = -(1 << (c.weight_bits - 1)), hi = (1 << (c.weight_bits - 1)) - 1;
        for (std::int8_t w : c.weights)
          if (w < lo || w > hi) fail(op_label(m, i) + ": weight code out of the b-bit range");
        if (c.alpha < 1 || c.alpha > 2 || c.beta < 0 || c.beta > 1)
          fail(op_label(m, i) + ": alpha/beta");
      } else if (c.rule != WeightRule::kFull8) {
        fail(op_label(m, i) + ": unknown weight rule");
      }
      if (c.input_shift < 0 || c.input_shift > 16) fail(op_label(m, i) + ": input shift");
      if (!c.acc_bias.empty() &&
          c.acc_bias.size() != static_cast<std::size_t>(c.c_out) * c.h_out * c.w_out)
        fail(op_label(m, i) + ": accumulator bias count");
      if (c.bias_frac_bits < 0 || c.bias_frac_bits > 16) fail(op_label(m, i) + ": bias bits");
      const Requant& r = c.requant;
      const auto n = static_cast<std::size_t>(c.c_out);
      if (r.multiplier.size() != n || r.offset.size() != n || r.shift.size() != n)
        fail(op_label(m, i) + ": requantization count");
      for (auto s : r.shift)
        if (s > 62) fail(op_label(m, i) + ": requantization shift");
      if (r.lo > r.hi) fail(op_label(m, i) + ": requantization clamp");
      check_out(c.output, i);
      const ValueInfo& vo = m.values[c.output];
      if (vo.channels != c.c_out || vo.height != pooled(c.h_out, c.out_pool) ||
          vo.width != pooled(c.w_out, c.out_pool))
        fail(op_label(m, i) + ": output shape does not match value " + std::to_string(c.output));
      if (vo.kind == ValueKind::kCodes && (r.lo < 0 || r.hi > vo.max_code))
        fail(op_label(m, i) + ": clamp outside the output codes");
      if (vo.kind == ValueKind::kFixed && (r.lo < INT32_MIN || r.hi > INT32_MAX))
        fail(op_label(m, i) + ": clamp outside int32");
      if (c.out_pool.kind != PoolKind::kNone && c.out_pool.kind != PoolKind::kMax)
        fail(op_label(m, i) + ": only a max pool may follow a conv");
    } else if (op.kind == OpKind::kAdd) {
      const AddOp& a = op.add;
      check_in(a.a, i, "input a");
      check_in(a.b, i, "input b");
      const ValueInfo &va = m.values[a.a], &vb = m.values[a.b];
      if (va.channels != vb.channels || va.height != vb.height || va.width != vb.width)
        fail(op_label(m, i) + ": inputs differ in shape");
      if (a.a_shift < 0 || a.a_shift > 62 || a.b_shift < 0 || a.b_shift > 62 || a.frac_bits < 1 ||
          a.frac_bits > 30)
        fail(op_label(m, i) + ": shifts");
      check_out(a.output, i);
      const ValueInfo& vo = m.values[a.output];
      if (vo.channels != va.channels || vo.height != va.height || vo.width != va.width)
        fail(op_label(m, i) + ": output shape");
      if (a.pact != (vo.kind == ValueKind::kCodes) || (a.pact && a.max_code != vo.max_code))
        fail(op_label(m, i) + ": output kind");
    } else if (op.kind == OpKind::kHead) {
      const HeadOp& h = op.head;
      if (i + 1 != m.ops.size()) fail(op_label(m, i) + ": the head is not the last op");
      check_in(h.input, i, "input");
      if (h.c_in != m.values[h.input].channels || h.classes < 1 || h.classes > 100000)
        fail(op_label(m, i) + ": shape");
      if (h.weights.size() != static_cast<std::size_t>(h.classes) * h.c_in ||
          h.multiplier.size() != static_cast<std::size_t>(h.classes) ||
          h.bias.size() != static_cast<std::size_t>(h.classes))
        fail(op_label(m, i) + ": array sizes");
      if (h.logit_frac_bits < 0 || h.logit_frac_bits > 62) fail(op_label(m, i) + ": bits");
    } else {
      fail(op_label(m, i) + ": unknown op kind");
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
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot write the integer model");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename " + tmp + " to it");
  }
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
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  return parse_int_model(bytes.data(), bytes.size(), path);
}

}  // namespace nce::deploy
