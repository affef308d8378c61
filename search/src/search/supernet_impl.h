// The supernet's private state (supernet.h's Supernet::Impl), shared by supernet.cpp (building,
// parameters, state, expansion) and supernet_pass.cpp (forward and backward passes).
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/conv.h"
#include "nce/nn/pooling.h"
#include "nce/search/mixed_bn.h"
#include "nce/search/supernet.h"

namespace nce::search {
namespace detail {

using Act = nn::ActParams::Kind;

inline nn::PoolParams pool_params(const models::Pool& p) {
  return nn::PoolParams{p.k, p.stride, p.pad};
}

// One conv (or the FC) of the supernet with its BN slots and the activation after it.
struct Unit {
  std::string name;
  models::Layer desc;  // at the base widths
  bool is_fc = false;
  int in_index = -1, out_index = -1;
  int c_in_alloc = 0, c_out_alloc = 0, kk = 1;
  bool quantized = false;
  Act act = Act::kNone;
  models::Pool in_pool, out_pool;

  nn::Tensor weight, dweight, bias, dbias, clip, dclip, step, dstep;
  std::vector<nn::BatchNormState> bns;  // one per candidate slot

  // Forward state (what the backward reads).
  const nn::Tensor* input = nullptr;  // what the conv saw (after in_pool)
  nn::Tensor pooled_in;
  nn::Tensor wpack, wq;  // quantized layers: the active weights packed, and quantized
  float quant_aux = 0;   // quantize_weights' value for the backward
  nn::Tensor y;          // conv output, c_max channels
  int c_x = 0, c_max = 0;
  int n_drawn = 1;
  int cand[2] = {0, 0};  // candidate slot indices
  int width[2] = {0, 0};
  double mix[2] = {1, 0};
  nn::Tensor activated, out;  // BN + activation (+ mix); after out_pool
  std::vector<std::int32_t> pool_argmax;
  MixedBatchNormAct mixer;
  nn::ConvWorkspace ws;
  // Backward scratch.
  const nn::Tensor* source = nullptr;  // the unit's input before in_pool (its shape)
  nn::Tensor dwq, dwpack;
  nn::Tensor bn_sink;  // dgamma/dbeta of an architecture step (discarded)
  float clip_sink = 0.0f;

  const nn::Tensor& output() const {
    return out_pool.kind != models::PoolKind::kNone ? out : activated;
  }
  std::array<MixedCandidate, 2> candidates(bool weight_grads) {
    std::array<MixedCandidate, 2> c;
    for (int j = 0; j < 2; ++j) {
      c[j].width = width[j];
      c[j].weight = mix[j];
      if (bns.empty()) continue;
      nn::BatchNormState& bn = bns[static_cast<std::size_t>(cand[j])];
      c[j].width = width[j];
      c[j].weight = mix[j];
      c[j].gamma = bn.gamma.data();
      c[j].beta = bn.beta.data();
      c[j].running_mean = bn.running_mean.data();
      c[j].running_var = bn.running_var.data();
      c[j].dgamma = weight_grads ? bn.dgamma.data() : nullptr;
      c[j].dbeta = weight_grads ? bn.dbeta.data() : nullptr;
    }
    return c;
  }
};

}  // namespace detail

struct Supernet::Impl {
  using Unit = detail::Unit;
  using Act = detail::Act;
  models::Network base;
  const ArchParams* arch = nullptr;
  SupernetOptions options;
  std::vector<int> alloc;  // per width index
  std::vector<Unit> units;
  struct BlockUnits {
    int conv_a = -1, conv_b = -1, shortcut = -1;
    Act act = Act::kRelu;
    nn::Tensor clip, dclip;
    nn::Tensor out;  // act(conv_b (+) shortcut)
    float clip_sink = 0.0f;
    std::string name;
  };
  std::vector<BlockUnits> blocks;
  int fc = -1;
  std::vector<GumbelDraw> draws;
  std::vector<std::array<double, 2>> mix_grads;
  nn::Tensor pooled, d_logits, d_pooled, d_features;
  // Backward scratch, shared by all units and blocks (a gradient lives only until the layer
  // before has consumed it): inside one unit's backward, and between layers (ping-pong).
  nn::Tensor g_pool, d_y, d_in, d_pooled_in;
  nn::Tensor grad_a, grad_b, grad_s, grad_x[2];
  const nn::Tensor* features = nullptr;
  int reserved_batch = 0;

  bool weight_quantized(const Unit& u) const { return u.quantized && options.weight_bits < 32; }
  nn::ActParams act_params(Act kind, const nn::Tensor& clip) const {
    return nn::ActParams{kind, kind == Act::kPact ? clip[0] : 0.0f, options.activation_bits};
  }

  void build_units(std::mt19937_64& rng);
  void init_weights(Unit& u, std::mt19937_64& rng);
  void reinit_rows(Unit& u, int row_begin, int row_end, std::mt19937_64& rng);
  void reinit_cols(Unit& u, int col_begin, int col_end, std::mt19937_64& rng);
  void reserve(int batch);
  const nn::Tensor& unit_forward(Unit& u, const nn::Tensor& x, nn::Mode mode);
  // Backward of a unit: d = dL/d(its output), consumed (overwritten). Writes dL/d(its input,
  // before in_pool) into *dx (+= when accumulate), unless dx is null.
  void unit_backward(Unit& u, nn::Tensor& d, bool weight_grads, nn::Tensor* dx, bool accumulate);
};

}  // namespace nce::search
