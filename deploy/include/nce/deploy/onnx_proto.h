// A small hand-written protobuf encoder for the few ONNX messages the QONNX export writes
// (onnx.proto3: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto,
// TypeProto, OperatorSetIdProto). Encoding only, no reflection: each helper appends the fields it
// is given, with the field numbers of onnx/onnx.proto (IR version 7..8), to a byte string that is
// the serialized message. Floats are stored little-endian in TensorProto.raw_data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nce::deploy::onnx {

// One protobuf message being encoded (wire types 0 varint, 2 length-delimited, 5 fixed32).
class Message {
 public:
  Message& varint(int field, std::uint64_t v);
  Message& int64(int field, std::int64_t v) { return varint(field, static_cast<std::uint64_t>(v)); }
  Message& float32(int field, float v);
  Message& bytes(int field, const std::string& s);
  Message& message(int field, const Message& m) { return bytes(field, m.data()); }
  Message& packed_int64(int field, const std::vector<std::int64_t>& v);
  const std::string& data() const { return data_; }

 private:
  void tag(int field, int wire_type);
  void raw_varint(std::uint64_t v);
  std::string data_;
};

// TensorProto.DataType values used here.
inline constexpr int kFloat = 1, kInt64 = 7;

// A float initializer (TensorProto: dims, data_type FLOAT, name, raw_data). dims empty: a scalar.
Message float_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<float>& values);

// An int64 initializer (raw_data, little-endian).
Message int64_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<std::int64_t>& values);

// AttributeProto of type INT, FLOAT, STRING, INTS.
Message attr_int(const std::string& name, std::int64_t v);
Message attr_float(const std::string& name, float v);
Message attr_string(const std::string& name, const std::string& v);
Message attr_ints(const std::string& name, const std::vector<std::int64_t>& v);

// NodeProto.
Message node(const std::string& op_type, const std::vector<std::string>& inputs,
             const std::vector<std::string>& outputs, const std::string& name,
             const std::vector<Message>& attributes, const std::string& domain = "");

// ValueInfoProto of a float tensor; a negative dim is the symbolic batch dimension "N".
Message float_value_info(const std::string& name, const std::vector<std::int64_t>& dims);

// OperatorSetIdProto.
Message opset(const std::string& domain, std::int64_t version);

// GraphProto field numbers and ModelProto field numbers the exporter appends with.
namespace graph_field {
inline constexpr int kNode = 1, kName = 2, kInitializer = 5, kDocString = 10, kInput = 11,
                     kOutput = 12;
}
namespace model_field {
inline constexpr int kIrVersion = 1, kProducerName = 2, kProducerVersion = 3, kDomain = 4,
                     kModelVersion = 5, kDocString = 6, kGraph = 7, kOpsetImport = 8;
}

}  // namespace nce::deploy::onnx
