#include "nce/sim/cost_table.h"

#include <algorithm>
#include <stdexcept>

namespace nce::sim {

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
    : costs_(std::move(hw), cache),
      net_(std::move(net)),
      candidates_(std::move(candidates)),
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
  // Every pair's key, in layer and candidate order (the order the cache is asked and told in).
  std::vector<CostKey> keys;
  for (int l = 0; l < num_layers(); ++l) {
    const auto& layer = net_.layers[static_cast<std::size_t>(l)];
    for (int ci : input_candidates(l)) {
      for (int co : output_candidates(l)) keys.push_back(cost_key_for(layer, ci, co));
    }
  }
  costs_.prepare(keys, threads_);
  // The per-layer index (cheap: pointers into the service's memo).
  std::size_t next = 0;
  for (int l = 0; l < num_layers(); ++l) {
    const auto& ins = input_candidates(l);
    const auto& outs = output_candidates(l);
    auto& grid = table_[static_cast<std::size_t>(l)];
    grid.assign(ins.size(), std::vector<const LayerCost*>(outs.size(), nullptr));
    for (std::size_t i = 0; i < ins.size(); ++i) {
      for (std::size_t o = 0; o < outs.size(); ++o) grid[i][o] = &costs_.known(keys[next++]);
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
