// A trainable network built from any nce::models::Network (except kTopology): convolutions with
// BatchNorm and ReLU/PACT, residual blocks with their shortcuts (identity, 2x2 avg pool + 1x1 conv,
// 1x1 strided conv + BN), VGG chains with max pools, global average pooling and the FC.
//
// Quantization (docs/algorithm.md §1):
// - Weights of a layer are quantized (options.quantizer at options.weight_bits) when the layer is
//   quantized: models::Layer::quantized, or every layer when options.quantize_all_layers is set.
//   Full precision by default: the first conv, the last FC and the 1x1 shortcut convs.
// - Activations: every ReLU of the model (after a conv's BN, or after a block's residual add) whose
//   output feeds a quantized layer becomes PACT at options.activation_bits with its own learnable
//   clip; the others stay ReLU (e.g. the last block's output, which feeds the full-precision FC).
//   The residual add itself is in float. activation_bits = 32: plain ReLU everywhere.
//
// Parameters (names are "<layer>.<what>", e.g. "s1b1.conv_a.weight"):
//   <layer>.weight            conv [c_out][c_in][k][k] / FC [out][in]; weight_decay = true
//   <layer>.bias              FC only; weight_decay = true
//   <layer>.bn.gamma/.bn.beta weight_decay = false
//   <layer>.act_clip          PACT clip after the layer ("s1b1.out_clip" after a block's add);
//                             1 float, weight_decay = false, clip_l2 = options.pact_clip_l2
//   <layer>.weight_step       LSQ step (quantizer kLsq only); weight_decay = false
// state() adds the buffers <layer>.bn.running_mean and <layer>.bn.running_var.
//
// Initialization (seeded, reproducible): conv weights N(0, 2/fan_in) (Kaiming normal, fan_in =
// c_in*k*k); FC weight and bias U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's Linear); BN gamma 1, beta 0,
// running mean 0, var 1; PACT clips options.pact_init_clip; LSQ steps from the initial weights.
//
// Execution: conv -> BN + activation (one fused pass; PACT quantizes in the same pass, so
// activations reach the next conv already on their 2^b - 1 levels) -> optional pool; a block's
// add + activation is one fused pass too. Weights are quantized once per forward into a copy.
// Convolutions: register-tiled AVX-512 or AVX2 + FMA GEMMs (conv.h) that build their im2col
// operand on the fly, a panel of pixels at a time (48 under AVX-512, 24 under AVX2), or under AVX2
// gather it from the image for strided convs; the portable level uses an explicit im2col. The
// level is chosen at run time (nce/nn/isa.h: CPUID, or NCE_ISA).
// Memory: the forward keeps the conv outputs and activations the backward needs (not the BN
// outputs: the backward recomputes them); buffers are reused between steps of the same batch
// size (ResNet-20, batch 128: about 400 MiB). Results are deterministic for a given thread count.
// Not thread safe; it uses OpenMP threads internally (images split across threads in the convs,
// channels in BN).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/activation.h"
#include "nce/nn/quantizer.h"
#include "nce/nn/tensor.h"

namespace nce::nn {

struct NetworkOptions {
  int weight_bits = 32;      // 2, 3, 4, 8 or 32 (no quantization)
  int activation_bits = 32;  // 2, 3, 4, 8 or 32 (ReLU)
  QuantizerKind quantizer = QuantizerKind::kSawb;
  float pact_init_clip = 10.0f;
  float pact_clip_l2 = 0.001f;
  float bn_momentum = 0.1f;
  float bn_eps = 1e-5f;
  bool quantize_all_layers = false;  // also quantize the layers models:: keeps full precision
  // The full-precision layers (the stem, 1x1 shortcuts and FC: every layer not quantized above)
  // train and evaluate on the array's 8-bit rule, as `nce export` runs them: weights rounded to
  // 8 bits per output channel (max-abs / 127; the stem's after the input normalization is folded
  // in, see set_input_scale), the FC's input rounded to 8 bits per image; straight-through
  // gradients. Off: they stay float, and the exported model differs from the trained one there.
  bool int8_full_precision = false;
};

// Throws std::invalid_argument naming the option and value.
void validate(const NetworkOptions& options);

enum class Mode { kTrain, kEval };

// One activation (ReLU or PACT) of a network measured over a batch: the paper's Fig. 1 quantities.
// x is the activation's input (a conv's BN output, or a block's residual sum), r = max(x, 0) what
// a full-precision ReLU would pass on, q what the network passes on (PACT's levels, or r).
struct ActivationStats {
  std::string name;      // "stem", "s1b1.conv_a", "s1b1.out" (a block's add + activation), ...
  int channels = 0;
  double mean = 0;       // of x
  double stdev = 0;      // of x (population standard deviation over N*C*H*W values)
  double out_stdev = 0;  // of q
  int bits = 32;         // the activation's bits (32: ReLU)
  double clip = 0;       // PACT's learned clip; for a ReLU, the clip of the reference quantizer
  // 10*log10(sum r^2 / sum (r - q)^2) in dB (+inf without error). For a ReLU (full precision),
  // q is instead a hypothetical PACT quantizer at reference_bits with the clip, out of 256 clips
  // evenly spaced in (0, max r], that minimizes the error (reference = true): how much a
  // quantizer of the run's precision would lose on this layer's distribution.
  double sqnr_db = 0;
  bool reference = false;
};

// The statistics of one activation `act` (ReLU or PACT) over its n inputs x (name and channels
// left empty). reference_bits: the precision of the hypothetical quantizer of a ReLU.
ActivationStats measure_activation(const float* x, std::size_t n, const ActParams& act,
                                   int reference_bits);

class Network {
 public:
  // Throws std::invalid_argument for a kTopology network, unsupported bits, or a shape mismatch.
  Network(const models::Network& description, const NetworkOptions& options, std::uint64_t seed);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // images: N x C x H x W matching description().input. Returns the logits (N x classes), valid
  // until the next forward. Train mode uses batch statistics and updates the BN running stats.
  const Tensor& forward(const Tensor& images, Mode mode);

  // Gradient of the loss with respect to the logits of the last train-mode forward (N x classes).
  // Accumulates (+=) into every parameter's grad; call zero_grad() between steps.
  void backward(const Tensor& grad_logits);

  // An eval-mode forward of `images` that also measures every activation, in forward order.
  // reference_bits (2..8): the precision of the hypothetical quantizer for ReLU activations.
  std::vector<ActivationStats> probe_activations(const Tensor& images, int reference_bits);

  // An eval-mode forward of `images` that hands every activation (ReLU or PACT), in forward
  // order, to `visit`: its name (as ActivationStats::name), its input x (N x C x H x W: a conv's
  // BN output, or a block's residual sum; valid during the call) and its parameters.
  using ActivationVisitor =
      std::function<void(const std::string& name, const Tensor& x, const ActParams& act)>;
  void visit_activation_inputs(const Tensor& images, const ActivationVisitor& visit);

  void zero_grad();
  std::vector<Parameter> parameters();
  // Parameters then buffers, in a fixed order; for checkpoints.
  std::vector<NamedTensor> state();

  // With options.int8_full_precision: the factor (1 / std of the input normalization) of each
  // input channel, by which the stem's weights are scaled before the 8-bit rule rounds them
  // (default 1). The trainer sets it from the training set's normalization.
  void set_input_scale(const std::vector<float>& per_channel);

  const models::Network& description() const;
  const NetworkOptions& options() const;
  std::int64_t num_parameters() const;
  // Bytes held by activations, gradients and scratch buffers (after a forward/backward).
  std::size_t buffer_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nce::nn
