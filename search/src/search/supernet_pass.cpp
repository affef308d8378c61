// The supernet's forward and backward passes (Supernet::forward/backward and the per-unit
// steps); the state they run on is supernet_impl.h's.
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

// The conv of unit `u` as it runs: c_x input channels read, c_max outputs, its weights `weight_ld`
// floats a row.
nn::ConvParams conv_params(const Unit& u, int weight_ld) {
  nn::ConvParams p;
  p.c_in = u.c_x;
  p.c_out = u.c_max;
  p.k = u.desc.k;
  p.stride = u.desc.stride;
  p.pad = u.desc.pad;
  p.weight_ld = weight_ld;
  return p;
}

}  // namespace

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
    nn::conv2d_forward(conv_params(u, weight_ld), *in, w, u.y, u.ws);
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
    nn::conv2d_backward(conv_params(u, weight_ld), *u.input, w, *dy, dw, conv_dx, conv_accumulate,
                        u.ws);
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

}  // namespace nce::search
