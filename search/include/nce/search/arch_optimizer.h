// The architecture step's optimizer (docs/algorithm.md §5, TAS): Adam on the logits alpha of every
// layer (doubles), with L2 weight decay, by nn::AdamRule (the rule nn::Adam applies to network
// parameters). Moment buffers follow NCE expansions (fit() gives new candidates zero moments).
#pragma once

#include <cstdint>
#include <vector>

#include "nce/nn/optimizer.h"
#include "nce/search/arch_params.h"

namespace nce::search {

class ArchOptimizer {
 public:
  ArchOptimizer(double lr, double beta1, double beta2, double weight_decay, double eps = 1e-8);

  // Sizes the moments to arch's candidates (zeros for new entries).
  void fit(const ArchParams& arch);
  // alpha -= Adam(grad); grad per width index - 1, one entry per candidate.
  void step(ArchParams& arch, const std::vector<std::vector<double>>& grad);

  std::int64_t steps = 0;
  std::vector<std::vector<double>> m, v;  // per width index - 1

 private:
  double lr_;
  nn::AdamRule<double> rule_;
};

}  // namespace nce::search
