#include "nce/nn/network.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "nce/nn/activation.h"
#include "nce/nn/batch_norm.h"
#include "nce/nn/conv.h"
#include "nce/nn/linear.h"
#include "nce/nn/pooling.h"
#include "nce/nn/random.h"
#include "nce/nn/residual.h"
#include "full8.h"
#include "network_impl.h"

namespace nce::nn {

void validate(const NetworkOptions& o) {
  if (!is_supported_bits(o.weight_bits))
    throw std::invalid_argument("network options: weight_bits = " + std::to_string(o.weight_bits) +
                                " is not one of 2, 3, 4, 8, 32");
  if (!is_supported_bits(o.activation_bits))
    throw std::invalid_argument(
        "network options: activation_bits = " + std::to_string(o.activation_bits) +
        " is not one of 2, 3, 4, 8, 32");
  if (!(o.pact_init_clip > 0.0f))
    throw std::invalid_argument(
        "network options: pact_init_clip = " + std::to_string(o.pact_init_clip) + " must be > 0");
  if (!(o.bn_momentum > 0.0f && o.bn_momentum <= 1.0f))
    throw std::invalid_argument("network options: bn_momentum = " + std::to_string(o.bn_momentum) +
                                " must be in (0, 1]");
  if (!(o.bn_eps > 0.0f))
    throw std::invalid_argument("network options: bn_eps = " + std::to_string(o.bn_eps) +
                                " must be > 0");
}

namespace {

// Seeded generator with portable normal and uniform draws (random.h).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  double uniform() { return uniform_open01(gen_); }
  double normal() { return standard_normal(gen_); }

 private:
  std::mt19937_64 gen_;
};

PoolParams pool_params(const models::Pool& p) {
  return PoolParams{p.k, p.stride, p.pad};
}

void add_into(Value& v, Tensor& g) {
  // v.grad (+)= g; g may be consumed.
  if (!v.grad_valid) {
    std::swap(v.grad, g);
    v.grad_valid = true;
  } else {
    v.grad.array() += g.array();
  }
}

void apply_act_forward(const ActParams& act, const Tensor& x, Tensor& y) {
  if (act.kind == Act::kRelu) relu_forward(x, y);
  if (act.kind == Act::kPact) pact_forward(x, act.clip, act.bits, y);
}

void apply_act_backward(const ActParams& act, const Tensor& x, Tensor& g, float* dclip) {
  if (act.kind == Act::kRelu) relu_backward(x, g, g);
  if (act.kind == Act::kPact) pact_backward(x, act.clip, g, g, dclip);
}

}  // namespace

void Network::Impl::forward_conv(ConvNode& nd, Mode mode) {
  const bool train = mode == Mode::kTrain;
  Value& out = values[nd.out];
  const Tensor* x = &values[nd.in].data;
  const models::Pool& ip = nd.layer.in_pool;
  if (ip.kind == models::PoolKind::kAvg) {
    avg_pool_forward(pool_params(ip), *x, nd.pooled_in);
    x = &nd.pooled_in;
  } else if (ip.kind == models::PoolKind::kMax) {
    max_pool_forward(pool_params(ip), *x, nd.pooled_in, nd.argmax);
    x = &nd.pooled_in;
  }
  quantize_weights(nd);
  const float* w = nd.quant_w || nd.full8 ? nd.wq.data() : nd.weight.data();
  const bool has_pool = nd.layer.out_pool.kind != models::PoolKind::kNone;
  const bool has_act = nd.act != Act::kNone;
  Tensor* zt = (nd.bn || has_act || has_pool) ? &nd.z : &out.data;
  conv2d_forward(nd.conv, *x, w, *zt, nd.ws);
  Tensor* cur = zt;
  Tensor* post = has_pool ? &nd.a : &out.data;  // output of BN/activation
  const ActParams act = act_params(nd);
  const BatchNormParams bp{opt.bn_momentum, opt.bn_eps};
  if (nd.bn) {
    if (train) {
      batch_norm_act_forward_train(bp, act, *cur, nd.norm.gamma.data(), nd.norm.beta.data(),
                                   nd.norm.running_mean.data(), nd.norm.running_var.data(),
                                   nd.norm.save_mean.data(), nd.norm.save_inv_std.data(), *post);
    } else {
      batch_norm_act_forward_eval(bp, act, *cur, nd.norm.gamma.data(), nd.norm.beta.data(),
                                  nd.norm.running_mean.data(), nd.norm.running_var.data(), *post);
    }
    cur = post;
  } else if (has_act) {
    apply_act_forward(act, *cur, *post);
    cur = post;
  }
  if (has_pool) {
    const models::Pool& op = nd.layer.out_pool;
    if (op.kind == models::PoolKind::kMax) {
      max_pool_forward(pool_params(op), *cur, out.data, nd.argmax);
    } else {
      avg_pool_forward(pool_params(op), *cur, out.data);
    }
  }
}

