// The latency term sees the array's folding: on a 16-wide array, 17..32 output channels cost the
// same cycles as 32. A search that must keep the cycles under a budget while it is pushed to use
// as many MACs as it can (so it wants every channel a fold pays for) settles on widths that fill
// the array's 16 columns; the same push under a MACs budget of the same ratio does not.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nce/record/recorded_search.h"
#include "nce/search/search_run.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost_service.h"
#include "short_search.h"

namespace nce::search {
namespace {

// n 3x8x8 images of uniform noise, labels 0..3 in turn.
nn::Dataset noise_data(int n, std::uint64_t seed) {
  nn::Dataset d{"noise", /*channels=*/3, /*height=*/8, /*width=*/8, /*num_classes=*/4, {}, {}};
  std::mt19937_64 rng(seed);
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < 3 * 64; ++p) d.pixels.push_back(static_cast<std::uint8_t>(rng() % 256));
    d.labels.push_back(static_cast<std::uint8_t>(i % 4));
  }
  return d;
}

// Fraction of the derived searchable widths (stem excluded) that are multiples of 16.
double multiples_of_16(const std::vector<int>& widths) {
  int hits = 0, n = 0;
  for (size_t i = 2; i < widths.size(); ++i, ++n) hits += widths[i] % 16 == 0;
  return static_cast<double>(hits) / n;
}

TEST(SearchLatency, ALatencyBudgetOnA16WideArrayFavoursMultiplesOf16) {
  const sim::HwConfig hw_config =
      sim::load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  ASSERT_EQ(hw_config.cols, 16);
  // The layer costs as nce search asks them (sim::LayerCostService through campaign's adapter).
  sim::LayerCostService costs(hw_config);
  const HardwareCosts hw = record::hardware_costs(costs);
  const nn::Dataset data = noise_data(128, 5);
  SearchConfig c = testing::short_search("tas", "noise", /*warmup_epochs=*/0, /*search_epochs=*/5,
                                         /*max_batches=*/2);
  c.params.lambda = 0;
  double latency_fraction = 0, flops_fraction = 0;
  for (std::uint64_t seed : {1, 2, 3}) {
    c.seed = seed;
    // Cycles capped at 60% of the original, MACs pushed up (a target of twice the original).
    c.latency = {5.0, 0.6};
    c.flops = {5.0, 2.0};
    const SearchResult lat = run_search(c, data, data, hw);
    // The same push for MACs, with the cap on MACs instead of cycles.
    c.latency = {0.0, 1.0};
    c.flops = {5.0, 0.6};
    const SearchResult mac = run_search(c, data, data, hw);
    latency_fraction += multiples_of_16(lat.final.widths) / 3;
    flops_fraction += multiples_of_16(mac.final.widths) / 3;
  }
  std::printf("multiples of 16: latency-capped %.2f, MACs-capped %.2f\n", latency_fraction,
              flops_fraction);
  EXPECT_GT(latency_fraction, flops_fraction + 0.15);
}

}  // namespace
}  // namespace nce::search
