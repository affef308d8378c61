#include "nce/nn/optimizer.h"

#include <Eigen/Core>
#include <cmath>
#include <stdexcept>

namespace nce::nn {

namespace {

Eigen::Map<Eigen::ArrayXf> as_array(std::vector<float>& v) {
  return Eigen::Map<Eigen::ArrayXf>(v.data(), static_cast<Eigen::Index>(v.size()));
}

Eigen::Map<Eigen::ArrayXf> as_array(Tensor& t) {
  return Eigen::Map<Eigen::ArrayXf>(t.data(), static_cast<Eigen::Index>(t.size()));
}

std::vector<std::vector<float>> zero_slots(const std::vector<Parameter>& params) {
  std::vector<std::vector<float>> slots;
  for (const auto& p : params) slots.emplace_back(p.value->size(), 0.0f);
  return slots;
}

}  // namespace

Optimizer::Optimizer(std::vector<Parameter> params, float weight_decay)
    : params_(std::move(params)) {
  for (const auto& p : params_) {
    if (p.value == nullptr || p.grad == nullptr || p.value->size() != p.grad->size()) {
      throw std::invalid_argument("optimizer: parameter '" + p.name +
                                  "' has no value/gradient tensor or their sizes differ");
    }
    decay_.push_back((p.weight_decay ? weight_decay : 0.0f) + p.clip_l2);
  }
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.grad->set_zero();
}

void Optimizer::check_state(const OptimizerState& state, const std::string& kind,
                            const std::vector<std::string>& slots) const {
  if (state.kind != kind) {
    throw std::invalid_argument("optimizer state is for '" + state.kind + "', this optimizer is '" +
                                kind + "'");
  }
  if (state.steps < 0) throw std::invalid_argument("optimizer state: negative step count");
  const std::size_t want = params_.size() * slots.size();
  if (state.buffers.size() != want) {
    throw std::invalid_argument("optimizer state has " + std::to_string(state.buffers.size()) +
                                " buffers, want " + std::to_string(want));
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (std::size_t s = 0; s < slots.size(); ++s) {
      const auto& b = state.buffers[i * slots.size() + s];
      const std::string name = params_[i].name + "." + slots[s];
      if (b.name != name) {
        throw std::invalid_argument("optimizer state buffer " + std::to_string(i) + " is '" +
                                    b.name + "', want '" + name + "'");
      }
      if (b.values.size() != params_[i].value->size()) {
        throw std::invalid_argument("optimizer state buffer '" + name + "' has " +
                                    std::to_string(b.values.size()) + " values, want " +
                                    std::to_string(params_[i].value->size()));
      }
    }
  }
}

Sgd::Sgd(std::vector<Parameter> params, const SgdOptions& options)
    : Optimizer(std::move(params), options.weight_decay),
      options_(options),
      momentum_(zero_slots(params_)) {}

void Sgd::step(float lr) {
  const float mu = options_.momentum;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto w = as_array(*params_[i].value);
    auto grad = as_array(*params_[i].grad);
    const float wd = decay_[i];
    if (mu == 0.0f) {
      if (wd != 0.0f) {
        w -= lr * (grad + wd * w);
      } else {
        w -= lr * grad;
      }
      continue;
    }
    auto buf = as_array(momentum_[i]);
    if (wd != 0.0f) {
      buf = mu * buf + (grad + wd * w);
      if (options_.nesterov) {
        w -= lr * ((grad + wd * w) + mu * buf);
      } else {
        w -= lr * buf;
      }
    } else {
      buf = mu * buf + grad;
      if (options_.nesterov) {
        w -= lr * (grad + mu * buf);
      } else {
        w -= lr * buf;
      }
    }
  }
  ++steps_;
}

OptimizerState Sgd::state() const {
  OptimizerState s;
  s.kind = "sgd";
  s.steps = steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    s.buffers.push_back({params_[i].name + ".momentum", momentum_[i]});
  }
  return s;
}

void Sgd::load_state(const OptimizerState& state) {
  check_state(state, "sgd", {"momentum"});
  for (std::size_t i = 0; i < params_.size(); ++i) momentum_[i] = state.buffers[i].values;
  steps_ = state.steps;
}

Adam::Adam(std::vector<Parameter> params, const AdamOptions& options)
    : Optimizer(std::move(params), options.weight_decay),
      options_(options),
      exp_avg_(zero_slots(params_)),
      exp_avg_sq_(zero_slots(params_)) {}

void Adam::step(float lr) {
  ++steps_;
  const AdamRule<float> rule{options_.beta1, options_.beta2, options_.eps, 0.0f};
  float step_size, correction2_sqrt;
  rule.at_step(steps_, lr, &step_size, &correction2_sqrt);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    rule.apply(params_[i].value->data(), exp_avg_[i].data(), exp_avg_sq_[i].data(),
               params_[i].grad->data(), params_[i].value->size(), decay_[i], step_size,
               correction2_sqrt);
  }
}

OptimizerState Adam::state() const {
  OptimizerState s;
  s.kind = "adam";
  s.steps = steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    s.buffers.push_back({params_[i].name + ".exp_avg", exp_avg_[i]});
    s.buffers.push_back({params_[i].name + ".exp_avg_sq", exp_avg_sq_[i]});
  }
  return s;
}

void Adam::load_state(const OptimizerState& state) {
  check_state(state, "adam", {"exp_avg", "exp_avg_sq"});
  for (std::size_t i = 0; i < params_.size(); ++i) {
    exp_avg_[i] = state.buffers[2 * i].values;
    exp_avg_sq_[i] = state.buffers[2 * i + 1].values;
  }
  steps_ = state.steps;
}

}  // namespace nce::nn