void Network::Impl::backward_conv(ConvNode& nd) {
  Value& out = values[nd.out];
  Value& in = values[nd.in];
  if (!out.grad_valid) return;  // nothing flows back (cannot happen in the models we build)
  const bool has_pool = nd.layer.out_pool.kind != models::PoolKind::kNone;
  const bool has_act = nd.act != Act::kNone;
  Tensor* g = &out.grad;
  // The tensors as the forward left them.
  const Tensor* z = (nd.bn || has_act || has_pool) ? &nd.z : &out.data;
  const Tensor* pre_pool = (nd.bn || has_act) ? &nd.a : z;
  if (has_pool) {
    const models::Pool& op = nd.layer.out_pool;
    if (op.kind == models::PoolKind::kMax) {
      max_pool_backward(pool_params(op), *pre_pool, *g, nd.argmax, nd.g1);
    } else {
      avg_pool_backward(pool_params(op), *pre_pool, *g, nd.g1);
    }
    g = &nd.g1;
  }
  const ActParams act = act_params(nd);
  float* dclip = nd.act == Act::kPact ? nd.clip_grad.data() : nullptr;
  if (nd.bn) {
    batch_norm_act_backward(act, *z, nd.norm.gamma.data(), nd.norm.beta.data(),
                            nd.norm.save_mean.data(), nd.norm.save_inv_std.data(), *g,
                            nd.norm.dgamma.data(), nd.norm.dbeta.data(), dclip);
  } else if (has_act) {
    apply_act_backward(act, *z, *g, dclip);
  }
  const bool pooled = nd.layer.in_pool.kind != models::PoolKind::kNone;
  const Tensor& x = pooled ? nd.pooled_in : in.data;
  // full8: the gradient of the 8-bit weights goes straight through to the float ones.
  const float* w = nd.quant_w || nd.full8 ? nd.wq.data() : nd.weight.data();
  float* dw = nd.weight_grad.data();
  if (nd.quant_w) {
    nd.dwq.resize_like(nd.weight);
    nd.dwq.set_zero();
    dw = nd.dwq.data();
  }
  Tensor* dx = nullptr;
  bool accumulate = false;
  if (in.needs_grad) {
    if (pooled) {
      dx = &nd.g2;
    } else {
      dx = &in.grad;
      accumulate = in.grad_valid;
    }
  }
  conv2d_backward(nd.conv, x, w, *g, dw, dx, accumulate, nd.ws);
  if (nd.quant_w) {
    quantize_weights_backward(opt.quantizer, opt.weight_bits, nd.weight.data(), nd.weight.size(),
                              nd.qscale, nd.step.size() ? nd.step[0] : 0.0f, nd.dwq.data(),
                              nd.weight_grad.data(),
                              nd.step_grad.size() ? nd.step_grad.data() : nullptr);
  }
  if (!in.needs_grad) return;
  if (pooled) {
    const models::Pool& ip = nd.layer.in_pool;
    if (ip.kind == models::PoolKind::kAvg) {
      avg_pool_backward(pool_params(ip), in.data, nd.g2, nd.g1);
    } else {
      max_pool_backward(pool_params(ip), in.data, nd.g2, nd.argmax, nd.g1);
    }
    add_into(in, nd.g1);
  } else {
    in.grad_valid = true;
  }
}

