#include "nce/search/supernet.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>
#include <string>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/conv.h"
#include "nce/nn/linear.h"
#include "nce/nn/pooling.h"
#include "nce/nn/residual.h"
#include "nce/search/cwi.h"

namespace nce::search {

namespace {

enum class Act { kNone, kRelu, kPact };

struct BnSlot {
  nn::Tensor gamma, beta, dgamma, dbeta, running_mean, running_var, save_mean, save_inv_std;
  void init(int c) {
    for (nn::Tensor* t :
         {&gamma, &beta, &dgamma, &dbeta, &running_mean, &running_var, &save_mean, &save_inv_std}) {
      t->resize(1, c);
    }
    gamma.fill(1.0f);
    beta.set_zero();
    dgamma.set_zero();
    dbeta.set_zero();
    running_mean.set_zero();
    running_var.fill(1.0f);
  }
};

// Copies channels [0, c) of every image of x into out (N x c x H x W).
void slice_channels(const nn::Tensor& x, int c, nn::Tensor& out) {
  out.resize(x.n(), c, x.h(), x.w());
  const std::size_t plane = x.plane();
  for (int b = 0; b < x.n(); ++b) {
    std::copy_n(x.data() + static_cast<std::size_t>(b) * x.c() * plane, c * plane,
                out.data() + static_cast<std::size_t>(b) * c * plane);
  }
}

// dx[:, :c] += d (d is N x c x H x W).
void add_into_prefix(const nn::Tensor& d, nn::Tensor& dx) {
  const std::size_t plane = d.plane();
  const std::size_t n = static_cast<std::size_t>(d.c()) * plane;
  for (int b = 0; b < d.n(); ++b) {
    const float* src = d.data() + b * n;
    float* dst = dx.data() + static_cast<std::size_t>(b) * dx.c() * plane;
    for (std::size_t i = 0; i < n; ++i) dst[i] += src[i];
  }
}

double dot(const nn::Tensor& a, const nn::Tensor& b) {
  assert(a.size() == b.size());
  return (a.array().cast<double>() * b.array().cast<double>()).sum();
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
  std::vector<BnSlot> bns;

  // Forward caches.
  const nn::Tensor* input = nullptr;  // what the conv saw (after in_pool)
  nn::Tensor pooled_in;
  nn::Tensor pool_src_shape;  // shape of the avg pool's input, for its backward
  nn::Tensor wq, wpack, dwq, dwpack;
  float quant_aux = 0;  // SAWB clip / DoReFa max|tanh|
  nn::Tensor y;         // conv output, c_max channels
  int c_x = 0, c_max = 0;
  int n_drawn = 1;
  int cand[2] = {0, 0};  // candidate slot indices
  int width[2] = {0, 0};
  double mix[2] = {1, 0};
  nn::Tensor slice[2], bn_out[2], cwi_out[2];
  nn::Tensor mixed, activated, out;
  std::vector<std::int32_t> pool_argmax;
  nn::ConvWorkspace ws;
  // Backward scratch.
  nn::Tensor d_act, d_mixed, d_part, d_bn, d_slice, d_y, d_in, d_pooled_in;
  nn::Tensor bn_grad_sink;  // dgamma/dbeta of an architecture step (discarded)

  const nn::Tensor& output() const {
    return out_pool.kind != models::PoolKind::kNone ? out : (act != Act::kNone ? activated : mixed);
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
    nn::Tensor sum, out;  // residual sum, activated output
    nn::Tensor d_sum, d_b, d_s, d_x;
    std::string name;
  };
  std::vector<BlockUnits> blocks;
  int fc = -1;
  std::vector<GumbelDraw> draws;
  std::vector<std::array<double, 2>> mix_grads;
  nn::Tensor pooled, d_pooled, d_features, d_images;
  const nn::Tensor* features = nullptr;

  bool weight_quantized(const Unit& u) const { return u.quantized && options.weight_bits < 32; }

  void build_units(std::mt19937_64& rng);
  void init_weights(Unit& u, std::mt19937_64& rng);
  void reinit_rows(Unit& u, int row_begin, int row_end, std::mt19937_64& rng);
  void reinit_cols(Unit& u, int col_begin, int col_end, std::mt19937_64& rng);
  const nn::Tensor& unit_forward(Unit& u, const nn::Tensor& x, nn::Mode mode);
  // Returns dL/dx of the unit's input (before in_pool), or nullptr when need_dx is false.
  nn::Tensor* unit_backward(Unit& u, const nn::Tensor& d_out, bool weight_grads, bool need_dx);
};

namespace {

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
    const float bound = 1.0f / std::sqrt(static_cast<float>(u.desc.c_in));
    std::uniform_real_distribution<float> uni(-bound, bound);
    for (std::size_t i = 0; i < u.weight.size(); ++i) u.weight[i] = uni(rng);
    for (std::size_t i = 0; i < u.bias.size(); ++i) u.bias[i] = uni(rng);
    return;
  }
  reinit_rows(u, 0, u.c_out_alloc, rng);
}

void Supernet::Impl::reinit_rows(Unit& u, int row_begin, int row_end, std::mt19937_64& rng) {
  // Kaiming normal with the base layer's fan-in: N(0, 2 / (c_in * k * k)).
  const float stdev = std::sqrt(2.0f / static_cast<float>(u.desc.c_in * u.kk));
  std::normal_distribution<float> normal(0.0f, stdev);
  const int ld = u.c_in_alloc * u.kk;
  for (int o = row_begin; o < row_end; ++o) {
    for (int j = 0; j < ld; ++j) u.weight[static_cast<std::size_t>(o) * ld + j] = normal(rng);
  }
}

void Supernet::Impl::reinit_cols(Unit& u, int col_begin, int col_end, std::mt19937_64& rng) {
  const int ld = u.c_in_alloc * u.kk;
  if (u.is_fc) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(u.desc.c_in));
    std::uniform_real_distribution<float> uni(-bound, bound);
    for (int o = 0; o < u.c_out_alloc; ++o) {
      for (int c = col_begin; c < col_end; ++c)
        u.weight[static_cast<std::size_t>(o) * ld + c] = uni(rng);
    }
    return;
  }
  const float stdev = std::sqrt(2.0f / static_cast<float>(u.desc.c_in * u.kk));
  std::normal_distribution<float> normal(0.0f, stdev);
  for (int o = 0; o < u.c_out_alloc; ++o) {
    for (int j = col_begin * u.kk; j < col_end * u.kk; ++j) {
      u.weight[static_cast<std::size_t>(o) * ld + j] = normal(rng);
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

const nn::Tensor& Supernet::Impl::unit_forward(Unit& u, const nn::Tensor& x, nn::Mode mode) {
  const nn::Tensor* in = &x;
  if (u.in_pool.kind == models::PoolKind::kAvg) {
    nn::avg_pool_forward(nn::PoolParams{u.in_pool.k, u.in_pool.stride, u.in_pool.pad}, x,
                         u.pooled_in);
    in = &u.pooled_in;
  }
  u.input = in;
  u.c_x = in->c();
  if (u.c_x > u.c_in_alloc) {
    throw std::logic_error("supernet layer '" + u.name + "' gets " + std::to_string(u.c_x) +
                           " channels, more than its allocation " + std::to_string(u.c_in_alloc));
  }
  // Which candidates this step uses.
  if (u.out_index >= 0) {
    const GumbelDraw& d = draws[u.out_index - 1];
    const std::vector<int>& cands = arch->layer(u.out_index).candidates;
    u.n_drawn = d.index[0] == d.index[1] ? 1 : 2;
    for (int j = 0; j < 2; ++j) {
      u.cand[j] = d.index[j];
      u.width[j] = cands[d.index[j]];
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
  // Active weights: filters [0, c_max), input columns [0, c_x * k * k), packed contiguously.
  const int ld = u.c_in_alloc * u.kk;
  const int cols = u.c_x * u.kk;
  u.wpack.resize(u.c_max, cols);
  for (int o = 0; o < u.c_max; ++o) {
    std::copy_n(u.weight.data() + static_cast<std::size_t>(o) * ld, cols,
                u.wpack.data() + static_cast<std::size_t>(o) * cols);
  }
  const float* w = u.wpack.data();
  if (weight_quantized(u)) {
    u.wq.resize(u.c_max, cols);
    switch (options.quantizer) {
      case nn::QuantizerKind::kSawb:
        u.quant_aux =
            nn::sawb_quantize(u.wpack.data(), u.wpack.size(), options.weight_bits, u.wq.data());
        break;
      case nn::QuantizerKind::kDorefa:
        u.quant_aux =
            nn::dorefa_quantize(u.wpack.data(), u.wpack.size(), options.weight_bits, u.wq.data());
        break;
      case nn::QuantizerKind::kLsq:
        nn::lsq_quantize(u.wpack.data(), u.wpack.size(), options.weight_bits, u.step[0],
                         u.wq.data());
        break;
    }
    w = u.wq.data();
  }
  if (u.is_fc) {
    nn::linear_forward(nn::LinearParams{u.c_x, u.c_max, 0}, *in, w,
                       u.bias.size() ? u.bias.data() : nullptr, u.y);
  } else {
    nn::ConvParams p;
    p.c_in = u.c_x;
    p.c_out = u.c_max;
    p.k = u.desc.k;
    p.stride = u.desc.stride;
    p.pad = u.desc.pad;
    nn::conv2d_forward(p, *in, w, u.y, u.ws);
  }
  // BN per drawn candidate, CWI to c_max, mix.
  const nn::BatchNormParams bnp{options.bn_momentum, options.bn_eps};
  auto bn_apply = [&](BnSlot& bn, const nn::Tensor& src, nn::Tensor& dst) {
    if (mode == nn::Mode::kTrain) {
      nn::batch_norm_forward_train(bnp, src, bn.gamma.data(), bn.beta.data(),
                                   bn.running_mean.data(), bn.running_var.data(),
                                   bn.save_mean.data(), bn.save_inv_std.data(), dst);
    } else {
      nn::batch_norm_forward_eval(bnp, src, bn.gamma.data(), bn.beta.data(), bn.running_mean.data(),
                                  bn.running_var.data(), dst);
    }
  };
  if (u.n_drawn == 1) {
    if (!u.bns.empty()) {
      bn_apply(u.bns[u.cand[0]], u.y, u.mixed);
    } else {
      u.mixed.resize_like(u.y);
      u.mixed.array() = u.y.array();
    }
  } else {
    for (int j = 0; j < 2; ++j) {
      slice_channels(u.y, u.width[j], u.slice[j]);
      if (!u.bns.empty()) {
        bn_apply(u.bns[u.cand[j]], u.slice[j], u.bn_out[j]);
      } else {
        u.bn_out[j].resize_like(u.slice[j]);
        u.bn_out[j].array() = u.slice[j].array();
      }
      cwi_forward(u.bn_out[j], u.c_max, u.cwi_out[j]);
    }
    u.mixed.resize_like(u.y);
    u.mixed.array() = static_cast<float>(u.mix[0]) * u.cwi_out[0].array() +
                      static_cast<float>(u.mix[1]) * u.cwi_out[1].array();
  }
  if (u.act == Act::kRelu) {
    nn::relu_forward(u.mixed, u.activated);
  } else if (u.act == Act::kPact) {
    nn::pact_forward(u.mixed, u.clip[0], options.activation_bits, u.activated);
  }
  if (u.out_pool.kind == models::PoolKind::kMax) {
    nn::max_pool_forward(nn::PoolParams{u.out_pool.k, u.out_pool.stride, u.out_pool.pad},
                         u.act != Act::kNone ? u.activated : u.mixed, u.out, u.pool_argmax);
  }
  return u.output();
}

nn::Tensor* Supernet::Impl::unit_backward(Unit& u, const nn::Tensor& d_out, bool weight_grads,
                                          bool need_dx) {
  const nn::Tensor* d = &d_out;
  const nn::Tensor& act_out = u.act != Act::kNone ? u.activated : u.mixed;
  if (u.out_pool.kind == models::PoolKind::kMax) {
    nn::max_pool_backward(nn::PoolParams{u.out_pool.k, u.out_pool.stride, u.out_pool.pad}, act_out,
                          *d, u.pool_argmax, u.d_act);
    d = &u.d_act;
  }
  if (u.act == Act::kRelu) {
    nn::relu_backward(u.mixed, *d, u.d_mixed);
    d = &u.d_mixed;
  } else if (u.act == Act::kPact) {
    float dclip = 0;
    nn::pact_backward(u.mixed, u.clip[0], *d, u.d_mixed, &dclip);
    if (weight_grads) u.dclip[0] += dclip;
    d = &u.d_mixed;
  }
  // Through the mix and the BNs into d_y (c_max channels). The architecture step (no weight
  // gradients) sends BN's dgamma/dbeta to a scratch pair sized once per unit.
  auto bn_backward = [&](BnSlot& bn, const nn::Tensor& x, const nn::Tensor& dy, nn::Tensor& dx) {
    float* dgamma = bn.dgamma.data();
    float* dbeta = bn.dbeta.data();
    if (!weight_grads) {
      u.bn_grad_sink.resize(2, u.c_out_alloc);
      dgamma = u.bn_grad_sink.data();
      dbeta = dgamma + u.c_out_alloc;
    }
    nn::batch_norm_backward(x, dy, bn.gamma.data(), bn.save_mean.data(), bn.save_inv_std.data(), dx,
                            dgamma, dbeta);
  };
  u.d_y.resize_like(u.y);
  if (u.n_drawn == 1) {
    if (!u.bns.empty()) {
      bn_backward(u.bns[u.cand[0]], u.y, *d, u.d_y);
    } else {
      u.d_y.array() = d->array();
    }
    if (u.out_index >= 0) {
      // A single candidate has weight 1; its gradient is <d, out>, recorded for completeness.
      mix_grads[u.out_index - 1][0] += dot(*d, u.mixed);
    }
  } else {
    u.d_y.set_zero();
    for (int j = 0; j < 2; ++j) {
      mix_grads[u.out_index - 1][j] += dot(*d, u.cwi_out[j]);
      u.d_part.resize_like(*d);
      u.d_part.array() = static_cast<float>(u.mix[j]) * d->array();
      u.d_bn.resize_like(u.bn_out[j]);
      u.d_bn.set_zero();
      cwi_backward(u.d_part, u.d_bn);
      if (!u.bns.empty()) {
        bn_backward(u.bns[u.cand[j]], u.slice[j], u.d_bn, u.d_slice);
        add_into_prefix(u.d_slice, u.d_y);
      } else {
        add_into_prefix(u.d_bn, u.d_y);
      }
    }
  }
  // Through the conv / FC. The architecture step needs only dx (no weight gradient), and the
  // stem's step nothing at all.
  if (!weight_grads && !need_dx) return nullptr;
  const float* w = weight_quantized(u) ? u.wq.data() : u.wpack.data();
  u.dwq.resize(u.c_max, u.c_x * u.kk);
  u.dwq.set_zero();
  nn::Tensor* dx = need_dx ? &u.d_in : nullptr;
  if (u.is_fc) {
    nn::Tensor dbias_scratch(1, u.c_max);
    dbias_scratch.set_zero();
    nn::linear_backward(
        nn::LinearParams{u.c_x, u.c_max, 0}, *u.input, w, u.d_y, u.dwq.data(),
        u.bias.size() ? (weight_grads ? u.dbias.data() : dbias_scratch.data()) : nullptr, dx);
  } else {
    nn::ConvParams p;
    p.c_in = u.c_x;
    p.c_out = u.c_max;
    p.k = u.desc.k;
    p.stride = u.desc.stride;
    p.pad = u.desc.pad;
    nn::conv2d_backward(p, *u.input, w, u.d_y, weight_grads ? u.dwq.data() : nullptr, dx, false,
                        u.ws);
  }
  if (weight_grads) {
    // Straight-through into the float weights, then scattered into the allocation.
    const float* g = u.dwq.data();
    if (weight_quantized(u)) {
      u.dwpack.resize_like(u.dwq);
      u.dwpack.set_zero();
      switch (options.quantizer) {
        case nn::QuantizerKind::kSawb:
          nn::sawb_backward(u.wpack.data(), u.wpack.size(), options.weight_bits, u.quant_aux,
                            u.dwq.data(), u.dwpack.data());
          break;
        case nn::QuantizerKind::kDorefa:
          nn::dorefa_backward(u.wpack.data(), u.wpack.size(), options.weight_bits, u.quant_aux,
                              u.dwq.data(), u.dwpack.data());
          break;
        case nn::QuantizerKind::kLsq:
          nn::lsq_backward(u.wpack.data(), u.wpack.size(), options.weight_bits, u.step[0],
                           u.dwq.data(), u.dwpack.data(), u.dstep.data());
          break;
      }
      g = u.dwpack.data();
    }
    const int ld = u.c_in_alloc * u.kk;
    const int cols = u.c_x * u.kk;
    for (int o = 0; o < u.c_max; ++o) {
      float* dst = u.dweight.data() + static_cast<std::size_t>(o) * ld;
      const float* src = g + static_cast<std::size_t>(o) * cols;
      for (int j = 0; j < cols; ++j) dst[j] += src[j];
    }
  }
  if (!need_dx) return nullptr;
  if (u.in_pool.kind == models::PoolKind::kAvg) {
    // The pool's input only gives the shape (its values are not read): a persistent tensor of
    // that shape, so no step allocates and zeroes a full-resolution buffer.
    u.pool_src_shape.resize(u.d_in.n(), u.d_in.c(), u.desc.h_src(), u.desc.w_src());
    nn::avg_pool_backward(nn::PoolParams{u.in_pool.k, u.in_pool.stride, u.in_pool.pad},
                          u.pool_src_shape, u.d_in, u.d_pooled_in);
    return &u.d_pooled_in;
  }
  return &u.d_in;
}

const nn::Tensor& Supernet::forward(const nn::Tensor& images, nn::Mode mode) {
  Impl& m = *impl_;
  const nn::Tensor* x = &images;
  size_t next_unit = 0;
  if (m.base.family == models::Family::kCifarResNet) {
    x = &m.unit_forward(m.units[0], *x, mode);  // stem
    for (auto& b : m.blocks) {
      const nn::Tensor& block_in = *x;
      const nn::Tensor& a = m.unit_forward(m.units[b.conv_a], block_in, mode);
      const nn::Tensor& bo = m.unit_forward(m.units[b.conv_b], a, mode);
      const nn::Tensor& s =
          b.shortcut >= 0 ? m.unit_forward(m.units[b.shortcut], block_in, mode) : block_in;
      nn::residual_add(bo, s, b.sum);
      if (b.act == Act::kPact) {
        nn::pact_forward(b.sum, b.clip[0], m.options.activation_bits, b.out);
      } else {
        nn::relu_forward(b.sum, b.out);
      }
      x = &b.out;
    }
  } else {
    for (; next_unit < m.units.size() && !m.units[next_unit].is_fc; ++next_unit) {
      x = &m.unit_forward(m.units[next_unit], *x, mode);
    }
  }
  m.features = x;
  nn::global_avg_pool_forward(*x, m.pooled);
  return m.unit_forward(m.units[m.fc], m.pooled, mode);
}

void Supernet::backward(const nn::Tensor& grad_logits, bool weight_grads) {
  Impl& m = *impl_;
  for (auto& g : m.mix_grads) g = {0.0, 0.0};
  nn::Tensor* d = m.unit_backward(m.units[m.fc], grad_logits, weight_grads, true);
  nn::global_avg_pool_backward(*d, m.features->h(), m.features->w(), m.d_features);
  d = &m.d_features;
  if (m.base.family == models::Family::kCifarResNet) {
    for (int bi = static_cast<int>(m.blocks.size()) - 1; bi >= 0; --bi) {
      auto& b = m.blocks[bi];
      if (b.act == Act::kPact) {
        float dclip = 0;
        nn::pact_backward(b.sum, b.clip[0], *d, b.d_sum, &dclip);
        if (weight_grads) b.dclip[0] += dclip;
      } else {
        nn::relu_backward(b.sum, *d, b.d_sum);
      }
      Unit& ua = m.units[b.conv_a];
      Unit& ub = m.units[b.conv_b];
      const int c_b = ub.output().c();
      nn::residual_add_backward(b.d_sum, c_b, b.d_b);
      const int c_in = ua.input->c();  // the block input's width
      nn::residual_add_backward(b.d_sum, b.shortcut >= 0 ? m.units[b.shortcut].output().c() : c_in,
                                b.d_s);
      nn::Tensor* d_a = m.unit_backward(ub, b.d_b, weight_grads, true);
      nn::Tensor* d_x = m.unit_backward(ua, *d_a, weight_grads, true);
      b.d_x.resize_like(*d_x);
      b.d_x.array() = d_x->array();
      if (b.shortcut >= 0) {
        nn::Tensor* d_sc = m.unit_backward(m.units[b.shortcut], b.d_s, weight_grads, true);
        b.d_x.array() += d_sc->array();
      } else {
        b.d_x.array() += b.d_s.array();
      }
      d = &b.d_x;
    }
    m.unit_backward(m.units[0], *d, weight_grads, false);
  } else {
    for (int ui = m.fc - 1; ui >= 0; --ui) {
      nn::Tensor* next = m.unit_backward(m.units[ui], *d, weight_grads, ui > 0);
      if (ui > 0) d = next;
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
