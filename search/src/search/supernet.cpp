#include "nce/search/supernet.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/conv.h"
#include "nce/nn/linear.h"
#include "nce/nn/pooling.h"
#include "nce/nn/random.h"
#include "nce/nn/residual.h"
#include "nce/search/mixed_bn.h"

namespace nce::search {

namespace {

using Act = nn::ActParams::Kind;

nn::PoolParams pool_params(const models::Pool& p) {
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

}  // namespace

struct Supernet::Impl {
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

namespace {

// U(-bound, bound), as nn::Network draws the FC (random.h: the same on every standard library).
float uniform_weight(std::mt19937_64& rng, double bound) {
  return static_cast<float>((2.0 * nn::uniform_open01(rng) - 1.0) * bound);
}

int allocation_for(int base_channels, int max_candidates) {
  const int initial = static_cast<int>(channel_candidates(base_channels).size());
  int width = base_channels;
  for (int k = 1; k <= max_candidates - initial; ++k) {
    width = std::max(expansion_width(base_channels, k), width + 1);
  }
  return width;
}

}  // namespace

void Supernet::Impl::init_weights(Unit& u, std::mt19937_64& rng) {
  if (u.is_fc) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(u.desc.c_in));
    for (std::size_t i = 0; i < u.weight.size(); ++i) u.weight[i] = uniform_weight(rng, bound);
    for (std::size_t i = 0; i < u.bias.size(); ++i) u.bias[i] = uniform_weight(rng, bound);
    return;
  }
  reinit_rows(u, 0, u.c_out_alloc, rng);
}

void Supernet::Impl::reinit_rows(Unit& u, int row_begin, int row_end, std::mt19937_64& rng) {
  // Kaiming normal with the base layer's fan-in: N(0, 2 / (c_in * k * k)).
  const double stdev = std::sqrt(2.0 / static_cast<double>(u.desc.c_in * u.kk));
  const int ld = u.c_in_alloc * u.kk;
  for (int o = row_begin; o < row_end; ++o) {
    for (int j = 0; j < ld; ++j) {
      u.weight[static_cast<std::size_t>(o) * ld + j] =
          static_cast<float>(nn::standard_normal(rng) * stdev);
    }
  }
}

void Supernet::Impl::reinit_cols(Unit& u, int col_begin, int col_end, std::mt19937_64& rng) {
  const int ld = u.c_in_alloc * u.kk;
  if (u.is_fc) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(u.desc.c_in));
    for (int o = 0; o < u.c_out_alloc; ++o) {
      for (int c = col_begin; c < col_end; ++c)
        u.weight[static_cast<std::size_t>(o) * ld + c] = uniform_weight(rng, bound);
    }
    return;
  }
  const double stdev = std::sqrt(2.0 / static_cast<double>(u.desc.c_in * u.kk));
  for (int o = 0; o < u.c_out_alloc; ++o) {
    for (int j = col_begin * u.kk; j < col_end * u.kk; ++j) {
      u.weight[static_cast<std::size_t>(o) * ld + j] =
          static_cast<float>(nn::standard_normal(rng) * stdev);
    }
  }
}