void Network::Impl::forward_add(AddNode& nd) {
  Value& out = values[nd.out];
  const Tensor& a = values[nd.main].data;
  const Tensor& b = values[nd.shortcut].data;
  if (a.n() != b.n() || a.h() != b.h() || a.w() != b.w()) {
    std::ostringstream msg;
    msg << "model '" << desc.model << "': block " << nd.name << " adds a " << a.h() << "x" << a.w()
        << " map to a " << b.h() << "x" << b.w() << " shortcut";
    throw std::invalid_argument(msg.str());
  }
  if (nd.act != Act::kNone) {
    residual_add_act_forward(act_params(nd), a, b, out.data);
  } else {
    residual_add(a, b, out.data);
  }
}

void Network::Impl::backward_add(AddNode& nd) {
  Value& out = values[nd.out];
  if (!out.grad_valid) return;
  Tensor& g = out.grad;
  Value& b = values[nd.shortcut];
  Value& a = values[nd.main];
  if (nd.act != Act::kNone) {
    residual_add_act_backward(act_params(nd), a.data, b.data, g,
                              nd.act == Act::kPact ? nd.clip_grad.data() : nullptr);
  }
  if (b.needs_grad) {
    if (b.grad_valid) {
      residual_add_backward(g, b.data.c(), b.grad, true);
    } else {
      residual_add_backward(g, b.data.c(), b.grad, false);
      b.grad_valid = true;
    }
  }
  if (a.needs_grad) {
    if (!a.grad_valid && a.data.c() == g.c()) {
      std::swap(a.grad, g);
      a.grad_valid = true;
      out.grad_valid = false;
    } else if (a.grad_valid) {
      residual_add_backward(g, a.data.c(), a.grad, true);
    } else {
      residual_add_backward(g, a.data.c(), a.grad, false);
      a.grad_valid = true;
    }
  }
}

void Network::Impl::forward_head(HeadNode& nd) {
  const Tensor& x = values[nd.in].data;
  const Tensor* feat = &x;
  nd.pool = x.plane() > 1;
  if (nd.pool) {
    global_avg_pool_forward(x, nd.pooled);
    feat = &nd.pooled;
  }
  const float* w = nd.weight.data();
  if (nd.full8) {
    if (!nd.pool) {
      nd.pooled.resize_like(x);
      std::copy(x.data(), x.data() + x.size(), nd.pooled.data());
      feat = &nd.pooled;
    }
    quantize_head_input(nd.pooled, head_input_unit(nd), x.plane());
    nd.wq.resize_like(nd.weight);
    quantize_full8(nd.weight.data(), nd.layer.c_out, nd.layer.c_in, 1, {}, nd.wq.data());
    w = nd.wq.data();
  }
  LinearParams lp{nd.layer.c_in, nd.layer.c_out, 0};
  linear_forward(lp, *feat, w, nd.bias.data(), values[nd.out].data);
}

void Network::Impl::backward_head(HeadNode& nd) {
  Value& in = values[nd.in];
  const Tensor& g = values[nd.out].grad;
  LinearParams lp{nd.layer.c_in, nd.layer.c_out, 0};
  // full8: straight through the 8-bit input and weights.
  const Tensor& feat = nd.pool || nd.full8 ? nd.pooled : in.data;
  Tensor* dfeat = in.needs_grad ? &nd.g1 : nullptr;
  linear_backward(lp, feat, nd.full8 ? nd.wq.data() : nd.weight.data(), g, nd.weight_grad.data(), nd.bias_grad.data(), dfeat);
  if (!in.needs_grad) return;
  if (nd.pool) {
    global_avg_pool_backward(nd.g1, in.data.h(), in.data.w(), nd.g2);
    add_into(in, nd.g2);
  } else {
    add_into(in, nd.g1);
  }
}

