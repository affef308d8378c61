// The one way to ask what a layer costs on an array: the fast path's LayerCost of a layer read at
// c_in and written at c_out channels, memoized on the whole layer key (CostKey: GEMM shape,
// geometry, quantized, kind) and optionally backed by a CostCache that outlives the process (the
// result database's cost_cache table, results/sqlite_cost_cache.h). `nce search`, campaigns, sweeps
// and the latency tests ask it; the search sees it only through search::HardwareCosts (functions of
// layer and widths), so search/ still knows no hardware.
//
// One policy for a layer the array cannot map (a tile that does not fit the SRAMs, a count the
// model cannot represent): cost() returns its LayerCost with the status (!ok(), as a sweep records
// it); mappable_cost() throws std::invalid_argument naming the hw config, the layer, the widths
// and the reason (what a search, which needs a number, does). The status is memoized and cached
// like a number (it is as deterministic), as sim::CostTable and sweeps do.
// Thread safety: none (one service per thread, or guard it); the cache is called from the
// calling thread only.
#pragma once

#include <cstdint>
#include <map>

#include "nce/models/network.h"
#include "nce/sim/cost_table.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"

namespace nce::sim {

class LayerCostService {
 public:
  // `cache` may be null; it must outlive the service.
  explicit LayerCostService(HwConfig hw, CostCache* cache = nullptr);

  const LayerCost& cost(const models::Layer& layer, int c_in, int c_out);
  const LayerCost& mappable_cost(const models::Layer& layer, int c_in, int c_out);

  const HwConfig& hw() const { return hw_; }
  const std::string& fingerprint() const { return fingerprint_; }
  std::int64_t computed() const { return computed_; }      // fast-path evaluations
  std::int64_t cache_hits() const { return cache_hits_; }  // answered by the cache

 private:
  HwConfig hw_;
  std::string fingerprint_;
  CostCache* cache_;
  std::map<CostKey, LayerCost> memo_;
  std::int64_t computed_ = 0;
  std::int64_t cache_hits_ = 0;
};

}  // namespace nce::sim
