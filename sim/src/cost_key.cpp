#include "nce/sim/cost_key.h"

#include <tuple>

namespace nce::sim {

std::string CostKey::to_string() const {
  std::string s = "K=" + std::to_string(K) + ";N=" + std::to_string(N) + ";M=" + std::to_string(M) +
                  ";q=" + (quantized ? "1" : "0") + ";kind=" + models::to_string(kind);
  if (k > 0) {
    s += ";k=" + std::to_string(k) + ";s=" + std::to_string(stride) + ";p=" + std::to_string(pad) +
         ";in=" + std::to_string(h_in) + "x" + std::to_string(w_in) +
         ";wo=" + std::to_string(w_out);
  }
  return s;
}

ConvGeometry CostKey::geometry() const {
  if (k <= 0) return gemm_geometry(K, N, M);
  ConvGeometry g;
  g.k = k;
  g.c_in = static_cast<int>(K / (static_cast<std::int64_t>(k) * k));
  g.c_out = static_cast<int>(M);
  g.stride = stride;
  g.pad = pad;
  g.h_in = h_in;
  g.w_in = w_in;
  g.w_out = w_out;
  g.h_out = w_out > 0 ? static_cast<int>(N / w_out) : 0;
  return g;
}

bool CostKey::operator<(const CostKey& o) const {
  return std::tie(K, N, M, quantized, kind, k, stride, pad, h_in, w_in, w_out) <
         std::tie(o.K, o.N, o.M, o.quantized, o.kind, o.k, o.stride, o.pad, o.h_in, o.w_in,
                  o.w_out);
}

bool CostKey::operator==(const CostKey& o) const {
  return !(*this < o) && !(o < *this);
}

CostKey cost_key_for(const models::Layer& layer, int c_in, int c_out) {
  const std::int64_t K = static_cast<std::int64_t>(layer.k) * layer.k * c_in;
  const std::int64_t N = static_cast<std::int64_t>(layer.h_out) * layer.w_out;
  return {K,         N,          c_out,      layer.quantized, layer.kind, layer.k, layer.stride,
          layer.pad, layer.h_in, layer.w_in, layer.w_out};
}

std::string MemoryCostCache::entry_key(const std::string& hw_fingerprint, const CostKey& key,
                                       int bits) {
  return hw_fingerprint + "|" + key.to_string() + "|b=" + std::to_string(bits);
}

std::optional<LayerCost> MemoryCostCache::lookup(const std::string& hw_fingerprint,
                                                 const CostKey& key, int bits) {
  ++lookups;
  auto it = entries_.find(entry_key(hw_fingerprint, key, bits));
  if (it == entries_.end()) return std::nullopt;
  ++hits;
  return it->second;
}

void MemoryCostCache::store(const std::string& hw_fingerprint, const CostKey& key, int bits,
                            const LayerCost& cost) {
  entries_[entry_key(hw_fingerprint, key, bits)] = cost;
}

}  // namespace nce::sim
