// Learning-rate schedule: linear warm-up, then cosine annealing, evaluated per optimizer step
// (step = epoch * steps_per_epoch + batch index, counted from 0).
//   step <  warmup_steps:  lr = base_lr * (step + 1) / warmup_steps
//   step >= warmup_steps:  p = (step - warmup_steps) / (total_steps - warmup_steps), clamped to [0,
//   1]
//                          lr = final_lr + (base_lr - final_lr) * (1 + cos(pi * p)) / 2
// So the first step after warm-up runs at base_lr and the rate reaches final_lr at total_steps.
#pragma once

#include <cstdint>

namespace nce::nn {

class CosineSchedule {
 public:
  // Throws std::invalid_argument for total_steps < 1, warmup_steps < 0 or > total_steps, or a
  // negative or non-finite rate.
  CosineSchedule(double base_lr, std::int64_t total_steps, std::int64_t warmup_steps = 0,
                 double final_lr = 0.0);

  double at(std::int64_t step) const;

  double base_lr() const { return base_lr_; }
  std::int64_t total_steps() const { return total_steps_; }
  std::int64_t warmup_steps() const { return warmup_steps_; }

 private:
  double base_lr_;
  std::int64_t total_steps_;
  std::int64_t warmup_steps_;
  double final_lr_;
};

}  // namespace nce::nn