namespace {

std::string block_prefix(const std::string& layer_name) {
  const auto dot = layer_name.rfind('.');
  return dot == std::string::npos ? layer_name : layer_name.substr(0, dot);
}

void kaiming_normal(Tensor& w, int fan_in, Rng& rng) {
  const double std_dev = std::sqrt(2.0 / fan_in);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(rng.normal() * std_dev);
}

void uniform_init(Tensor& w, double bound, Rng& rng) {
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
}

void zeros_like(Tensor& g, const Tensor& v) {
  g.resize_like(v);
  g.set_zero();
}

// A layer's trainable node at its initial values (the FC head: uniform +-1/sqrt(c_in); a conv:
// Kaiming-normal weights, LSQ's initial step, BN at identity, PACT at its initial clip).
HeadNode make_head(const models::Layer& l, int in, int out, bool full8, Rng& rng) {
  HeadNode nd;
  nd.layer = l;
  nd.in = in;
  nd.out = out;
  nd.weight.resize(l.c_out, l.c_in);
  const double bound = 1.0 / std::sqrt(static_cast<double>(l.c_in));
  uniform_init(nd.weight, bound, rng);
  nd.bias.resize(1, l.c_out);
  uniform_init(nd.bias, bound, rng);
  zeros_like(nd.weight_grad, nd.weight);
  zeros_like(nd.bias_grad, nd.bias);
  nd.full8 = full8;
  return nd;
}

ConvNode make_conv(const models::Layer& l, int in, int out, bool quantized, Act act,
                   const NetworkOptions& opt, Rng& rng) {
  ConvNode nd;
  nd.layer = l;
  nd.in = in;
  nd.out = out;
  nd.conv = ConvParams{l.c_in, l.c_out, l.k, l.stride, l.pad, 0};
  nd.quant_w = quantized && opt.weight_bits < 32;
  nd.full8 = !nd.quant_w && opt.int8_full_precision;
  nd.weight.resize(l.c_out, l.c_in, l.k, l.k);
  kaiming_normal(nd.weight, l.c_in * l.k * l.k, rng);
  zeros_like(nd.weight_grad, nd.weight);
  if (nd.quant_w && opt.quantizer == QuantizerKind::kLsq) {
    nd.step.resize(1, 1);
    nd.step[0] = lsq_init_step(nd.weight.data(), nd.weight.size(), opt.weight_bits);
    zeros_like(nd.step_grad, nd.step);
  }
  nd.bn = l.batch_norm;
  if (nd.bn) nd.norm.init(l.c_out);
  nd.act = act;
  if (nd.act == Act::kPact) {
    nd.clip.resize(1, 1);
    nd.clip[0] = opt.pact_init_clip;
    zeros_like(nd.clip_grad, nd.clip);
  }
  return nd;
}

}  // namespace