void Supernet::Impl::build_units(std::mt19937_64& rng) {
  // Which width indices feed a quantized layer (their activations become PACT).
  std::vector<bool> feeds_quantized(base.widths.size(), false);
  for (const auto& l : base.layers) {
    if (l.quantized && l.in_width_index >= 0) feeds_quantized[l.in_width_index] = true;
  }
  const bool pact_on = options.activation_bits < 32;
  auto activation_for = [&](int width_index) {
    return pact_on && width_index >= 0 && feeds_quantized[width_index] ? Act::kPact : Act::kRelu;
  };
  std::vector<int> unit_of_layer(base.layers.size(), -1);
  for (size_t li = 0; li < base.layers.size(); ++li) {
    const models::Layer& l = base.layers[li];
    Unit u;
    u.name = l.name;
    u.desc = l;
    u.is_fc = l.kind == models::LayerKind::kFC;
    u.in_index = l.in_width_index;
    u.out_index = l.out_width_index;
    u.kk = l.k * l.k;
    u.c_in_alloc = alloc[l.in_width_index];
    u.c_out_alloc = l.out_width_index >= 0 ? alloc[l.out_width_index] : l.c_out;
    u.quantized = l.quantized;
    u.in_pool = l.in_pool;
    u.out_pool = l.out_pool;
    u.act = l.relu ? activation_for(l.out_width_index) : Act::kNone;
    u.weight.resize(u.c_out_alloc, u.c_in_alloc * u.kk);
    u.dweight.resize(u.c_out_alloc, u.c_in_alloc * u.kk);
    u.dweight.set_zero();
    if (l.bias) {
      u.bias.resize(1, u.c_out_alloc);
      u.dbias.resize(1, u.c_out_alloc);
      u.dbias.set_zero();
    }
    if (u.act == Act::kPact) {
      u.clip.resize(1, 1);
      u.clip[0] = options.pact_init_clip;
      u.dclip.resize(1, 1);
      u.dclip.set_zero();
    }
    if (weight_quantized(u) && options.quantizer == nn::QuantizerKind::kLsq) {
      u.step.resize(1, 1);
      u.dstep.resize(1, 1);
      u.dstep.set_zero();
    }
    if (l.batch_norm) {
      const int slots = u.out_index >= 0 ? options.max_candidates : 1;
      u.bns.resize(slots);
      // Every slot holds the allocation's channel count; a candidate of width c uses the
      // prefix [0, c), so expansions never resize a parameter.
      for (int s = 0; s < slots; ++s) u.bns[s].init(u.c_out_alloc);
    }
    init_weights(u, rng);
    if (u.step.size()) {
      u.step[0] = nn::lsq_init_step(u.weight.data(), u.weight.size(), options.weight_bits);
    }
    unit_of_layer[li] = static_cast<int>(units.size());
    units.push_back(std::move(u));
    if (units.back().is_fc) fc = static_cast<int>(units.size()) - 1;
  }
  for (const auto& b : base.blocks) {
    BlockUnits bu;
    bu.conv_a = unit_of_layer[b.conv_a];
    bu.conv_b = unit_of_layer[b.conv_b];
    bu.shortcut = b.shortcut >= 0 ? unit_of_layer[b.shortcut] : -1;
    bu.name = base.layers[b.conv_a].name.substr(0, base.layers[b.conv_a].name.find('.'));
    bu.act = activation_for(base.layers[b.conv_b].out_width_index);
    if (bu.act == Act::kPact) {
      bu.clip.resize(1, 1);
      bu.clip[0] = options.pact_init_clip;
      bu.dclip.resize(1, 1);
      bu.dclip.set_zero();
    }
    blocks.push_back(std::move(bu));
  }
}

Supernet::Supernet(const models::Network& base, const ArchParams& arch,
                   const SupernetOptions& options, std::uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  if (base.family != models::Family::kCifarResNet && base.family != models::Family::kVgg) {
    throw std::invalid_argument("the width search supports the CIFAR ResNets and vgg16; model '" +
                                base.model + "' is not one of them");
  }
  if (arch.num_layers() != base.num_searchable()) {
    throw std::invalid_argument("architecture parameters have " +
                                std::to_string(arch.num_layers()) + " layers, model '" +
                                base.model + "' has " + std::to_string(base.num_searchable()));
  }
  if (options.max_candidates < 8 || options.max_candidates > 16) {
    throw std::invalid_argument("max_candidates must be in 8..16, got " +
                                std::to_string(options.max_candidates));
  }
  for (int bits : {options.weight_bits, options.activation_bits}) {
    if (!nn::is_supported_bits(bits)) {
      throw std::invalid_argument("bits must be 2, 3, 4, 8 or 32, got " + std::to_string(bits));
    }
  }
  Impl& m = *impl_;
  m.base = base;
  m.arch = &arch;
  m.options = options;
  m.alloc.resize(base.widths.size());
  m.alloc[0] = base.widths[0];
  for (size_t w = 1; w < base.widths.size(); ++w) {
    m.alloc[w] = allocation_for(base.widths[w], options.max_candidates);
  }
  std::mt19937_64 rng(seed);
  m.build_units(rng);
  m.mix_grads.assign(arch.num_layers(), {0.0, 0.0});
  std::vector<int> largest;
  for (const auto& l : arch.layers()) largest.push_back(static_cast<int>(l.candidates.size()) - 1);
  set_single(largest);
}

