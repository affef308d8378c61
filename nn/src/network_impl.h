// Internal to nce_nn: the execution plan behind nn::Network (network.h), shared by network.cpp
// (building, forward, backward, parameters) and activation_probe.cpp (the Fig. 1 probe). Tensors
// are NCHW; every buffer belongs to its node and is reused from one call to the next.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/conv.h"
#include "nce/nn/network.h"
#include "nce/nn/tensor.h"

namespace nce::nn {

using Act = ActParams::Kind;

// A tensor of the plan and its gradient (grad_valid: grad holds a value for this backward).
struct Value {
  Tensor data;
  Tensor grad;
  bool grad_valid = false;
  bool needs_grad = true;
};

// One step of the plan, in forward order.
struct Step {
  enum Kind { kConv, kAdd, kHead } kind;
  int index;
};

// A conv layer with its BN, activation and output pool, and their state and scratch.
struct ConvNode {
  models::Layer layer;
  int in = 0, out = 0;
  ConvParams conv;
  bool quant_w = false;
  bool full8 = false;           // the 8-bit rule (options.int8_full_precision, not quant_w)
  std::vector<float> in_scale;  // full8: per input channel factors (the stem's 1 / std)
  Tensor weight, weight_grad;
  Tensor wq, dwq;
  float qscale = 0.0f;
  Tensor step, step_grad;  // LSQ
  bool bn = false;
  BatchNormState norm;
  Act act = Act::kNone;
  Tensor clip, clip_grad;
  Tensor pooled_in, z, a, g1, g2;
  std::vector<std::int32_t> argmax;
  ConvWorkspace ws;
};

struct AddNode {
  std::string name;  // block prefix
  int main = 0, shortcut = 0, out = 0;
  Act act = Act::kNone;
  Tensor clip, clip_grad;
  Tensor g1;
};

struct HeadNode {
  models::Layer layer;
  int in = 0, out = 0;
  Tensor weight, weight_grad, bias, bias_grad;
  Tensor pooled, g1, g2;
  bool pool = false;
  bool full8 = false;  // the 8-bit rule (options.int8_full_precision): weights and input
  Tensor wq;           // full8: the 8-bit weights
  // The node whose activation feeds the head (for the unit of its 8-bit input): a conv or an add.
  Step::Kind src_kind = Step::kConv;
  int src = -1;
};

struct Network::Impl {
  models::Network desc;
  NetworkOptions opt;
  std::vector<Value> values;
  std::vector<ConvNode> convs;
  std::vector<AddNode> adds;
  std::vector<HeadNode> heads;
  std::vector<Step> plan;
  int logits = 0;
  bool have_train_forward = false;

  bool layer_quantized(const models::Layer& l) const {
    return l.quantized || opt.quantize_all_layers;
  }
  template <class Node>
  ActParams act_params(const Node& nd) const {
    return ActParams{nd.act, nd.act == Act::kPact ? nd.clip[0] : 0.0f, opt.activation_bits};
  }

  int new_value() {
    values.emplace_back();
    return static_cast<int>(values.size()) - 1;
  }

  void forward_conv(ConvNode& nd, Mode mode);
  void backward_conv(ConvNode& nd);
  void forward_add(AddNode& nd);
  void backward_add(AddNode& nd);
  void forward_head(HeadNode& nd);
  void backward_head(HeadNode& nd);
  void quantize_weights(ConvNode& nd);
  // The head's input unit for the 8-bit rule: the PACT step of its producer, or 2^-16 (ReLU).
  double head_input_unit(const HeadNode& nd) const;
};

}  // namespace nce::nn
