#include "nce/sim/layer_cost_service.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::make_hw;

TEST(LayerCostService, AnswersTheFastPathAtAnyWidthsAndMemoizesOnTheLayerKey) {
  const HwConfig hw = make_hw(16, 16, "ws");
  const models::Network net = models::build_canonical("resnet20");
  LayerCostService costs(hw);
  for (const auto& layer : net.layers) {
    for (int scale : {1, 2}) {
      models::Layer wide = layer;
      wide.c_out = layer.c_out * scale;
      const LayerCost ref = fast_layer_cost(hw, wide);
      const LayerCost& got = costs.cost(layer, layer.c_in, wide.c_out);
      EXPECT_EQ(got.cycles, ref.cycles) << layer.name;
      EXPECT_EQ(got.stall_cycles, ref.stall_cycles) << layer.name;
      EXPECT_DOUBLE_EQ(got.energy_pj, ref.energy_pj) << layer.name;
      EXPECT_EQ(got.events, ref.events) << layer.name;
    }
  }
  // ResNet-20 repeats layer keys: fewer evaluations than questions; asking again computes nothing.
  const std::int64_t computed = costs.computed();
  EXPECT_LT(computed, static_cast<std::int64_t>(2 * net.layers.size()));
  for (const auto& layer : net.layers) costs.cost(layer, layer.c_in, layer.c_out);
  EXPECT_EQ(costs.computed(), computed);
  EXPECT_EQ(costs.cache_hits(), 0);
}

TEST(LayerCostService, ASecondServiceOnTheSameCacheComputesNothing) {
  const HwConfig hw = make_hw(8, 8, "os");
  const models::Network net = models::build_canonical("resnet8");
  MemoryCostCache cache;
  LayerCostService first(hw, &cache);
  for (const auto& layer : net.layers) first.cost(layer, layer.c_in, layer.c_out);
  EXPECT_EQ(cache.size(), static_cast<std::size_t>(first.computed()));
  LayerCostService second(hw, &cache);
  for (const auto& layer : net.layers) {
    EXPECT_EQ(second.cost(layer, layer.c_in, layer.c_out).cycles,
              first.cost(layer, layer.c_in, layer.c_out).cycles);
  }
  EXPECT_EQ(second.computed(), 0);
  EXPECT_EQ(second.cache_hits(), first.computed());
  // Another config's entries are not its.
  LayerCostService other(make_hw(8, 8, "ws"), &cache);
  other.cost(net.layers.front(), net.layers.front().c_in, net.layers.front().c_out);
  EXPECT_EQ(other.cache_hits(), 0);
  EXPECT_EQ(other.computed(), 1);
}

// One policy for a layer the array cannot map: cost() returns the status (what a sweep records),
// mappable_cost() throws naming the config, the layer and the widths (what a search needs); the
// status is cached like any cost, so the next process does not compute it again either.
TEST(LayerCostService, AnUnmappableLayerIsAStatusOrAnErrorNamingHwLayerAndWidths) {
  HwConfig hw = make_hw(16, 16, "ws");
  hw.dram_bytes_per_cycle = 1e-20;  // beyond the parser's bounds: counts leave their range
  hw.source = "tiny-dram.cfg";
  const models::Network net = models::build_canonical("resnet20");
  const models::Layer& layer = net.layer("s1b1.conv_a");
  MemoryCostCache cache;
  LayerCostService costs(hw, &cache);
  const LayerCost& c = costs.cost(layer, 16, 32);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status, CostStatus::kOverflow);
  try {
    costs.mappable_cost(layer, 16, 32);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("tiny-dram.cfg"), std::string::npos) << what;
    EXPECT_NE(what.find("s1b1.conv_a"), std::string::npos) << what;
    EXPECT_NE(what.find("16->32"), std::string::npos) << what;
    EXPECT_NE(what.find("range"), std::string::npos) << what;
  }
  EXPECT_EQ(costs.computed(), 1);
  LayerCostService again(hw, &cache);
  EXPECT_EQ(again.cost(layer, 16, 32).status, CostStatus::kOverflow);
  EXPECT_EQ(again.computed(), 0);
}