Supernet::~Supernet() = default;

const models::Network& Supernet::base() const {
  return impl_->base;
}
int Supernet::allocated_width(int width_index) const {
  return impl_->alloc.at(width_index);
}

void Supernet::set_draws(const std::vector<GumbelDraw>& draws) {
  if (static_cast<int>(draws.size()) != impl_->arch->num_layers()) {
    throw std::invalid_argument("set_draws: one draw per searchable layer expected");
  }
  impl_->draws = draws;
}

void Supernet::set_single(const std::vector<int>& candidate_index) {
  std::vector<GumbelDraw> draws(candidate_index.size());
  for (size_t i = 0; i < candidate_index.size(); ++i) {
    draws[i].index[0] = draws[i].index[1] = candidate_index[i];
    draws[i].weight[0] = 1;
    draws[i].weight[1] = 0;
    draws[i].z.assign(impl_->arch->layer(static_cast<int>(i) + 1).candidates.size(), 0.0);
  }
  set_draws(draws);
}

void Supernet::Impl::reserve(int batch) {
  // Every buffer at the widest shape it can take, so that no step allocates (the drawn widths
  // change every step; without this, each new widest draw would reallocate and zero a buffer).
  if (batch <= reserved_batch) return;
  const std::size_t nb = static_cast<std::size_t>(batch);
  std::size_t widest = 0;  // elements of the largest tensor a backward scratch may hold
  for (Unit& u : units) {
    const models::Layer& l = u.desc;
    const std::size_t in = nb * u.c_in_alloc * l.h_in * l.w_in;
    const std::size_t src = nb * u.c_in_alloc * l.h_src() * l.w_src();
    const std::size_t outs = nb * u.c_out_alloc * l.h_out * l.w_out;
    if (u.in_pool.kind != models::PoolKind::kNone) u.pooled_in.reserve(in);
    for (nn::Tensor* t : {&u.y, &u.activated}) t->reserve(outs);
    widest = std::max({widest, in, src, outs});
    if (u.out_pool.kind != models::PoolKind::kNone) {
      const nn::PoolParams pp = pool_params(u.out_pool);
      const std::size_t pooled_out =
          nb * u.c_out_alloc * pp.out_size(l.h_out) * pp.out_size(l.w_out);
      u.out.reserve(pooled_out);
      u.pool_argmax.reserve(pooled_out);
    }
    const std::size_t w = u.weight.size();
    if (weight_quantized(u)) {
      for (nn::Tensor* t : {&u.wpack, &u.wq, &u.dwq, &u.dwpack}) t->reserve(w);
    }
  }
  for (BlockUnits& b : blocks) {
    const Unit& a = units[static_cast<std::size_t>(b.conv_a)];
    const Unit& bo = units[static_cast<std::size_t>(b.conv_b)];
    int c_sum = std::max(bo.c_out_alloc, a.c_in_alloc);
    if (b.shortcut >= 0) {
      c_sum = std::max(c_sum, units[static_cast<std::size_t>(b.shortcut)].c_out_alloc);
    }
    const std::size_t outs = nb * c_sum * bo.desc.h_out * bo.desc.w_out;
    b.out.reserve(outs);
    widest = std::max(widest, outs);
  }
  for (nn::Tensor* t : {&g_pool, &d_y, &d_in, &d_pooled_in, &grad_a, &grad_b, &grad_s, &grad_x[0],
                        &grad_x[1], &d_features}) {
    t->reserve(widest);
  }
  reserved_batch = batch;
}

