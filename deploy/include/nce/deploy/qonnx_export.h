// QONNX export: the trained quantized network as an ONNX graph with QONNX Quant nodes (domain
// qonnx.custom_op.general) around the standard Conv/Gemm, quantized exactly as the integer model
// (int_model.h, exporter.h) quantizes it: b-bit weight codes with their scale, PACT activations as
// unsigned b-bit values with scale clip / (2^b - 1), the stem, 1x1 shortcuts and FC on the array's
// 8-bit rule. BatchNormalization (running statistics), Relu, Add, Sub (the stem's input mean),
// AveragePool, MaxPool, GlobalAveragePool, Flatten and Gemm are standard ONNX ops (opset 13).
// deploy/README.md ("QONNX export") documents the graph, the op mapping and what it cannot express.
#pragma once

#include <string>

#include "nce/deploy/int_model.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"

namespace nce::deploy {

inline constexpr int kQonnxOnnxOpset = 13;  // ai.onnx opset of the standard ops
inline constexpr int kQonnxIrVersion = 7;   // the IR version of opset 13 (onnx 1.8)
inline constexpr const char* kQonnxDomain = "qonnx.custom_op.general";

struct QonnxGraph {
  std::string bytes;  // the serialized ModelProto
  int nodes = 0;      // all nodes
  int quant_nodes = 0;
  // The FC's 8-bit input: nce infer shifts the pooled sums per image by the smallest e that
  // brings the largest to <= 127. Where e is provably 0 (codes, plane x max code <= 127) the
  // Quant's scale is a constant; otherwise (a ReLU output, or larger sums) the graph computes the
  // per-image scale 2^e x unit / plane from the pooled features (ReduceMax, GreaterOrEqual against
  // the thresholds of e, Cast, ReduceSum, Pow, Mul) and feeds it to the Quant: a dynamic scale.
  bool head_scale_dynamic = false;
};

// `model`: export_int_model(checkpoint, norm, source), whose numbers (codes, scales, shifts) the
// graph uses; BN comes from the checkpoint. Graph input "image": float N x C x H x W raw pixels
// 0..255 (what nce infer reads); output "logits": float N x classes. Throws std::runtime_error
// starting with `source` for what QONNX cannot express.
QonnxGraph export_qonnx(const nn::Checkpoint& checkpoint, const nn::Normalization& norm,
                        const IntModel& model, const std::string& source);

// export_int_model, then the graph: refuses what the integer model refuses (its message then says
// "cannot export as QONNX"), and what the graph cannot express. `model`, when given, receives the
// integer model.
QonnxGraph export_qonnx(const nn::Checkpoint& checkpoint, const nn::Normalization& norm,
                        const std::string& source, IntModel* model = nullptr);

}  // namespace nce::deploy
