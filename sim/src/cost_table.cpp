#include "nce/sim/cost_table.h"

#include <algorithm>
#include <stdexcept>
#include <thread>
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

std::optional<LayerCost> MemoryCostCache::lookup(const std::string& hw_fingerprint,
                                                 const CostKey& key, int bits) {
  ++lookups;
  auto it = entries_.find(hw_fingerprint + "|" + key.to_string() + "|b=" + std::to_string(bits));
  if (it == entries_.end()) return std::nullopt;
  ++hits;
  return it->second;
}

void MemoryCostCache::store(const std::string& hw_fingerprint, const CostKey& key, int bits,
                            const LayerCost& cost) {
  entries_[hw_fingerprint + "|" + key.to_string() + "|b=" + std::to_string(bits)] = cost;
}

CostKey cost_key_for(const models::Layer& layer, int c_in, int c_out) {
  CostKey k;
  k.K = static_cast<std::int64_t>(layer.k) * layer.k * c_in;
  k.N = static_cast<std::int64_t>(layer.h_out) * layer.w_out;
  k.M = c_out;
  k.quantized = layer.quantized;
  k.kind = layer.kind;
  k.k = layer.k;
  k.stride = layer.stride;
  k.pad = layer.pad;
  k.h_in = layer.h_in;
  k.w_in = layer.w_in;
  k.w_out = layer.w_out;
  return k;
}

std::vector<std::vector<int>> nce_width_candidates(const std::vector<int>& widths,
                                                   int max_candidates) {
  std::vector<std::vector<int>> out(widths.size());
  if (widths.empty()) return out;
  out[0] = {widths[0]};
  for (std::size_t w = 1; w < widths.size(); ++w) {
    std::vector<int> list;
    for (int r = 3; r <= 10; ++r) list.push_back(std::max(1, widths[w] * r / 10));
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    for (int k = 1; static_cast<int>(list.size()) < max_candidates; ++k) {
      const int c = widths[w] * (10 + k) / 10;
      if (c > list.back()) list.push_back(c);
      if (k > 1000) break;
    }
    if (static_cast<int>(list.size()) > max_candidates)
      list.resize(static_cast<std::size_t>(max_candidates));
    out[w] = list;
  }
  return out;
}

CostTable::CostTable(HwConfig hw, models::Network net, std::vector<std::vector<int>> candidates,
                     CostCache* cache, int threads)
    : hw_(std::move(hw)),
      net_(std::move(net)),
      candidates_(std::move(candidates)),
      cache_(cache),
      threads_(std::max(1, threads)) {
  const std::size_t nw = net_.widths.size();
  if (candidates_.empty()) candidates_.resize(nw);
  if (candidates_.size() != nw) {
    throw std::invalid_argument(
        "cost table for " + net_.model + ": " + std::to_string(candidates_.size()) +
        " candidate lists given, the network has " + std::to_string(nw) + " width indices");
  }
  for (std::size_t w = 0; w < nw; ++w) {
    auto& list = candidates_[w];
    if (list.empty()) list.push_back(net_.widths[w]);
    for (int c : list) {
      if (c < 1) {
        throw std::invalid_argument("cost table for " + net_.model + ": width index " +
                                    std::to_string(w) + " candidate " + std::to_string(c) +
                                    " must be >= 1");
      }
    }
    if (w == 0 && (list.size() != 1 || list[0] != net_.widths[0])) {
      throw std::invalid_argument("cost table for " + net_.model +
                                  ": width index 0 (input channels) is fixed at " +
                                  std::to_string(net_.widths[0]));
    }
    // Keep each count once, in the order given.
    std::vector<int> unique;
    for (int c : list) {
      if (std::find(unique.begin(), unique.end(), c) == unique.end()) unique.push_back(c);
    }
    list = unique;
  }
  for (const auto& layer : net_.layers) {
    fixed_.push_back({layer.c_in});
    fixed_.push_back({layer.c_out});
  }
  table_.resize(net_.layers.size());
  fill_missing();
}

const std::vector<int>& CostTable::side_candidates(int layer, bool input) const {
  const auto& l = net_.layers.at(static_cast<std::size_t>(layer));
  const int index = input ? l.in_width_index : l.out_width_index;
  if (index < 0) return fixed_[static_cast<std::size_t>(2 * layer + (input ? 0 : 1))];
  return candidates_.at(static_cast<std::size_t>(index));
}

const std::vector<int>& CostTable::input_candidates(int layer) const {
  return side_candidates(layer, true);
}
const std::vector<int>& CostTable::output_candidates(int layer) const {
  return side_candidates(layer, false);
}