const nn::Tensor& Supernet::Impl::unit_forward(Unit& u, const nn::Tensor& x, nn::Mode mode) {
  const nn::Tensor* in = &x;
  if (u.in_pool.kind == models::PoolKind::kAvg) {
    nn::avg_pool_forward(pool_params(u.in_pool), x, u.pooled_in);
    in = &u.pooled_in;
  }
  u.source = &x;
  u.input = in;
  u.c_x = in->c();
  if (u.c_x > u.c_in_alloc) {
    throw std::logic_error("supernet layer '" + u.name + "' gets " + std::to_string(u.c_x) +
                           " channels, more than its allocation " + std::to_string(u.c_in_alloc));
  }
  // Which candidates this step uses.
  if (u.out_index >= 0) {
    const GumbelDraw& d = draws[static_cast<std::size_t>(u.out_index - 1)];
    const std::vector<int>& cands = arch->layer(u.out_index).candidates;
    u.n_drawn = d.index[0] == d.index[1] ? 1 : 2;
    for (int j = 0; j < 2; ++j) {
      u.cand[j] = d.index[j];
      u.width[j] = cands[static_cast<std::size_t>(d.index[j])];
      u.mix[j] = d.weight[j];
    }
    u.c_max = std::max(u.width[0], u.width[1]);
    if (u.n_drawn == 1) u.mix[0] = 1.0;
  } else {
    u.n_drawn = 1;
    u.cand[0] = 0;
    u.width[0] = u.c_out_alloc;
    u.mix[0] = 1.0;
    u.c_max = u.c_out_alloc;
  }
  // Active weights: filters [0, c_max), input columns [0, c_x * k * k) of the allocation. A
  // quantized layer quantizes exactly those (packed contiguously); a full-precision one reads
  // them in place.
  const int ld = u.c_in_alloc * u.kk;
  const int cols = u.c_x * u.kk;
  const float* w = u.weight.data();
  int weight_ld = ld;
  if (weight_quantized(u)) {
    u.wpack.resize(u.c_max, cols);
    for (int o = 0; o < u.c_max; ++o) {
      std::copy_n(u.weight.data() + static_cast<std::size_t>(o) * ld, cols,
                  u.wpack.data() + static_cast<std::size_t>(o) * cols);
    }
    u.wq.resize(u.c_max, cols);
    u.quant_aux =
        nn::quantize_weights(options.quantizer, options.weight_bits, u.wpack.data(), u.wpack.size(),
                             u.step.size() ? u.step[0] : 0.0f, u.wq.data());
    w = u.wq.data();
    weight_ld = cols;
  }
  if (u.is_fc) {
    nn::linear_forward(nn::LinearParams{u.c_x, u.c_max, weight_ld}, *in, w,
                       u.bias.size() ? u.bias.data() : nullptr, u.y);
  } else {
    nn::ConvParams p;
    p.c_in = u.c_x;
    p.c_out = u.c_max;
    p.k = u.desc.k;
    p.stride = u.desc.stride;
    p.pad = u.desc.pad;
    p.weight_ld = weight_ld;
    nn::conv2d_forward(p, *in, w, u.y, u.ws);
  }
  // BN (one per drawn candidate, CWI and mix) fused with the activation.
  const nn::BatchNormParams bnp{options.bn_momentum, options.bn_eps};
  const nn::ActParams act = act_params(u.act, u.clip);
  const bool train = mode == nn::Mode::kTrain;
  if (u.n_drawn == 1 && u.bns.empty()) {
    u.activated.resize_like(u.y);
    nn::ActParams::apply(act.eval(), u.y.data(), 1.0f, 0.0f, u.activated.data(), u.y.size());
  } else if (u.n_drawn == 1) {
    nn::BatchNormState& bn = u.bns[static_cast<std::size_t>(u.cand[0])];
    if (train) {
      nn::batch_norm_act_forward_train(bnp, act, u.y, bn.gamma.data(), bn.beta.data(),
                                       bn.running_mean.data(), bn.running_var.data(),
                                       bn.save_mean.data(), bn.save_inv_std.data(), u.activated);
    } else {
      nn::batch_norm_act_forward_eval(bnp, act, u.y, bn.gamma.data(), bn.beta.data(),
                                      bn.running_mean.data(), bn.running_var.data(), u.activated);
    }
  } else if (train) {
    u.mixer.forward_train(bnp, act, u.y, u.candidates(true), u.activated);
  } else {
    u.mixer.forward_eval(bnp, act, u.y, u.candidates(true), u.activated);
  }
  if (u.out_pool.kind == models::PoolKind::kMax) {
    nn::max_pool_forward(pool_params(u.out_pool), u.activated, u.out, u.pool_argmax);
  }
  return u.output();
}

