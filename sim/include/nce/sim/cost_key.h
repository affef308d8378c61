// The key of one layer's cost and the storage interface for computed costs. A CostKey names what
// decides a layer's fast-path cost on a given array: the GEMM shape, the conv geometry that
// decides the DRAM reuse, the quantized flag and the layer kind. sim::LayerCostService memoizes on
// it (the one memo; sim::CostTable builds on that service) and asks a CostCache (in memory here,
// SQLite in results/sqlite_cost_cache.h) before computing.
//
// The key's text (CostKey::to_string()) and the hw fingerprint (HwConfig::fingerprint()) are what
// result databases store: they must not change for a given layer and config.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "nce/models/network.h"
#include "nce/sim/conv_geometry.h"
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

// The key of `layer` read at c_in and written at c_out channels.
CostKey cost_key_for(const models::Layer& layer, int c_in, int c_out);

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
  static std::string entry_key(const std::string& hw_fingerprint, const CostKey& key, int bits);
  std::map<std::string, LayerCost> entries_;
};

}  // namespace nce::sim