Network::Network(const models::Network& description, const NetworkOptions& options,
                 std::uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  validate(options);
  if (description.family == models::Family::kTopology)
    throw std::invalid_argument("model '" + description.model +
                                "' comes from a topology CSV and cannot be trained");
  if (description.layers.empty() || description.layers.back().kind != models::LayerKind::kFC)
    throw std::invalid_argument("model '" + description.model + "' does not end with an FC layer");
  m.desc = description;
  m.opt = options;
  const auto& layers = m.desc.layers;
  const int num_layers = static_cast<int>(layers.size());

  // Which block (and role) each layer belongs to.
  std::vector<int> block_of(num_layers, -1);
  std::vector<bool> is_shortcut(num_layers, false);
  for (int b = 0; b < static_cast<int>(m.desc.blocks.size()); ++b) {
    const models::Block& bl = m.desc.blocks[b];
    for (int li : {bl.conv_a, bl.conv_b, bl.conv_c, bl.shortcut})
      if (li >= 0) block_of[li] = b;
    if (bl.shortcut >= 0) is_shortcut[bl.shortcut] = true;
  }
  // Whether the ReLU after layer `li` (or after the block add that follows it) feeds a quantized
  // layer: the next main-path layer.
  auto consumer_quantized = [&](int li) {
    for (int j = li + 1; j < num_layers; ++j)
      if (!is_shortcut[j]) return m.layer_quantized(layers[j]);
    return false;
  };
  auto act_for = [&](int li) {
    if (m.opt.activation_bits < 32 && consumer_quantized(li)) return Act::kPact;
    return Act::kRelu;
  };

  Rng rng(seed);
  m.values.reserve(4 * layers.size() + 2);
  const int input = m.new_value();
  m.values[input].needs_grad = false;
  int cur = input;
  std::vector<int> block_in(m.desc.blocks.size(), -1), block_main(m.desc.blocks.size(), -1);

  auto make_add = [&](int b, int main_value, int shortcut_value, int last_layer) {
    AddNode nd;
    nd.name = block_prefix(layers[m.desc.blocks[b].conv_a].name);
    nd.main = main_value;
    nd.shortcut = shortcut_value;
    nd.out = m.new_value();
    nd.act = act_for(last_layer);
    if (nd.act == Act::kPact) {
      nd.clip.resize(1, 1);
      nd.clip[0] = m.opt.pact_init_clip;
      zeros_like(nd.clip_grad, nd.clip);
    }
    m.adds.push_back(std::move(nd));
    m.plan.push_back(Step{Step::kAdd, static_cast<int>(m.adds.size()) - 1});
    return m.adds.back().out;
  };

  for (int li = 0; li < num_layers; ++li) {
    const models::Layer& l = layers[li];
    if (l.kind == models::LayerKind::kFC) {
      if (li != num_layers - 1)
        throw std::invalid_argument("model '" + m.desc.model + "': FC layer '" + l.name +
                                    "' is not the last layer");
      HeadNode nd = make_head(l, cur, m.new_value(), m.opt.int8_full_precision, rng);
      if (!m.convs.empty() && m.convs.back().out == cur) {
        nd.src_kind = Step::kConv;
        nd.src = static_cast<int>(m.convs.size()) - 1;
      } else if (!m.adds.empty() && m.adds.back().out == cur) {
        nd.src_kind = Step::kAdd;
        nd.src = static_cast<int>(m.adds.size()) - 1;
      }
      m.heads.push_back(std::move(nd));
      m.plan.push_back(Step{Step::kHead, 0});
      m.logits = m.heads.back().out;
      cur = m.logits;
      continue;
    }
    const int b = block_of[li];
    const models::Block* bl = b >= 0 ? &m.desc.blocks[b] : nullptr;
    if (bl && li == bl->conv_a) block_in[b] = cur;
    ConvNode nd = make_conv(l, is_shortcut[li] ? block_in[b] : cur, m.new_value(),
                            m.layer_quantized(l), l.relu ? act_for(li) : Act::kNone, m.opt, rng);
    const int out = nd.out;
    m.convs.push_back(std::move(nd));
    m.plan.push_back(Step{Step::kConv, static_cast<int>(m.convs.size()) - 1});
    if (bl && is_shortcut[li]) {
      cur = make_add(b, block_main[b], out, bl->last());
    } else if (bl && li == bl->last()) {
      if (bl->shortcut >= 0) {
        block_main[b] = out;  // the add follows the shortcut
        cur = out;
      } else {
        cur = make_add(b, out, block_in[b], li);
      }
    } else {
      cur = out;
    }
  }
}

Network::~Network() = default;

const Tensor& Network::forward(const Tensor& images, Mode mode) {
  Impl& m = *impl_;
  const models::InputShape& in = m.desc.input;
  if (images.c() != in.channels || images.h() != in.height || images.w() != in.width ||
      images.n() < 1) {
    std::ostringstream msg;
    msg << "model '" << m.desc.model << "' expects images of N x " << in.channels << " x "
        << in.height << " x " << in.width << ", got " << images.n() << " x " << images.c() << " x "
        << images.h() << " x " << images.w();
    throw std::invalid_argument(msg.str());
  }
  Tensor& x = m.values[0].data;
  x.resize_like(images);
  std::copy(images.data(), images.data() + images.size(), x.data());
  for (const Step& s : m.plan) {
    switch (s.kind) {
      case Step::kConv:
        m.forward_conv(m.convs[s.index], mode);
        break;
      case Step::kAdd:
        m.forward_add(m.adds[s.index]);
        break;
      case Step::kHead:
        m.forward_head(m.heads[s.index]);
        break;
    }
  }
  m.have_train_forward = mode == Mode::kTrain;
  return m.values[m.logits].data;
}