// prepare() is how sim::CostTable fills its grid: the same memo as cost(), the cache asked first
// and told after, every missing key computed once whatever the thread count.
TEST(LayerCostService, PrepareAsksTheCacheComputesEachMissingKeyOnceAndSharesTheMemo) {
  const HwConfig hw = make_hw(8, 8, "is", 2, 16, 2.0);
  const models::Network net = models::build_canonical("resnet8");
  std::vector<CostKey> keys;
  std::set<CostKey> distinct;
  for (const auto& layer : net.layers) {
    for (int c_out : {layer.c_out, layer.c_out + 3}) {
      keys.push_back(cost_key_for(layer, layer.c_in, c_out));
      distinct.insert(keys.back());
    }
  }
  keys.push_back(keys.front());  // asked twice, computed once
  MemoryCostCache cache;
  LayerCostService first(hw, &cache);
  first.cost(net.layers.front(), net.layers.front().c_in, net.layers.front().c_out);
  ASSERT_EQ(first.computed(), 1);
  first.prepare(keys, 3);
  EXPECT_EQ(first.computed(), static_cast<std::int64_t>(distinct.size()));
  EXPECT_EQ(first.cache_hits(), 0);
  EXPECT_EQ(cache.size(), distinct.size());
  for (const auto& layer : net.layers) {
    for (int c_out : {layer.c_out, layer.c_out + 3}) {
      models::Layer changed = layer;
      changed.c_out = c_out;
      const LayerCost ref = fast_layer_cost(hw, changed);
      const LayerCost& got = first.known(cost_key_for(layer, layer.c_in, c_out));
      EXPECT_EQ(got.cycles, ref.cycles) << layer.name;
      EXPECT_EQ(got.events, ref.events) << layer.name;
      EXPECT_DOUBLE_EQ(got.energy_pj, ref.energy_pj) << layer.name;
      EXPECT_EQ(&first.cost(layer, layer.c_in, c_out), &got) << layer.name;  // one memo
    }
  }
  EXPECT_EQ(first.computed(), static_cast<std::int64_t>(distinct.size()));
  EXPECT_THROW(first.known(cost_key_for(net.layers.front(), 1, 1)), std::out_of_range);
  // A second service on the cache: every key a hit, one thread or several.
  LayerCostService second(hw, &cache);
  second.prepare(keys, 1);
  EXPECT_EQ(second.computed(), 0);
  EXPECT_EQ(second.cache_hits(), static_cast<std::int64_t>(distinct.size()));
}

// A key the fast path refuses throws from prepare(), on one thread or several, and leaves nothing
// half-made in the memo.
TEST(LayerCostService, PrepareThrowsForAKeyTheFastPathRefusesAndMemoizesNoneOfItsBatch) {
  const HwConfig hw = make_hw(8, 8, "os");
  const models::Network net = models::build_canonical("resnet20");
  CostKey bad = cost_key_for(net.layers.front(), 3, 16);
  bad.K = 0;  // no channels: not a GEMM
  for (int threads : {1, 4}) {
    std::vector<CostKey> keys;
    for (const auto& layer : net.layers) {
      for (int extra : {0, 1, 2}) {  // enough distinct keys (> 16) for worker threads
        keys.push_back(cost_key_for(layer, layer.c_in, layer.c_out + extra));
      }
    }
    keys.push_back(bad);
    LayerCostService costs(hw);
    EXPECT_THROW(costs.prepare(keys, threads), std::invalid_argument) << threads;
    EXPECT_THROW(costs.known(bad), std::out_of_range) << threads;
    EXPECT_THROW(costs.known(keys.front()), std::out_of_range) << threads;
    EXPECT_EQ(costs.computed(), 0) << threads;
    keys.pop_back();
    costs.prepare(keys, threads);
    EXPECT_EQ(costs.known(keys.front()).cycles, fast_layer_cost(hw, net.layers.front()).cycles)
        << threads;
  }
}

}  // namespace
}  // namespace nce::sim
