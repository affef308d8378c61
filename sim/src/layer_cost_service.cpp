#include "nce/sim/layer_cost_service.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace nce::sim {

LayerCostService::LayerCostService(HwConfig hw, CostCache* cache)
    : hw_(std::move(hw)), fingerprint_(hw_.fingerprint()), cache_(cache) {}

const LayerCost* LayerCostService::find(const CostKey& key) {
  auto it = memo_.find(key);
  if (it != memo_.end()) return &it->second;
  if (cache_ != nullptr) {
    if (std::optional<LayerCost> cached = cache_->lookup(fingerprint_, key, hw_.bits)) {
      ++cache_hits_;
      return &memo_.emplace(key, std::move(*cached)).first->second;
    }
  }
  return nullptr;
}

LayerCost LayerCostService::compute(const CostKey& key, const std::string& layer_name) const {
  GemmLayer g;
  g.name = layer_name;
  g.K = key.K;
  g.N = key.N;
  g.M = key.M;
  g.quantized = key.quantized;
  g.geo = key.geometry();
  return fast_layer_cost(hw_, g);
}

const LayerCost& LayerCostService::cost(const models::Layer& layer, int c_in, int c_out) {
  const CostKey key = cost_key_for(layer, c_in, c_out);
  if (const LayerCost* known = find(key)) return *known;
  LayerCost cost = compute(key, layer.name);
  ++computed_;
  if (cache_ != nullptr) cache_->store(fingerprint_, key, hw_.bits, cost);  // statuses too
  return memo_.emplace(key, std::move(cost)).first->second;
}

void LayerCostService::prepare(const std::vector<CostKey>& keys, int threads) {
  // 1. Keys neither memoized nor cached, each once, in the order given.
  std::vector<CostKey> missing;
  for (const CostKey& key : keys) {
    if (find(key) != nullptr) continue;
    memo_.emplace(key, LayerCost{});  // reserved here (a repeated key is found), computed below
    missing.push_back(key);
  }
  // 2. Compute them in parallel. A key the fast path refuses (std::invalid_argument) leaves the
  // memo as it was before this call and is rethrown here, from the calling thread.
  std::vector<LayerCost> results(missing.size());
  std::vector<std::exception_ptr> errors(missing.size());
  auto work = [&](std::size_t begin, std::size_t step) {
    for (std::size_t i = begin; i < missing.size(); i += step) {
      try {
        results[i] = compute(missing[i], missing[i].to_string());
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const std::size_t nthreads = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, threads)),
                                                     std::max<std::size_t>(1, missing.size() / 8));
  if (nthreads <= 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < nthreads; ++t) pool.emplace_back(work, t, nthreads);
    work(0, nthreads);
    for (auto& th : pool) th.join();
  }
  for (const std::exception_ptr& error : errors) {
    if (!error) continue;
    for (const CostKey& key : missing) memo_.erase(key);
    std::rethrow_exception(error);
  }
  // 3. Memoize and cache them, in order.
  for (std::size_t i = 0; i < missing.size(); ++i) {
    memo_[missing[i]] = results[i];
    if (cache_ != nullptr) cache_->store(fingerprint_, missing[i], hw_.bits, results[i]);
  }
  computed_ += static_cast<std::int64_t>(missing.size());
}

const LayerCost& LayerCostService::mappable_cost(const models::Layer& layer, int c_in, int c_out) {
  const LayerCost& c = cost(layer, c_in, c_out);
  if (!c.ok()) {
    throw std::invalid_argument("hw config '" + hw_.source + "' cannot map layer '" + layer.name +
                                "' at " + std::to_string(c_in) + "->" + std::to_string(c_out) +
                                " channels: " + c.status_detail);
  }
  return c;
}

}  // namespace nce::sim
