// A precomputed cost table: for one hw config and one network, the fast-path cost (cycles, stall
// cycles, energy, full LayerCost) of every layer at every (candidate c_in, candidate c_out) pair,
// built in parallel (`nce bench sim` and the tests use it; a search asks sim::LayerCostService,
// layer_cost_service.h, one pair at a time as it needs them). Candidates are per width index
// (Network::widths; index 0 = the input channels, fixed). A layer whose in/out width index is -1
// has the single candidate layer.c_in / layer.c_out. Candidates can be appended during a search
// (NCE expansion); only the new pairs are computed. The costs come from a LayerCostService of the
// table's own (its memo on CostKey, cost_key.h, is the only one; the optional CostCache, e.g.
// SQLite in results/, is consulted before computing and told after).
//
// Thread safety: a CostTable is not thread-safe; build() and add_candidate() use up to `threads`
// worker threads internally, and call the CostCache only from the calling thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/cost_key.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"
#include "nce/sim/layer_cost_service.h"

namespace nce::sim {

// The candidate rule of docs/algorithm.md §3, for benchmarks and tools: per width index w >= 1
// with C channels, sorted unique int(C * r) for r = 0.3, 0.4, ..., 1.0, then the expansions
// int(C * (1 + 0.1k)), k = 1, 2, ... up to `max_candidates` in all (16 = a fully expanded NCE
// search space). Index 0 keeps the input channels.
std::vector<std::vector<int>> nce_width_candidates(const std::vector<int>& widths,
                                                   int max_candidates = 16);

class CostTable {
 public:
  // `candidates[w]` lists the channel counts of width index w (size = net.widths.size());
  // empty = {net.widths[w]}. Index 0 must be {net.widths[0]} (or empty). Every entry >= 1.
  // Throws std::invalid_argument on bad candidates. `cache` may be null; it must outlive the table.
  CostTable(HwConfig hw, models::Network net, std::vector<std::vector<int>> candidates,
            CostCache* cache = nullptr, int threads = 2);

  // Appends a channel count to width index w (w >= 1) and computes the new pairs. Returns its
  // position in candidates(w). Adding a count already present returns its position.
  int add_candidate(int width_index, int channels);

  const HwConfig& hw() const { return costs_.hw(); }
  const models::Network& network() const { return net_; }
  int num_layers() const { return static_cast<int>(net_.layers.size()); }
  // Candidates the layer's input / output side uses (width index list, or the fixed count).
  const std::vector<int>& input_candidates(int layer) const;
  const std::vector<int>& output_candidates(int layer) const;
  const std::vector<int>& candidates(int width_index) const { return candidates_.at(width_index); }

  // Cost of `layer` at input candidate ci and output candidate co (positions in
  // input_candidates(layer) / output_candidates(layer)).
  const LayerCost& cost(int layer, int ci, int co) const;
  // Cost by channel counts (must be candidates).
  const LayerCost& cost_at_channels(int layer, int c_in, int c_out) const;

  std::int64_t computed() const { return costs_.computed(); }  // fast-path evaluations so far
  std::int64_t cache_hits() const { return costs_.cache_hits(); }

 private:
  void fill_missing();
  const std::vector<int>& side_candidates(int layer, bool input) const;

  LayerCostService costs_;
  models::Network net_;
  std::vector<std::vector<int>> candidates_;
  std::vector<std::vector<int>> fixed_;  // per layer: {c_in} and {c_out} for fixed sides
  int threads_;
  // per layer: [ci][co] -> the cost in costs_ (LayerCostService::known: stable references)
  std::vector<std::vector<std::vector<const LayerCost*>>> table_;
};

}  // namespace nce::sim