void Supernet::Impl::unit_backward(Unit& u, nn::Tensor& d, bool weight_grads, nn::Tensor* dx,
                                   bool accumulate) {
  nn::Tensor* g = &d;
  if (u.out_pool.kind == models::PoolKind::kMax) {
    nn::max_pool_backward(pool_params(u.out_pool), u.activated, d, u.pool_argmax, g_pool);
    g = &g_pool;
  }
  const nn::ActParams act = act_params(u.act, u.clip);
  float* dclip = u.act == Act::kPact ? (weight_grads ? u.dclip.data() : &u.clip_sink) : nullptr;
  // Through the activation and the BN(s) into dL/dy (c_max channels). The architecture step (no
  // weight gradients) sends BN's dgamma/dbeta to a scratch pair.
  nn::Tensor* dy = g;
  if (u.n_drawn == 1 && u.bns.empty()) {
    act.backward(u.y.data(), 1.0f, 0.0f, g->data(), g->size());
  } else if (u.n_drawn == 1) {
    nn::BatchNormState& bn = u.bns[static_cast<std::size_t>(u.cand[0])];
    float* dgamma = bn.dgamma.data();
    float* dbeta = bn.dbeta.data();
    if (!weight_grads) {
      u.bn_sink.resize(2, u.c_out_alloc);
      dgamma = u.bn_sink.data();
      dbeta = dgamma + u.c_out_alloc;
    }
    nn::batch_norm_act_backward(act, u.y, bn.gamma.data(), bn.beta.data(), bn.save_mean.data(),
                                bn.save_inv_std.data(), *g, dgamma, dbeta, dclip);
  } else {
    double dmix[2];
    u.mixer.backward(act, u.y, u.candidates(weight_grads), *g, d_y, dmix, dclip);
    // A shortcut shares its block's draw: both layers add to the width index's gradient.
    std::array<double, 2>& mg = mix_grads[static_cast<std::size_t>(u.out_index - 1)];
    mg[0] += dmix[0];
    mg[1] += dmix[1];
    dy = &d_y;
  }
  // Through the conv / FC. The architecture step needs only dx (no weight gradient), and the
  // stem's step nothing at all.
  if (!weight_grads && !dx) return;
  const bool wq = weight_quantized(u);
  const int ld = u.c_in_alloc * u.kk;
  const int cols = u.c_x * u.kk;
  const float* w = wq ? u.wq.data() : u.weight.data();
  const int weight_ld = wq ? cols : ld;
  float* dw = nullptr;
  if (weight_grads) {
    if (wq) {
      u.dwq.resize(u.c_max, cols);
      u.dwq.set_zero();
      dw = u.dwq.data();
    } else {
      dw = u.dweight.data();  // accumulated in place, on the active block of the allocation
    }
  }
  const bool in_pooled = u.in_pool.kind == models::PoolKind::kAvg;
  nn::Tensor* conv_dx = dx ? (in_pooled ? &d_in : dx) : nullptr;
  const bool conv_accumulate = accumulate && !in_pooled;
  if (u.is_fc) {
    if (conv_accumulate) throw std::logic_error("supernet: the FC's dx is never accumulated");
    float* dbias = u.bias.size() ? (weight_grads ? u.dbias.data() : nullptr) : nullptr;
    if (u.bias.size() && !weight_grads) {
      u.bn_sink.resize(1, u.c_max);
      dbias = u.bn_sink.data();
    }
    nn::linear_backward(nn::LinearParams{u.c_x, u.c_max, weight_ld}, *u.input, w, *dy, dw, dbias,
                        conv_dx);
  } else {
    nn::ConvParams p;
    p.c_in = u.c_x;
    p.c_out = u.c_max;
    p.k = u.desc.k;
    p.stride = u.desc.stride;
    p.pad = u.desc.pad;
    p.weight_ld = weight_ld;
    nn::conv2d_backward(p, *u.input, w, *dy, dw, conv_dx, conv_accumulate, u.ws);
  }
  if (weight_grads && wq) {
    // Straight-through into the float weights, then added into the allocation.
    u.dwpack.resize_like(u.dwq);
    u.dwpack.set_zero();
    nn::quantize_weights_backward(options.quantizer, options.weight_bits, u.wpack.data(),
                                  u.wpack.size(), u.quant_aux, u.step.size() ? u.step[0] : 0.0f,
                                  u.dwq.data(), u.dwpack.data(),
                                  u.dstep.size() ? u.dstep.data() : nullptr);
    for (int o = 0; o < u.c_max; ++o) {
      float* dst = u.dweight.data() + static_cast<std::size_t>(o) * ld;
      const float* src = u.dwpack.data() + static_cast<std::size_t>(o) * cols;
      for (int j = 0; j < cols; ++j) dst[j] += src[j];
    }
  }
  if (!dx || !in_pooled) return;
  // The pool's input only gives the shape (its values are not read).
  if (!accumulate) {
    nn::avg_pool_backward(pool_params(u.in_pool), *u.source, d_in, *dx);
    return;
  }
  nn::avg_pool_backward(pool_params(u.in_pool), *u.source, d_in, d_pooled_in);
  assert(dx->same_shape(d_pooled_in));
  dx->array() += d_pooled_in.array();
}