void Network::backward(const Tensor& grad_logits) {
  Impl& m = *impl_;
  if (!m.have_train_forward)
    throw std::logic_error("Network::backward needs a train-mode forward first");
  Value& out = m.values[m.logits];
  if (!grad_logits.same_shape(out.data))
    throw std::invalid_argument("Network::backward: gradient shape does not match the logits");
  for (Value& v : m.values) v.grad_valid = false;
  out.grad.resize_like(grad_logits);
  std::copy(grad_logits.data(), grad_logits.data() + grad_logits.size(), out.grad.data());
  out.grad_valid = true;
  for (auto it = m.plan.rbegin(); it != m.plan.rend(); ++it) {
    switch (it->kind) {
      case Step::kConv:
        m.backward_conv(m.convs[it->index]);
        break;
      case Step::kAdd:
        m.backward_add(m.adds[it->index]);
        break;
      case Step::kHead:
        m.backward_head(m.heads[it->index]);
        break;
    }
  }
}

void Network::zero_grad() {
  for (Parameter& p : parameters()) p.grad->set_zero();
}

std::vector<Parameter> Network::parameters() {
  Impl& m = *impl_;
  std::vector<Parameter> ps;
  for (const Step& s : m.plan) {
    if (s.kind == Step::kConv) {
      ConvNode& nd = m.convs[s.index];
      const std::string& n = nd.layer.name;
      ps.push_back({n + ".weight", &nd.weight, &nd.weight_grad, true, 0.0f});
      if (nd.step.size() > 0)
        ps.push_back({n + ".weight_step", &nd.step, &nd.step_grad, false, 0.0f});
      if (nd.bn) {
        ps.push_back({n + ".bn.gamma", &nd.norm.gamma, &nd.norm.dgamma, false, 0.0f});
        ps.push_back({n + ".bn.beta", &nd.norm.beta, &nd.norm.dbeta, false, 0.0f});
      }
      if (nd.act == Act::kPact)
        ps.push_back({n + ".act_clip", &nd.clip, &nd.clip_grad, false, m.opt.pact_clip_l2});
    } else if (s.kind == Step::kAdd) {
      AddNode& nd = m.adds[s.index];
      if (nd.act == Act::kPact)
        ps.push_back({nd.name + ".out_clip", &nd.clip, &nd.clip_grad, false, m.opt.pact_clip_l2});
    } else {
      HeadNode& nd = m.heads[s.index];
      ps.push_back({nd.layer.name + ".weight", &nd.weight, &nd.weight_grad, true, 0.0f});
      ps.push_back({nd.layer.name + ".bias", &nd.bias, &nd.bias_grad, true, 0.0f});
    }
  }
  return ps;
}

std::vector<NamedTensor> Network::state() {
  std::vector<NamedTensor> st;
  for (Parameter& p : parameters()) st.push_back({p.name, p.value});
  for (ConvNode& nd : impl_->convs) {
    if (!nd.bn) continue;
    st.push_back({nd.layer.name + ".bn.running_mean", &nd.norm.running_mean});
    st.push_back({nd.layer.name + ".bn.running_var", &nd.norm.running_var});
  }
  return st;
}

const models::Network& Network::description() const {
  return impl_->desc;
}
const NetworkOptions& Network::options() const {
  return impl_->opt;
}

std::int64_t Network::num_parameters() const {
  std::int64_t total = 0;
  for (Parameter& p : const_cast<Network*>(this)->parameters())
    total += static_cast<std::int64_t>(p.value->size());
  return total;
}

std::size_t Network::buffer_bytes() const {
  const Impl& m = *impl_;
  std::size_t total = 0;
  for (const Value& v : m.values) total += v.data.capacity_bytes() + v.grad.capacity_bytes();
  for (const ConvNode& nd : m.convs) {
    for (const Tensor* t : {&nd.pooled_in, &nd.z, &nd.a, &nd.g1, &nd.g2, &nd.wq, &nd.dwq})
      total += t->capacity_bytes();
    for (const auto& b : nd.ws.per_thread) total += b.capacity() * sizeof(float);
    for (const auto& b : nd.ws.per_thread_grad) total += b.capacity() * sizeof(float);
  }
  for (const AddNode& nd : m.adds) total += nd.g1.capacity_bytes();
  for (const HeadNode& nd : m.heads)
    total += nd.pooled.capacity_bytes() + nd.g1.capacity_bytes() + nd.g2.capacity_bytes();
  return total;
}

}  // namespace nce::nn
