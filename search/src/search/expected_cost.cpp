#include "nce/search/expected_cost.h"

#include <cassert>
#include <cmath>

namespace nce::search {

namespace {

// Candidates and probabilities of a width index; a fixed index is a point mass at `fixed`.
struct Marginal {
  std::vector<int> widths;
  std::vector<double> p;
  int width_index = -1;  // -1 when fixed
};

Marginal marginal(const ArchParams& arch, int width_index, int fixed) {
  Marginal m;
  if (width_index <= 0) {
    m.widths = {fixed};
    m.p = {1.0};
    return m;
  }
  m.widths = arch.layer(width_index).candidates;
  m.p = arch.probabilities(width_index);
  m.width_index = width_index;
  return m;
}

}  // namespace

ExpectedCost expected_cost(const models::Network& net, const ArchParams& arch,
                           const LayerCostFn& cost) {
  ExpectedCost out;
  out.grad_alpha.resize(arch.num_layers());
  std::vector<std::vector<double>> grad_p(arch.num_layers());
  for (int w = 1; w <= arch.num_layers(); ++w) {
    grad_p[w - 1].assign(arch.layer(w).candidates.size(), 0.0);
    out.grad_alpha[w - 1].assign(arch.layer(w).candidates.size(), 0.0);
  }
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const models::Layer& layer = net.layers[l];
    const Marginal in = marginal(arch, layer.in_width_index, layer.c_in);
    const Marginal outm = marginal(arch, layer.out_width_index, layer.c_out);
    double e = 0;
    std::vector<double> d_in(in.widths.size(), 0.0), d_out(outm.widths.size(), 0.0);
    for (size_t a = 0; a < in.widths.size(); ++a) {
      for (size_t b = 0; b < outm.widths.size(); ++b) {
        const double c = cost(static_cast<int>(l), in.widths[a], outm.widths[b]);
        e += in.p[a] * outm.p[b] * c;
        d_in[a] += outm.p[b] * c;
        d_out[b] += in.p[a] * c;
      }
    }
    out.per_layer.push_back(e);
    out.value += e;
    if (in.width_index > 0) {
      for (size_t a = 0; a < d_in.size(); ++a) grad_p[in.width_index - 1][a] += d_in[a];
    }
    if (outm.width_index > 0) {
      for (size_t b = 0; b < d_out.size(); ++b) grad_p[outm.width_index - 1][b] += d_out[b];
    }
  }
  // Through the softmax: dE/dalpha_m = p_m (dE/dp_m - sum_j p_j dE/dp_j).
  for (int w = 1; w <= arch.num_layers(); ++w) {
    const std::vector<double> p = arch.probabilities(w);
    double mean = 0;
    for (size_t j = 0; j < p.size(); ++j) mean += p[j] * grad_p[w - 1][j];
    for (size_t m = 0; m < p.size(); ++m) {
      out.grad_alpha[w - 1][m] = p[m] * (grad_p[w - 1][m] - mean);
    }
  }
  return out;
}

double concrete_cost(const models::Network& net, const std::vector<int>& widths,
                     const LayerCostFn& cost) {
  double total = 0;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const models::Layer& layer = net.layers[l];
    const int c_in = layer.in_width_index >= 0 ? widths.at(layer.in_width_index) : layer.c_in;
    const int c_out = layer.out_width_index >= 0 ? widths.at(layer.out_width_index) : layer.c_out;
    total += cost(static_cast<int>(l), c_in, c_out);
  }
  return total;
}

LayerCostFn macs_cost(const models::Network& net) {
  return [&net](int l, int c_in, int c_out) {
    const models::Layer& layer = net.layers[l];
    return static_cast<double>(layer.k) * layer.k * layer.h_out * layer.w_out * c_in * c_out;
  };
}

LayerCostFn params_cost(const models::Network& net) {
  return [&net](int l, int c_in, int c_out) {
    const models::Layer& layer = net.layers[l];
    double p = static_cast<double>(layer.k) * layer.k * c_in * c_out;
    if (layer.bias) p += c_out;
    if (layer.batch_norm) p += 2.0 * c_out;
    return p;
  };
}

CostLoss tas_cost_loss(double expected, double argmax_cost, double target, double max_cost,
                       double tolerance) {
  assert(expected > 0);
  CostLoss out;
  if (argmax_cost > target) {
    out.direction = 1;
    out.loss = std::log(expected);
    out.grad_expected = 1.0 / expected;
  } else if (argmax_cost < target - tolerance * max_cost) {
    out.direction = -1;
    out.loss = -std::log(expected);
    out.grad_expected = -1.0 / expected;
  }
  return out;
}

}  // namespace nce::search
