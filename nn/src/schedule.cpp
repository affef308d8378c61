#include "nce/nn/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace nce::nn {

CosineSchedule::CosineSchedule(double base_lr, std::int64_t total_steps, std::int64_t warmup_steps,
                               double final_lr)
    : base_lr_(base_lr),
      total_steps_(total_steps),
      warmup_steps_(warmup_steps),
      final_lr_(final_lr) {
  if (!std::isfinite(base_lr) || base_lr < 0.0 || !std::isfinite(final_lr) || final_lr < 0.0) {
    throw std::invalid_argument("learning rate must be finite and >= 0, got base " +
                                std::to_string(base_lr) + ", final " + std::to_string(final_lr));
  }
  if (total_steps < 1) {
    throw std::invalid_argument("schedule needs at least 1 step, got " +
                                std::to_string(total_steps));
  }
  if (warmup_steps < 0 || warmup_steps > total_steps) {
    throw std::invalid_argument("warm-up steps " + std::to_string(warmup_steps) +
                                " outside [0, total steps " + std::to_string(total_steps) + "]");
  }
}

double CosineSchedule::at(std::int64_t step) const {
  if (step < warmup_steps_) {
    return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  }
  const std::int64_t span = total_steps_ - warmup_steps_;
  const double progress =
      span <= 0 ? 1.0
                : std::clamp(static_cast<double>(step - warmup_steps_) / static_cast<double>(span),
                             0.0, 1.0);
  const double pi = 3.14159265358979323846;
  return final_lr_ + (base_lr_ - final_lr_) * 0.5 * (1.0 + std::cos(pi * progress));
}

}  // namespace nce::nn
