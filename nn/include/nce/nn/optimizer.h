// First-order optimizers over a network's Parameters (tensor.h), with PyTorch's update rules so a
// run can be compared with the PyTorch peer step for step.
//
// SGD:  g = grad + wd*w;  buf = momentum*buf + g (buf starts at 0);
//       w -= lr * (nesterov ? g + momentum*buf : buf)          (momentum 0: w -= lr*g)
// Adam: g = grad + wd*w;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  t = steps taken (from 1)
//       w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)      (L2 decay as torch.optim.Adam)
// wd per parameter = (Parameter::weight_decay ? the options' weight_decay : 0) + Parameter::clip_l2
// (the PACT clips' own L2 of 0.001, docs/algorithm.md §1, reaches the optimizer this way).
// The optimizer keeps pointers into the Parameters' tensors: the network must outlive it.
// Not thread safe; the update itself is vectorized with Eigen.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nce/nn/tensor.h"

namespace nce::nn {

// Everything an optimizer must remember between steps, for checkpoints. Buffers are named
// "<parameter name>.<slot>" (slots: "momentum"; "exp_avg", "exp_avg_sq") in parameter order.
struct StateBuffer {
  std::string name;
  std::vector<float> values;
};
struct OptimizerState {
  std::string kind;        // "sgd" or "adam"
  std::int64_t steps = 0;  // updates taken
  std::vector<StateBuffer> buffers;
};

// The state of an optimizer is its kind, its step count and, for every parameter, one buffer per
// slot of the kind (SGD: momentum; Adam: exp_avg, exp_avg_sq), in that order, named
// "<parameter>.<slot>"; the base class keeps the slots, so state() and load_state() serve every
// kind.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter from its current gradient, at learning rate `lr`.
  virtual void step(float lr) = 0;
  // Sets every gradient to zero.
  void zero_grad();

  OptimizerState state() const;
  // Restores state(); throws std::invalid_argument naming the kind, buffer or size that differs.
  void load_state(const OptimizerState& state);

  const std::vector<Parameter>& parameters() const { return params_; }
  float decay_of(std::size_t index) const { return decay_[index]; }
  std::int64_t steps() const { return steps_; }

 protected:
  // kind: the state's kind ("sgd"); slot_names: its per-parameter buffers, each zero-filled to its
  // parameter's size.
  Optimizer(std::vector<Parameter> params, float weight_decay, std::string kind,
            std::vector<std::string> slot_names);
  void check_state(const OptimizerState& state) const;
  std::vector<Parameter> params_;
  std::vector<float> decay_;  // per parameter
  std::int64_t steps_ = 0;
  std::string kind_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<std::vector<float>>> slots_;  // [slot][parameter], never resized
};

struct SgdOptions {
  float momentum = 0.9f;
  bool nesterov = true;
  float weight_decay = 5e-4f;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Parameter> params, const SgdOptions& options);
  void step(float lr) override;

 private:
  SgdOptions options_;
  std::vector<std::vector<float>>& momentum_;  // slot "momentum": per parameter, size of its value
};

// Adam's rule (torch.optim.Adam with L2 weight decay), for any element type: at step t (1-based)
// g' = g + wd*w, m = b1*m + (1-b1)*g', v = b2*v + (1-b2)*g'^2,
// w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). nn::Adam applies it to the
// network's float parameters, the width search to its double architecture logits.
template <class T>
struct AdamRule {
  T beta1, beta2, eps, weight_decay;
  // The step size and sqrt(1 - b2^t) of step t (both in double, then as T).
  void at_step(std::int64_t t, T lr, T* step_size, T* correction2_sqrt) const {
    const double td = static_cast<double>(t);
    *step_size = lr / static_cast<T>(1.0 - std::pow(static_cast<double>(beta1), td));
    *correction2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(static_cast<double>(beta2), td)));
  }
  // n elements of one tensor; wd: this tensor's weight decay.
  void apply(T* w, T* m, T* v, const T* grad, std::size_t n, T wd, T step_size,
             T correction2_sqrt) const {
    for (std::size_t i = 0; i < n; ++i) {
      const T g = wd != T(0) ? grad[i] + wd * w[i] : grad[i];
      m[i] = beta1 * m[i] + (T(1) - beta1) * g;
      v[i] = beta2 * v[i] + (T(1) - beta2) * (g * g);
      w[i] -= step_size * m[i] / (std::sqrt(v[i]) / correction2_sqrt + eps);
    }
  }
};

struct AdamOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Parameter> params, const AdamOptions& options);
  void step(float lr) override;

 private:
  AdamOptions options_;
  std::vector<std::vector<float>>&exp_avg_, &exp_avg_sq_;  // slots "exp_avg", "exp_avg_sq"
};

}  // namespace nce::nn
