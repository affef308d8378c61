// Expected costs of a width distribution and their gradients w.r.t. alpha (docs/algorithm.md §5).
//
// For every MAC-bearing layer l of the network (at its full, i.e. supernet, widths) with input
// width index i and output width index o, the expected cost is
//   E[cost_l] = sum_a sum_b p_i(a) p_o(b) COST_l(c_i(a), c_o(b))
// where p = softmax(alpha) of the layer's candidates and a fixed index (the input, the FC's
// classes) is a point mass at its width. MACs and PARAMs are bilinear, so this equals TAS's product
// of expectations chained layer to layer; latency and energy from the simulated array are not, and
// use the same joint form with a cost table.
#pragma once

#include <functional>
#include <vector>

#include "nce/models/network.h"
#include "nce/search/arch_params.h"

namespace nce::search {

// Cost of layer `layer_index` (into net.layers) when it reads c_in and writes c_out channels.
using LayerCostFn = std::function<double(int layer_index, int c_in, int c_out)>;

struct ExpectedCost {
  double value = 0;
  std::vector<double> per_layer;                // E[cost_l], one per net.layers entry
  std::vector<std::vector<double>> grad_alpha;  // d value / d alpha, per width index - 1
};

// `net` is the supernet's description (its widths are the candidates' maxima; only its layer
// shapes and width indices are used).
ExpectedCost expected_cost(const models::Network& net, const ArchParams& arch,
                           const LayerCostFn& cost);

// The cost of one concrete width vector under the same per-layer function (the argmax's "F").
double concrete_cost(const models::Network& net, const std::vector<int>& widths,
                     const LayerCostFn& cost);

// MACs of a layer at (c_in, c_out): k*k*H_out*W_out*c_in*c_out (docs/algorithm.md §2).
LayerCostFn macs_cost(const models::Network& net);
// PARAMs of a layer at (c_in, c_out): weights + bias + BN gamma/beta.
LayerCostFn params_cost(const models::Network& net);

// TAS's cost loss (docs/algorithm.md §5): with F the argmax architecture's cost, R the target and
// R_max the supernet's cost: +log E if F > R; -log E if F < R - tolerance*R_max; else 0.
struct CostLoss {
  double loss = 0;
  double grad_expected = 0;  // dL/dE
  int direction = 0;         // +1 too large, -1 too small, 0 inside the band
};
CostLoss tas_cost_loss(double expected, double argmax_cost, double target, double max_cost,
                       double tolerance = 0.05);

}  // namespace nce::search
