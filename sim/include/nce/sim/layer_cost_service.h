// The one way to ask what a layer costs on an array: the fast path's LayerCost of a layer read at
// c_in and written at c_out channels, memoized on the whole layer key (CostKey, cost_key.h: GEMM
// shape, geometry, quantized, kind) and optionally backed by a CostCache that outlives the process
// (the result database's cost_cache table, results/sqlite_cost_cache.h). `nce search`, campaigns,
// sweeps, the latency tests and sim::CostTable (which fills its grid through prepare()) ask it;
// this memo is the only one. The search sees it only through search::HardwareCosts (functions of
// layer and widths), so search/ still knows no hardware.
//
// One policy for a layer the array cannot map (a tile that does not fit the SRAMs, a count the
// model cannot represent): cost() returns its LayerCost with the status (!ok(), as a sweep records
// it); mappable_cost() throws std::invalid_argument naming the hw config, the layer, the widths
// and the reason (what a search, which needs a number, does). The status is memoized and cached
// like a number (it is as deterministic). A status's detail names the layer that first needed the
// key: the layer's name for cost(), the key's text (CostKey::to_string()) for prepare().
// Thread safety: none (one service per thread, or guard it); prepare() computes on worker threads
// of its own, and the cache is called from the calling thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/cost_key.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"

namespace nce::sim {

class LayerCostService {
 public:
  // `cache` may be null; it must outlive the service.
  explicit LayerCostService(HwConfig hw, CostCache* cache = nullptr);

  const LayerCost& cost(const models::Layer& layer, int c_in, int c_out);
  const LayerCost& mappable_cost(const models::Layer& layer, int c_in, int c_out);

  // Makes every key in `keys` known: each one not memoized yet is asked of the cache, in the order
  // given, and the rest are computed on up to `threads` threads, then stored in the cache in that
  // order. Afterwards known(key) answers for each of them. A key the fast path refuses (a shape it
  // cannot represent) throws its std::invalid_argument; the keys this call would have computed are
  // then not memoized (those the cache answered are).
  void prepare(const std::vector<CostKey>& keys, int threads);
  // The memoized cost of a key cost() or prepare() has seen; throws std::out_of_range otherwise.
  // The reference stays valid as long as the service.
  const LayerCost& known(const CostKey& key) const { return memo_.at(key); }

  const HwConfig& hw() const { return hw_; }
  const std::string& fingerprint() const { return fingerprint_; }
  std::int64_t computed() const { return computed_; }      // fast-path evaluations
  std::int64_t cache_hits() const { return cache_hits_; }  // answered by the cache

 private:
  // The memoized or cached cost of `key`, nullptr when neither has it.
  const LayerCost* find(const CostKey& key);
  // The fast path's cost of `key`; `layer_name` names the layer in a status's detail.
  LayerCost compute(const CostKey& key, const std::string& layer_name) const;

  HwConfig hw_;
  std::string fingerprint_;
  CostCache* cache_;
  std::map<CostKey, LayerCost> memo_;  // node-based: references into it stay valid
  std::int64_t computed_ = 0;
  std::int64_t cache_hits_ = 0;
};

}  // namespace nce::sim
