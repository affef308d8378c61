// The SQLite cost cache returns exactly what was stored (every LayerCost field, infeasible
// entries included), across connections, and plugs into sim::CostTable.
#include "nce/results/sqlite_cost_cache.h"

#include <cmath>

#include <gtest/gtest.h>

#include "nce/sim/cost_table.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::ScratchFile;

sim::LayerCost sample_cost() {
  sim::LayerCost c;
  c.passes = 16;
  c.folds = 37;
  c.cycles = 123456789012LL;
  c.compute_cycles = 123456000000LL;
  c.stall_cycles = 789012;
  c.utilization = 0.734375;
  c.energy.mac_pj = 1.5;
  c.energy.sram_pj = 2.25;
  c.energy.dram_pj = 1e9 + 0.125;
  c.energy.idle_pj = 0.0625;
  c.energy_pj = c.energy.total_pj();
  c.events.macs = 1;
  c.events.idle_pe_cycles = 2;
  c.events.ifmap_sram_reads = 3;
  c.events.ifmap_sram_writes = 4;
  c.events.filter_sram_reads = 5;
  c.events.filter_sram_writes = 6;
  c.events.ofmap_sram_reads = 7;
  c.events.ofmap_sram_writes = 8;
  c.events.dram_ifmap_read_bits = 9;
  c.events.dram_filter_read_bits = 10;
  c.events.dram_ofmap_write_bits = 11;
  return c;
}

TEST(SqliteCostCache, RoundTripsEveryFieldAcrossConnections) {
  ScratchFile file;
  sim::CostKey key{144, 1024, 16, true, models::LayerKind::kConv};
  sim::CostKey fc{64, 1, 10, false, models::LayerKind::kFC};
  sim::LayerCost bad;
  bad.status = sim::CostStatus::kSramTooSmall;
  bad.status_detail = "memory.ofmap_sram_kb: short by 4096 bits";
  bad.cycles = sim::kInfeasibleCycles;
  bad.energy_pj = INFINITY;
  {
    SqliteCostCache cache(file.path());
    EXPECT_FALSE(cache.lookup("fp", key, 2).has_value());
    cache.store("fp", key, 2, sample_cost());
    cache.store("fp", fc, 2, bad);
    EXPECT_TRUE(cache.lookup("fp", key, 2).has_value());  // buffered entries are visible
  }
  SqliteCostCache cache(file.path());
  auto got = cache.lookup("fp", key, 2);
  ASSERT_TRUE(got.has_value());
  sim::LayerCost want = sample_cost();
  EXPECT_EQ(got->status, want.status);
  EXPECT_EQ(got->passes, want.passes);
  EXPECT_EQ(got->folds, want.folds);
  EXPECT_EQ(got->cycles, want.cycles);
  EXPECT_EQ(got->compute_cycles, want.compute_cycles);
  EXPECT_EQ(got->stall_cycles, want.stall_cycles);
  EXPECT_EQ(got->utilization, want.utilization);
  EXPECT_EQ(got->energy_pj, want.energy_pj);
  EXPECT_EQ(got->energy.dram_pj, want.energy.dram_pj);
  EXPECT_EQ(got->energy.idle_pj, want.energy.idle_pj);
  EXPECT_TRUE(got->events == want.events);
  // Other bits, fingerprint or key: misses.
  EXPECT_FALSE(cache.lookup("fp", key, 4).has_value());
  EXPECT_FALSE(cache.lookup("fp2", key, 2).has_value());
  sim::CostKey other = key;
  other.quantized = false;
  EXPECT_FALSE(cache.lookup("fp", other, 2).has_value());
  auto infeasible = cache.lookup("fp", fc, 2);
  ASSERT_TRUE(infeasible.has_value());
  EXPECT_FALSE(infeasible->ok());
  EXPECT_EQ(infeasible->status_detail, bad.status_detail);
  EXPECT_TRUE(std::isinf(infeasible->energy_pj));
}

TEST(SqliteCostCache, FillsAndServesACostTable) {
  ScratchFile file;
  sim::HwConfig hw =
      sim::load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/mid-32x32-os-2b.cfg");
  models::Network net = models::build_canonical("resnet8");
  std::vector<std::vector<int>> candidates(net.widths.size());
  for (size_t w = 1; w < net.widths.size(); ++w) {
    candidates[w] = {net.widths[w] / 2, net.widths[w]};
  }
  std::int64_t computed_first = 0;
  {
    SqliteCostCache cache(file.path());
    sim::CostTable table(hw, net, candidates, &cache, 2);
    computed_first = table.computed();
    EXPECT_GT(computed_first, 0);
  }
  SqliteCostCache cache(file.path());
  sim::CostTable cached(hw, net, candidates, &cache, 2);
  EXPECT_EQ(cached.computed(), 0);
  EXPECT_EQ(cached.cache_hits(), computed_first);
  sim::CostTable fresh(hw, net, candidates, nullptr, 2);
  for (int l = 0; l < fresh.num_layers(); ++l) {
    EXPECT_EQ(cached.cost(l, 0, 0).cycles, fresh.cost(l, 0, 0).cycles);
    EXPECT_EQ(cached.cost(l, 0, 0).energy_pj, fresh.cost(l, 0, 0).energy_pj);
  }
}

}  // namespace
}  // namespace nce::results
