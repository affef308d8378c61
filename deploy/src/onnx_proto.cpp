#include "nce/deploy/onnx_proto.h"

#include <cstring>

namespace nce::deploy::onnx {

namespace {
// onnx.proto field numbers.
namespace tensor_field {
constexpr int kDims = 1, kDataType = 2, kName = 8, kRawData = 9;
}
namespace attr_field {
constexpr int kName = 1, kF = 2, kI = 3, kS = 4, kInts = 8, kType = 20;
}
namespace attr_type {
constexpr int kFloat = 1, kInt = 2, kString = 3, kInts = 7;
}
namespace node_field {
constexpr int kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7;
}
}  // namespace

void Message::raw_varint(std::uint64_t v) {
  while (v >= 0x80) {
    data_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  data_.push_back(static_cast<char>(v));
}

void Message::tag(int field, int wire_type) {
  raw_varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
}

Message& Message::varint(int field, std::uint64_t v) {
  tag(field, 0);
  raw_varint(v);
  return *this;
}

Message& Message::float32(int field, float v) {
  tag(field, 5);
  std::uint32_t u = 0;
  std::memcpy(&u, &v, sizeof u);
  for (int i = 0; i < 4; ++i) data_.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  return *this;
}

Message& Message::bytes(int field, const std::string& s) {
  tag(field, 2);
  raw_varint(s.size());
  data_ += s;
  return *this;
}

Message& Message::packed_int64(int field, const std::vector<std::int64_t>& v) {
  Message inner;
  for (std::int64_t x : v) inner.raw_varint(static_cast<std::uint64_t>(x));
  return bytes(field, inner.data_);
}

Message float_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<float>& values) {
  Message t;
  for (std::int64_t d : dims) t.int64(tensor_field::kDims, d);  // repeated, unpacked is valid
  t.int64(tensor_field::kDataType, kFloat);
  t.bytes(tensor_field::kName, name);
  std::string raw(values.size() * 4, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t u = 0;
    std::memcpy(&u, &values[i], sizeof u);
    for (int b = 0; b < 4; ++b) raw[4 * i + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
  t.bytes(tensor_field::kRawData, raw);
  return t;
}

Message int64_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<std::int64_t>& values) {
  Message t;
  for (std::int64_t d : dims) t.int64(tensor_field::kDims, d);
  t.int64(tensor_field::kDataType, kInt64);
  t.bytes(tensor_field::kName, name);
  std::string raw(values.size() * 8, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto u = static_cast<std::uint64_t>(values[i]);
    for (int b = 0; b < 8; ++b) raw[8 * i + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
  t.bytes(tensor_field::kRawData, raw);
  return t;
}

Message attr_int(const std::string& name, std::int64_t v) {
  Message a;
  a.bytes(attr_field::kName, name)
      .int64(attr_field::kI, v)
      .int64(attr_field::kType, attr_type::kInt);
  return a;
}

Message attr_float(const std::string& name, float v) {
  Message a;
  a.bytes(attr_field::kName, name)
      .float32(attr_field::kF, v)
      .int64(attr_field::kType, attr_type::kFloat);
  return a;
}

Message attr_string(const std::string& name, const std::string& v) {
  Message a;
  a.bytes(attr_field::kName, name)
      .bytes(attr_field::kS, v)
      .int64(attr_field::kType, attr_type::kString);
  return a;
}

Message attr_ints(const std::string& name, const std::vector<std::int64_t>& v) {
  Message a;
  a.bytes(attr_field::kName, name);
  for (std::int64_t x : v) a.int64(attr_field::kInts, x);
  a.int64(attr_field::kType, attr_type::kInts);
  return a;
}

Message node(const std::string& op_type, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs, const std::string& name,
             const std::vector<Message>& attributes, const std::string& domain) {
  Message n;
  for (const std::string& s : inputs) n.bytes(node_field::kInput, s);
  for (const std::string& s : outputs) n.bytes(node_field::kOutput, s);
  n.bytes(node_field::kName, name);
  n.bytes(node_field::kOpType, op_type);
  for (const Message& a : attributes) n.message(node_field::kAttribute, a);
  if (!domain.empty()) n.bytes(node_field::kDomain, domain);
  return n;
}

Message float_value_info(const std::string& name, const std::vector<std::int64_t>& dims) {
  // ValueInfoProto{name 1, type 2}; TypeProto{tensor_type 1}; Tensor{elem_type 1, shape 2};
  // TensorShapeProto{dim 1}; Dimension{dim_value 1, dim_param 2}.
  Message shape;
  for (std::int64_t d : dims) {
    Message dim;
    if (d < 0)
      dim.bytes(2, "N");
    else
      dim.int64(1, d);
    shape.message(1, dim);
  }
  Message tensor;
  tensor.int64(1, kFloat).message(2, shape);
  Message type;
  type.message(1, tensor);
  Message vi;
  vi.bytes(1, name).message(2, type);
  return vi;
}

Message opset(const std::string& domain, std::int64_t version) {
  Message o;
  o.bytes(1, domain).int64(2, version);
  return o;
}

}  // namespace nce::deploy::onnx
