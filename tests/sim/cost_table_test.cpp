#include "nce/sim/cost_table.h"

#include <gtest/gtest.h>

#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::make_hw;

HwConfig preset(const char* name) {
  return load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/" + name + ".cfg");
}

TEST(CostTable, DefaultWidthsEqualTheFastPathPerLayer) {
  const HwConfig hw = preset("mid-32x32-os-2b");
  const auto net = models::build_canonical("resnet20");
  CostTable table(hw, net, {});
  ASSERT_EQ(table.num_layers(), static_cast<int>(net.layers.size()));
  for (int l = 0; l < table.num_layers(); ++l) {
    const auto& layer = net.layers[static_cast<std::size_t>(l)];
    const LayerCost& c = table.cost(l, 0, 0);
    const LayerCost ref = fast_layer_cost(hw, layer);
    EXPECT_EQ(c.cycles, ref.cycles) << layer.name;
    EXPECT_EQ(c.stall_cycles, ref.stall_cycles) << layer.name;
    EXPECT_DOUBLE_EQ(c.energy_pj, ref.energy_pj) << layer.name;
    EXPECT_EQ(&table.cost_at_channels(l, layer.c_in, layer.c_out), &c);
  }
}

TEST(CostTable, EveryPairOfCandidatesAndAppendedCandidates) {
  const HwConfig hw = make_hw(8, 8, "ws", 2, 16, 2.0);
  const auto net = models::build_canonical("resnet8");
  std::vector<std::vector<int>> cands(net.widths.size());
  for (std::size_t w = 1; w < cands.size(); ++w) cands[w] = {net.widths[w], net.widths[w] / 2};
  CostTable table(hw, net, cands);
  const std::int64_t before = table.computed();
  // The stem: fixed input (3 channels), output candidates of width index 1.
  const auto& stem = net.layers[0];
  ASSERT_EQ(table.input_candidates(0).size(), 1u);
  ASSERT_EQ(table.output_candidates(0).size(), 2u);
  const int pos = table.add_candidate(stem.out_width_index, 24);
  EXPECT_EQ(pos, 2);
  EXPECT_EQ(table.add_candidate(stem.out_width_index, 24), 2);  // already there
  EXPECT_GT(table.computed(), before);
  for (int l = 0; l < table.num_layers(); ++l) {
    const auto& layer = net.layers[static_cast<std::size_t>(l)];
    for (int ci : table.input_candidates(l)) {
      for (int co : table.output_candidates(l)) {
        models::Layer changed = layer;
        changed.c_in = ci;
        changed.c_out = co;
        const LayerCost ref = fast_layer_cost(hw, changed);
        const LayerCost& got = table.cost_at_channels(l, ci, co);
        EXPECT_EQ(got.cycles, ref.cycles) << layer.name << " " << ci << "x" << co;
        EXPECT_EQ(got.stall_cycles, ref.stall_cycles);
        EXPECT_DOUBLE_EQ(got.energy_pj, ref.energy_pj);
      }
    }
  }
  EXPECT_THROW(table.cost_at_channels(0, 3, 999), std::invalid_argument);
  EXPECT_THROW(table.add_candidate(0, 4), std::invalid_argument);
  EXPECT_THROW(table.add_candidate(1, 0), std::invalid_argument);
}

TEST(CostTable, MemoizesOnShapeAndUsesTheCache) {
  const HwConfig hw = preset("edge-16x16-ws-2b");
  const auto net = models::build_canonical("resnet20");
  MemoryCostCache cache;
  CostTable first(hw, net, {}, &cache);
  // ResNet-20 repeats shapes: far fewer evaluations than layers.
  EXPECT_LT(first.computed(), static_cast<std::int64_t>(net.layers.size()));
  EXPECT_EQ(cache.size(), static_cast<std::size_t>(first.computed()));
  CostTable second(hw, net, {}, &cache);
  EXPECT_EQ(second.computed(), 0);
  EXPECT_EQ(second.cache_hits(), first.computed());
  for (int l = 0; l < first.num_layers(); ++l) {
    EXPECT_EQ(first.cost(l, 0, 0).cycles, second.cost(l, 0, 0).cycles);
  }
  // Another config does not hit the first one's entries.
  CostTable other(with_overrides(hw, {{"memory.dram_bytes_per_cycle", "1"}}), net, {}, &cache);
  EXPECT_EQ(other.cache_hits(), 0);
}

TEST(CostTable, ThreadCountDoesNotChangeResults) {
  const HwConfig hw = make_hw(16, 16, "is", 2, 16, 1.0);
  const auto net = models::build_canonical("resnet20");
  std::vector<std::vector<int>> cands(net.widths.size());
  for (std::size_t w = 1; w < cands.size(); ++w) {
    for (int m = 1; m <= 6; ++m) cands[w].push_back(net.widths[w] * m / 4 + 1);
  }
  CostTable one(hw, net, cands, nullptr, 1);
  CostTable two(hw, net, cands, nullptr, 2);
  for (int l = 0; l < one.num_layers(); ++l) {
    for (std::size_t i = 0; i < one.input_candidates(l).size(); ++i) {
      for (std::size_t o = 0; o < one.output_candidates(l).size(); ++o) {
        const auto& a = one.cost(l, static_cast<int>(i), static_cast<int>(o));
        const auto& b = two.cost(l, static_cast<int>(i), static_cast<int>(o));
        ASSERT_EQ(a.cycles, b.cycles);
        ASSERT_EQ(a.events, b.events);
      }
    }
  }
}

TEST(CostTable, RejectsBadCandidates) {
  const HwConfig hw = make_hw(8, 8, "os");
  const auto net = models::build_canonical("resnet8");
  std::vector<std::vector<int>> wrong_size(2);
  EXPECT_THROW(CostTable(hw, net, wrong_size), std::invalid_argument);
  std::vector<std::vector<int>> bad_input(net.widths.size());
  bad_input[0] = {5};
  EXPECT_THROW(CostTable(hw, net, bad_input), std::invalid_argument);
  std::vector<std::vector<int>> zero(net.widths.size());
  zero[1] = {0};
  EXPECT_THROW(CostTable(hw, net, zero), std::invalid_argument);
}

}  // namespace
}  // namespace nce::sim
