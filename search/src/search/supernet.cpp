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
#include "supernet_impl.h"

namespace nce::search {

using detail::Act;
using detail::pool_params;
using detail::Unit;

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

void Supernet::zero_unused(std::vector<nn::StateBuffer>& buffers) const {
  const Impl& m = *impl_;
  auto starts = [](const std::string& name, const std::string& prefix) {
    return name.compare(0, prefix.size(), prefix) == 0;
  };
  for (const Unit& u : m.units) {
    const int ld = u.c_in_alloc * u.kk;
    const int rows =
        u.out_index >= 1 ? m.arch->layer(u.out_index).candidates.back() : u.c_out_alloc;
    const int cols =
        (u.in_index >= 1 ? m.arch->layer(u.in_index).candidates.back() : u.c_in_alloc) *
        (u.is_fc ? 1 : u.kk);
    const int slots =
        u.out_index >= 1 ? static_cast<int>(m.arch->layer(u.out_index).candidates.size()) : 0;
    const std::string weight = u.name + ".weight";
    for (nn::StateBuffer& b : buffers) {
      if ((b.name == weight || starts(b.name, weight + ".")) &&
          b.values.size() == static_cast<std::size_t>(u.c_out_alloc) * ld) {
        for (int o = 0; o < u.c_out_alloc; ++o) {
          float* row = b.values.data() + static_cast<std::size_t>(o) * ld;
          std::fill(row + (o < rows ? cols : 0), row + ld, 0.0f);
        }
        continue;
      }
      for (std::size_t s = static_cast<std::size_t>(slots); s < u.bns.size(); ++s) {
        if (starts(b.name, u.name + ".bn" + std::to_string(s) + ".")) {
          std::fill(b.values.begin(), b.values.end(), 0.0f);
        }
      }
    }
  }
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
