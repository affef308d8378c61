// A precomputed cost table: for one hw config and one network, the fast-path cost (cycles, stall
// cycles, energy, full LayerCost) of every layer at every (candidate c_in, candidate c_out) pair,
// built in parallel (`nce bench sim` and the tests use it; a search asks sim::LayerCostService,
// layer_cost_service.h, one pair at a time as it needs them). CostKey and CostCache, defined
// here, are shared with that service. Candidates are per width index (Network::widths; index 0 = the input
// channels, fixed). A layer whose in/out width index is -1 has the single candidate layer.c_in /
// layer.c_out. Candidates can be appended during a search (NCE expansion); only the new pairs are
// computed. Costs are memoized on CostKey (the GEMM shape, the conv geometry that decides the DRAM
// reuse, the quantized flag and the kind), and an
// optional CostCache (e.g. SQLite in results/) is consulted before computing and told after.
//
// Thread safety: a CostTable is not thread-safe; build() and add_candidate() use up to `threads`
// worker threads internally, and call the CostCache only from the calling thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"

namespace nce::sim {

struct CostKey {
  std::int64_t K = 0;
  std::int64_t N = 0;
  std::int64_t M = 0;
  bool quantized = true;
  models::LayerKind kind = models::LayerKind::kConv;
  // Conv geometry (c_in = K / k^2, c_out = M, h_out = N / w_out). k = 0: a plain GEMM
  // (gemm_geometry(K, N, M)). Two layers with the same GEMM shape but another kernel, stride,
  // padding or map size reuse ifmap words differently, so they are different keys.
  int k = 0;
  int stride = 1;
  int pad = 0;
  int h_in = 0;
  int w_in = 0;
  int w_out = 0;

  // "K=144;N=1024;M=16;q=1;kind=conv;k=3;s=1;p=1;in=32x32;wo=32" (no geometry part when k = 0)
  std::string to_string() const;
  // The conv the key stands for (gemm_geometry(K, N, M) when k = 0).
  ConvGeometry geometry() const;
  bool operator<(const CostKey& o) const;
  bool operator==(const CostKey& o) const;
};

// Storage for computed layer costs, keyed by the hw fingerprint (HwConfig::fingerprint(), which
// includes the bits and the cost-model version), the layer key (all its fields, geometry
// included: CostKey::to_string() is a complete key) and the array bits. Implementations must be
// callable from one thread at a time.
class CostCache {
 public:
  virtual ~CostCache() = default;
  virtual std::optional<LayerCost> lookup(const std::string& hw_fingerprint, const CostKey& key,
                                          int bits) = 0;
  virtual void store(const std::string& hw_fingerprint, const CostKey& key, int bits,
                     const LayerCost& cost) = 0;
};

// A CostCache in memory (for tests and single runs).
class MemoryCostCache : public CostCache {
 public:
  std::optional<LayerCost> lookup(const std::string& hw_fingerprint, const CostKey& key,
                                  int bits) override;
  void store(const std::string& hw_fingerprint, const CostKey& key, int bits,
             const LayerCost& cost) override;
  std::size_t size() const { return entries_.size(); }
  int lookups = 0;
  int hits = 0;

 private:
  std::map<std::string, LayerCost> entries_;
};

CostKey cost_key_for(const models::Layer& layer, int c_in, int c_out);

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

  const HwConfig& hw() const { return hw_; }
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

  std::int64_t computed() const { return computed_; }  // fast-path evaluations so far
  std::int64_t cache_hits() const { return cache_hits_; }

 private:
  void fill_missing();
  const std::vector<int>& side_candidates(int layer, bool input) const;

  HwConfig hw_;
  models::Network net_;
  std::vector<std::vector<int>> candidates_;
  std::vector<std::vector<int>> fixed_;  // per layer: {c_in} and {c_out} for fixed sides
  CostCache* cache_;
  int threads_;
  std::map<CostKey, LayerCost> memo_;
  // per layer: [ci][co] -> pointer into memo_ (std::map nodes are stable)
  std::vector<std::vector<std::vector<const LayerCost*>>> table_;
  std::int64_t computed_ = 0;
  std::int64_t cache_hits_ = 0;
};

}  // namespace nce::sim