int CostTable::add_candidate(int width_index, int channels) {
  if (width_index < 1 || width_index >= static_cast<int>(candidates_.size())) {
    throw std::invalid_argument("cost table: width index " + std::to_string(width_index) +
                                " cannot take candidates (valid: 1.." +
                                std::to_string(candidates_.size() - 1) + ")");
  }
  if (channels < 1) {
    throw std::invalid_argument("cost table: candidate " + std::to_string(channels) +
                                " for width index " + std::to_string(width_index) +
                                " must be >= 1");
  }
  auto& list = candidates_[static_cast<std::size_t>(width_index)];
  auto it = std::find(list.begin(), list.end(), channels);
  if (it != list.end()) return static_cast<int>(it - list.begin());
  list.push_back(channels);
  fill_missing();
  return static_cast<int>(list.size()) - 1;
}

void CostTable::fill_missing() {
  // 1. Keys not memoized yet, each once; ask the cache first.
  std::vector<CostKey> to_compute;
  const std::string fingerprint = hw_.fingerprint();
  for (int l = 0; l < num_layers(); ++l) {
    const auto& layer = net_.layers[static_cast<std::size_t>(l)];
    for (int ci : input_candidates(l)) {
      for (int co : output_candidates(l)) {
        CostKey key = cost_key_for(layer, ci, co);
        if (memo_.count(key)) continue;
        if (cache_) {
          if (auto hit = cache_->lookup(fingerprint, key, hw_.bits)) {
            memo_.emplace(key, *hit);
            ++cache_hits_;
            continue;
          }
        }
        memo_.emplace(key, LayerCost{});  // reserved here, computed below
        to_compute.push_back(key);
      }
    }
  }
  // 2. Compute the new keys in parallel.
  std::vector<LayerCost> results(to_compute.size());
  auto work = [&](std::size_t begin, std::size_t step) {
    for (std::size_t i = begin; i < to_compute.size(); i += step) {
      GemmLayer g;
      g.name = to_compute[i].to_string();
      g.K = to_compute[i].K;
      g.N = to_compute[i].N;
      g.M = to_compute[i].M;
      g.quantized = to_compute[i].quantized;
      g.geo = to_compute[i].geometry();
      results[i] = fast_layer_cost(hw_, g);
    }
  };
  const std::size_t nthreads = std::min<std::size_t>(static_cast<std::size_t>(threads_),
                                                     std::max<std::size_t>(1, to_compute.size() / 8));
  if (nthreads <= 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < nthreads; ++t) pool.emplace_back(work, t, nthreads);
    work(0, nthreads);
    for (auto& th : pool) th.join();
  }
  for (std::size_t i = 0; i < to_compute.size(); ++i) {
    memo_[to_compute[i]] = results[i];
    if (cache_) cache_->store(fingerprint, to_compute[i], hw_.bits, results[i]);
  }
  computed_ += static_cast<std::int64_t>(to_compute.size());
  // 3. Rebuild the per-layer index (cheap: pointers into memo_).
  for (int l = 0; l < num_layers(); ++l) {
    const auto& layer = net_.layers[static_cast<std::size_t>(l)];
    const auto& ins = input_candidates(l);
    const auto& outs = output_candidates(l);
    auto& grid = table_[static_cast<std::size_t>(l)];
    grid.assign(ins.size(), std::vector<const LayerCost*>(outs.size(), nullptr));
    for (std::size_t i = 0; i < ins.size(); ++i) {
      for (std::size_t o = 0; o < outs.size(); ++o) {
        grid[i][o] = &memo_.at(cost_key_for(layer, ins[i], outs[o]));
      }
    }
  }
}

const LayerCost& CostTable::cost(int layer, int ci, int co) const {
  return *table_.at(static_cast<std::size_t>(layer))
              .at(static_cast<std::size_t>(ci))
              .at(static_cast<std::size_t>(co));
}

const LayerCost& CostTable::cost_at_channels(int layer, int c_in, int c_out) const {
  const auto& ins = input_candidates(layer);
  const auto& outs = output_candidates(layer);
  auto i = std::find(ins.begin(), ins.end(), c_in);
  auto o = std::find(outs.begin(), outs.end(), c_out);
  if (i == ins.end() || o == outs.end()) {
    throw std::invalid_argument("cost table: layer " + net_.layers.at(layer).name +
                                " has no entry for c_in=" + std::to_string(c_in) +
                                " c_out=" + std::to_string(c_out));
  }
  return cost(layer, static_cast<int>(i - ins.begin()), static_cast<int>(o - outs.begin()));
}

}  // namespace nce::sim
