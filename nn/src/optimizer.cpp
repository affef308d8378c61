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

Optimizer::Optimizer(std::vector<Parameter> params, float weight_decay, std::string kind,
                     std::vector<std::string> slot_names)
    : params_(std::move(params)), kind_(std::move(kind)), slot_names_(std::move(slot_names)) {
  for (const auto& p : params_) {
    if (p.value == nullptr || p.grad == nullptr || p.value->size() != p.grad->size()) {
      throw std::invalid_argument("optimizer: parameter '" + p.name +
                                  "' has no value/gradient tensor or their sizes differ");
    }
    decay_.push_back((p.weight_decay ? weight_decay : 0.0f) + p.clip_l2);
  }
  slots_.assign(slot_names_.size(), zero_slots(params_));
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.grad->set_zero();
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  s.kind = kind_;
  s.steps = steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (std::size_t k = 0; k < slots_.size(); ++k) {
      s.buffers.push_back({params_[i].name + "." + slot_names_[k], slots_[k][i]});
    }
  }
  return s;
}

void Optimizer::load_state(const OptimizerState& state) {
  check_state(state);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (std::size_t k = 0; k < slots_.size(); ++k) {
      slots_[k][i] = state.buffers[i * slots_.size() + k].values;
    }
  }
  steps_ = state.steps;
}

void Optimizer::check_state(const OptimizerState& state) const {
  if (state.kind != kind_) {
    throw std::invalid_argument("optimizer state is for '" + state.kind + "', this optimizer is '" +
                                kind_ + "'");
  }
  if (state.steps < 0) throw std::invalid_argument("optimizer state: negative step count");
  const std::size_t want = params_.size() * slot_names_.size();
  if (state.buffers.size() != want) {
    throw std::invalid_argument("optimizer state has " + std::to_string(state.buffers.size()) +
                                " buffers, want " + std::to_string(want));
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (std::size_t s = 0; s < slot_names_.size(); ++s) {
      const auto& b = state.buffers[i * slot_names_.size() + s];
      const std::string name = params_[i].name + "." + slot_names_[s];
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
    : Optimizer(std::move(params), options.weight_decay, "sgd", {"momentum"}),
      options_(options),
      momentum_(slots_[0]) {}

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

Adam::Adam(std::vector<Parameter> params, const AdamOptions& options)
    : Optimizer(std::move(params), options.weight_decay, "adam", {"exp_avg", "exp_avg_sq"}),
      options_(options),
      exp_avg_(slots_[0]),
      exp_avg_sq_(slots_[1]) {}

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

}  // namespace nce::nn
