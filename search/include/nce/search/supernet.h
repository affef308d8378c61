// The width-search supernet (TAS, extended by NCE; docs/algorithm.md §3-4) for the CIFAR ResNets
// and VGG-16.
//
// Every searchable conv holds one weight tensor allocated at the widest width its layer can ever
// reach (max_candidates candidates: 8 for TAS, up to 16 with NCE expansions) and one BatchNorm
// per candidate slot. A step draws two candidates per width index (ArchParams/GumbelDraw); the conv
// runs once at the wider drawn width on the prefix of its filters and of its input channels
// (inputs narrower than the allocation simply use fewer input columns, i.e. zero padding), each
// drawn candidate gets its own BN on its channel prefix, channel-wise interpolation (CWI) brings
// both to the wider width and they are mixed with the draw's weights. A 1x1 shortcut conv shares
// the draw of its block's second conv. Residual adds of different widths add the narrower tensor
// into the first channels of the wider. Quantization is on during the search: the same rules as
// nn::Network (weights of models::Layer::quantized layers at weight_bits; PACT at
// activation_bits on every activation that feeds a quantized layer, ReLU elsewhere).
//
// Execution: the same kernels as nn::Network (register-tiled convs reading the active prefix of the
// allocation in place, the fused BN + activation and residual add + activation kernels, the shared
// weight quantizers). A layer with one drawn candidate runs exactly nn::Network's BN + activation;
// with two, BN, CWI, mixing and activation are one fused op (mixed_bn.h). Every buffer is reserved
// at its widest shape on the first forward of a batch size, so steps do not allocate. The
// architecture step (backward with weight_grads = false) computes dx and the mixing-weight
// gradients only.
//
// Tensors are NCHW float32 (nn/tensor.h). Not thread safe; uses OpenMP inside the kernels.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/network.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/quantizer.h"
#include "nce/nn/tensor.h"
#include "nce/search/arch_params.h"

namespace nce::search {

struct SupernetOptions {
  int weight_bits = 2;
  int activation_bits = 2;
  nn::QuantizerKind quantizer = nn::QuantizerKind::kSawb;
  float pact_init_clip = 10.0f;
  float pact_clip_l2 = 0.001f;
  float bn_momentum = 0.1f;
  float bn_eps = 1e-5f;
  // Candidate slots per layer: 8 = TAS (no expansion), up to 16 for NCE.
  int max_candidates = 8;
};

class Supernet {
 public:
  // `base`: the network at its original widths (a CIFAR ResNet or VGG-16; other families throw
  // std::invalid_argument). `arch` gives the candidates; it must outlive the supernet and may grow
  // (ArchParams::maybe_expand) as long as on_expanded() is called after each growth.
  Supernet(const models::Network& base, const ArchParams& arch, const SupernetOptions& options,
           std::uint64_t seed);
  ~Supernet();
  Supernet(const Supernet&) = delete;
  Supernet& operator=(const Supernet&) = delete;

  // The draws (one per width index 1..S, as from gumbel_draw) used by the next forward.
  void set_draws(const std::vector<GumbelDraw>& draws);
  // Draws that select one candidate per layer with weight 1 (e.g. the argmax architecture).
  void set_single(const std::vector<int>& candidate_index);

  // images: N x C x H x W of the base network's input. Returns the logits (N x classes).
  const nn::Tensor& forward(const nn::Tensor& images, nn::Mode mode);
  // Backward of the last train-mode forward. weight_grads = false (the architecture step) skips
  // accumulating parameter gradients; mixing-weight gradients are always computed.
  void backward(const nn::Tensor& grad_logits, bool weight_grads = true);
  // dL/d(mixing weight) of the last backward, per width index - 1 (two entries per draw; 0 for a
  // layer with a single drawn candidate, whose weight is the constant 1).
  const std::vector<std::array<double, 2>>& mixing_grads() const;
  // dL/dalpha from the last backward, through the draws (gumbel_backward); per width index - 1.
  std::vector<std::vector<double>> alpha_grads() const;

  void zero_grad();
  std::vector<nn::Parameter> parameters();
  std::vector<nn::NamedTensor> state();  // parameters, then BN running statistics

  // After arch.maybe_expand(width_index, ...) added a candidate: re-initializes the newly reachable
  // filters of the layers writing that width and the newly reachable input columns of the layers
  // reading it (Kaiming), resets the new candidate's BN, and zeroes the matching entries of SGD
  // momentum buffers in `optimizer_state` (may be null).
  void on_expanded(int width_index, int old_max_width, std::mt19937_64& rng,
                   nn::OptimizerState* optimizer_state);

  // Zeroes, in copies of state() and of the optimizer's buffers (matched by name), what no
  // forward or backward reads before on_expanded() re-initializes it: the filters and input
  // columns beyond each layer's widest candidate, and the BN slots of candidates not yet added.
  // A checkpoint written so compresses to the part of the allocation in use, and resumes exactly.
  void zero_unused(std::vector<nn::StateBuffer>& buffers) const;

  const models::Network& base() const;
  // Largest width a layer's allocation can hold (per width index; index 0 = input channels).
  int allocated_width(int width_index) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nce::search
