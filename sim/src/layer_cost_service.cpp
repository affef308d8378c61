#include "nce/sim/layer_cost_service.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace nce::sim {

LayerCostService::LayerCostService(HwConfig hw, CostCache* cache)
    : hw_(std::move(hw)), fingerprint_(hw_.fingerprint()), cache_(cache) {}

const LayerCost& LayerCostService::cost(const models::Layer& layer, int c_in, int c_out) {
  const CostKey key = cost_key_for(layer, c_in, c_out);
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  if (cache_ != nullptr) {
    if (std::optional<LayerCost> cached = cache_->lookup(fingerprint_, key, hw_.bits)) {
      ++cache_hits_;
      return memo_.emplace(key, std::move(*cached)).first->second;
    }
  }
  models::Layer l = layer;
  l.c_in = c_in;
  l.c_out = c_out;
  LayerCost cost = fast_layer_cost(hw_, l);
  ++computed_;
  if (cache_ != nullptr) cache_->store(fingerprint_, key, hw_.bits, cost);  // statuses too
  return memo_.emplace(key, std::move(cost)).first->second;
}

const LayerCost& LayerCostService::mappable_cost(const models::Layer& layer, int c_in,
                                                 int c_out) {
  const LayerCost& c = cost(layer, c_in, c_out);
  if (!c.ok()) {
    throw std::invalid_argument("hw config '" + hw_.source + "' cannot map layer '" + layer.name +
                                "' at " + std::to_string(c_in) + "->" + std::to_string(c_out) +
                                " channels: " + c.status_detail);
  }
  return c;
}

}  // namespace nce::sim