const nn::Tensor& Supernet::forward(const nn::Tensor& images, nn::Mode mode) {
  Impl& m = *impl_;
  m.reserve(images.n());
  const nn::Tensor* x = &images;
  if (m.base.family == models::Family::kCifarResNet) {
    x = &m.unit_forward(m.units[0], *x, mode);  // stem
    for (auto& b : m.blocks) {
      const nn::Tensor& block_in = *x;
      const nn::Tensor& a =
          m.unit_forward(m.units[static_cast<std::size_t>(b.conv_a)], block_in, mode);
      const nn::Tensor& bo = m.unit_forward(m.units[static_cast<std::size_t>(b.conv_b)], a, mode);
      const nn::Tensor& s =
          b.shortcut >= 0
              ? m.unit_forward(m.units[static_cast<std::size_t>(b.shortcut)], block_in, mode)
              : block_in;
      nn::residual_add_act_forward(m.act_params(b.act, b.clip), bo, s, b.out);
      x = &b.out;
    }
  } else {
    for (std::size_t ui = 0; ui < m.units.size() && !m.units[ui].is_fc; ++ui) {
      x = &m.unit_forward(m.units[ui], *x, mode);
    }
  }
  m.features = x;
  nn::global_avg_pool_forward(*x, m.pooled);
  return m.unit_forward(m.units[static_cast<std::size_t>(m.fc)], m.pooled, mode);
}

