#include "nce/search/arch_optimizer.h"

#include <cassert>

namespace nce::search {

ArchOptimizer::ArchOptimizer(double lr, double beta1, double beta2, double weight_decay, double eps)
    : lr_(lr), rule_{beta1, beta2, eps, weight_decay} {}

void ArchOptimizer::fit(const ArchParams& arch) {
  m.resize(static_cast<std::size_t>(arch.num_layers()));
  v.resize(m.size());
  for (int w = 1; w <= arch.num_layers(); ++w) {
    m[static_cast<std::size_t>(w - 1)].resize(arch.layer(w).alpha.size(), 0.0);
    v[static_cast<std::size_t>(w - 1)].resize(arch.layer(w).alpha.size(), 0.0);
  }
}

void ArchOptimizer::step(ArchParams& arch, const std::vector<std::vector<double>>& grad) {
  fit(arch);
  ++steps;
  double step_size, correction2_sqrt;
  rule_.at_step(steps, lr_, &step_size, &correction2_sqrt);
  for (int w = 1; w <= arch.num_layers(); ++w) {
    const std::size_t i = static_cast<std::size_t>(w - 1);
    std::vector<double>& alpha = arch.layer(w).alpha;
    assert(grad[i].size() == alpha.size());
    rule_.apply(alpha.data(), m[i].data(), v[i].data(), grad[i].data(), alpha.size(),
                rule_.weight_decay, step_size, correction2_sqrt);
  }
}

}  // namespace nce::search