void Supernet::backward(const nn::Tensor& grad_logits, bool weight_grads) {
  Impl& m = *impl_;
  for (auto& g : m.mix_grads) g = {0.0, 0.0};
  m.d_logits.resize_like(grad_logits);
  std::copy_n(grad_logits.data(), grad_logits.size(), m.d_logits.data());
  m.unit_backward(m.units[static_cast<std::size_t>(m.fc)], m.d_logits, weight_grads, &m.d_pooled,
                  false);
  nn::global_avg_pool_backward(m.d_pooled, m.features->h(), m.features->w(), m.d_features);
  nn::Tensor* d = &m.d_features;
  if (m.base.family == models::Family::kCifarResNet) {
    for (int bi = static_cast<int>(m.blocks.size()) - 1; bi >= 0; --bi) {
      auto& b = m.blocks[static_cast<std::size_t>(bi)];
      nn::Tensor& d_x = m.grad_x[bi % 2];  // d is the other one (or d_features)
      Unit& ua = m.units[static_cast<std::size_t>(b.conv_a)];
      Unit& ub = m.units[static_cast<std::size_t>(b.conv_b)];
      Unit* us = b.shortcut >= 0 ? &m.units[static_cast<std::size_t>(b.shortcut)] : nullptr;
      const nn::Tensor& block_in = *ua.input;
      const nn::Tensor& s = us ? us->output() : block_in;
      // d: dL/d(block output) -> dL/d(sum), in place.
      nn::residual_add_act_backward(
          m.act_params(b.act, b.clip), ub.output(), s, *d,
          b.act == Act::kPact ? (weight_grads ? b.dclip.data() : &b.clip_sink) : nullptr);
      const int c_b = ub.output().c();
      // The shortcut's part first (it reads d before conv_b's backward consumes it).
      if (us) {
        nn::residual_add_backward(*d, us->output().c(), m.grad_s);
        m.unit_backward(*us, m.grad_s, weight_grads, &d_x, false);
      } else {
        nn::residual_add_backward(*d, block_in.c(), d_x);
      }
      nn::Tensor* d_b = d;
      if (c_b != d->c()) {
        nn::residual_add_backward(*d, c_b, m.grad_b);
        d_b = &m.grad_b;
      }
      m.unit_backward(ub, *d_b, weight_grads, &m.grad_a, false);
      m.unit_backward(ua, m.grad_a, weight_grads, &d_x, true);
      d = &d_x;
    }
    m.unit_backward(m.units[0], *d, weight_grads, nullptr, false);
  } else {
    for (int ui = m.fc - 1; ui >= 0; --ui) {
      nn::Tensor* next = ui > 0 ? &m.grad_x[ui % 2] : nullptr;
      m.unit_backward(m.units[static_cast<std::size_t>(ui)], *d, weight_grads, next, false);
      if (next) d = next;
    }
  }
}

const std::vector<std::array<double, 2>>& Supernet::mixing_grads() const {
  return impl_->mix_grads;
}

std::vector<std::vector<double>> Supernet::alpha_grads() const {
  const Impl& m = *impl_;
  std::vector<std::vector<double>> grads(m.arch->num_layers());
  for (int w = 1; w <= m.arch->num_layers(); ++w) {
    grads[w - 1].assign(m.arch->layer(w).candidates.size(), 0.0);
    const double g[2] = {m.mix_grads[w - 1][0], m.mix_grads[w - 1][1]};
    gumbel_backward(m.draws[w - 1], g, grads[w - 1]);
  }
  return grads;
}

void Supernet::zero_grad() {
  for (nn::Parameter& p : parameters()) p.grad->set_zero();
}

std::vector<nn::Parameter> Supernet::parameters() {
  Impl& m = *impl_;
  std::vector<nn::Parameter> params;
  for (auto& u : m.units) {
    params.push_back({u.name + ".weight", &u.weight, &u.dweight, true, 0.0f});
    if (u.bias.size()) params.push_back({u.name + ".bias", &u.bias, &u.dbias, true, 0.0f});
    for (size_t s = 0; s < u.bns.size(); ++s) {
      const std::string prefix = u.name + ".bn" + std::to_string(s);
      params.push_back({prefix + ".gamma", &u.bns[s].gamma, &u.bns[s].dgamma, false, 0.0f});
      params.push_back({prefix + ".beta", &u.bns[s].beta, &u.bns[s].dbeta, false, 0.0f});
    }
    if (u.clip.size()) {
      params.push_back({u.name + ".act_clip", &u.clip, &u.dclip, false, m.options.pact_clip_l2});
    }
    if (u.step.size()) {
      params.push_back({u.name + ".weight_step", &u.step, &u.dstep, false, 0.0f});
    }
  }
  for (auto& b : m.blocks) {
    if (b.clip.size()) {
      params.push_back({b.name + ".out_clip", &b.clip, &b.dclip, false, m.options.pact_clip_l2});
    }
  }
  return params;
}

std::vector<nn::NamedTensor> Supernet::state() {
  std::vector<nn::NamedTensor> out;
  for (nn::Parameter& p : parameters()) out.push_back({p.name, p.value});
  for (auto& u : impl_->units) {
    for (size_t s = 0; s < u.bns.size(); ++s) {
      const std::string prefix = u.name + ".bn" + std::to_string(s);
      out.push_back({prefix + ".running_mean", &u.bns[s].running_mean});
      out.push_back({prefix + ".running_var", &u.bns[s].running_var});
    }
  }
  return out;
}

void Supernet::on_expanded(int width_index, int old_max_width, std::mt19937_64& rng,
                           nn::OptimizerState* optimizer_state) {
  Impl& m = *impl_;
  const LayerChoice& choice = m.arch->layer(width_index);
  const int new_max = choice.candidates.back();
  const int slot = static_cast<int>(choice.candidates.size()) - 1;
  if (new_max > m.alloc[width_index] || slot >= m.options.max_candidates) {
    throw std::logic_error("expansion of width index " + std::to_string(width_index) +
                           " exceeds the supernet's allocation");
  }
  auto zero_momentum = [&](const std::string& param, int rows, int ld, int row_begin, int row_end,
                           int col_begin, int col_end) {
    if (!optimizer_state) return;
    for (auto& buf : optimizer_state->buffers) {
      if (buf.name.rfind(param + ".", 0) != 0) continue;
      for (int o = row_begin; o < row_end && o < rows; ++o) {
        for (int j = col_begin; j < col_end; ++j) {
          buf.values[static_cast<std::size_t>(o) * ld + j] = 0.0f;
        }
      }
    }
  };
  for (auto& u : m.units) {
    const int ld = u.c_in_alloc * u.kk;
    if (u.out_index == width_index && old_max_width < new_max) {
      m.reinit_rows(u, old_max_width, new_max, rng);
      zero_momentum(u.name + ".weight", u.c_out_alloc, ld, old_max_width, new_max, 0, ld);
    }
    if (u.in_index == width_index && old_max_width < new_max) {
      m.reinit_cols(u, old_max_width, new_max, rng);
      zero_momentum(u.name + ".weight", u.c_out_alloc, ld, 0, u.c_out_alloc, old_max_width * u.kk,
                    new_max * u.kk);
    }
    if (u.out_index == width_index && !u.bns.empty()) {
      u.bns[slot].init(u.c_out_alloc);
      const std::string bn = u.name + ".bn" + std::to_string(slot);
      zero_momentum(bn + ".gamma", 1, u.c_out_alloc, 0, 1, 0, u.c_out_alloc);
      zero_momentum(bn + ".beta", 1, u.c_out_alloc, 0, 1, 0, u.c_out_alloc);
    }
  }
}

}  // namespace nce::search
