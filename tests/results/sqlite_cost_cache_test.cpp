// The SQLite cost cache returns exactly what was stored (every LayerCost field, infeasible
// entries included), across connections, and plugs into sim::CostTable.
#include "nce/results/sqlite_cost_cache.h"

#include <cmath>

#include <gtest/gtest.h>

#include "nce/results/schema.h"
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

namespace nce::results {
namespace {

TEST(SqliteCostCache, LayersWithOneGemmShapeButOtherGeometryAreSeparateEntries) {
  // A stride-2 3x3 conv on 32x32 and a stride-1 3x3 conv on 16x16 lower to the same GEMM
  // (K = 144, N = 256, M = 32) but reuse their inputs differently: two cache entries.
  models::Layer a;
  a.name = "a";
  a.c_in = 16, a.c_out = 32, a.k = 3, a.stride = 2, a.pad = 1;
  a.h_in = a.w_in = 32;
  a.h_out = a.w_out = 16;
  models::Layer b = a;
  b.stride = 1;
  b.h_in = b.w_in = 16;
  const sim::CostKey ka = sim::cost_key_for(a, 16, 32), kb = sim::cost_key_for(b, 16, 32);
  ASSERT_EQ(ka.K, kb.K);
  ASSERT_EQ(ka.N, kb.N);
  ASSERT_EQ(ka.M, kb.M);
  ScratchFile file;
  sim::LayerCost ca = sample_cost(), cb = sample_cost();
  cb.cycles = 42;
  {
    SqliteCostCache cache(file.path());
    cache.store("fp", ka, 2, ca);
    cache.store("fp", kb, 2, cb);
  }
  SqliteCostCache cache(file.path());
  ASSERT_TRUE(cache.lookup("fp", ka, 2).has_value());
  ASSERT_TRUE(cache.lookup("fp", kb, 2).has_value());
  EXPECT_EQ(cache.lookup("fp", ka, 2)->cycles, ca.cycles);
  EXPECT_EQ(cache.lookup("fp", kb, 2)->cycles, 42);
}

TEST(SqliteCostCache, VersionTwoRowsSurviveTheMigrationUnderTheirGemmKey) {
  ScratchFile file;
  // A current database turned back into version 2's cost_cache layout, with one cached row.
  {
    Database db(file.path());
    db.write_transaction([&] {
      db.exec("DROP TABLE cost_cache");
      db.exec(
          "CREATE TABLE cost_cache (hw_fingerprint TEXT NOT NULL, gemm_k INTEGER NOT NULL, "
          "gemm_n INTEGER NOT NULL, gemm_m INTEGER NOT NULL, quantized INTEGER NOT NULL, kind "
          "TEXT NOT NULL, bits INTEGER NOT NULL, status TEXT NOT NULL, status_detail TEXT, passes "
          "INTEGER NOT NULL, folds INTEGER NOT NULL, cycles INTEGER NOT NULL, compute_cycles "
          "INTEGER NOT NULL, stall_cycles INTEGER NOT NULL, utilization REAL, energy_pj REAL, "
          "mac_pj REAL, sram_pj REAL, dram_pj REAL, idle_pj REAL, macs INTEGER NOT NULL, "
          "idle_pe_cycles INTEGER NOT NULL, ifmap_sram_reads INTEGER NOT NULL, ifmap_sram_writes "
          "INTEGER NOT NULL, filter_sram_reads INTEGER NOT NULL, filter_sram_writes INTEGER NOT "
          "NULL, ofmap_sram_reads INTEGER NOT NULL, ofmap_sram_writes INTEGER NOT NULL, "
          "dram_ifmap_read_bits INTEGER NOT NULL, dram_filter_read_bits INTEGER NOT NULL, "
          "dram_ofmap_write_bits INTEGER NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY "
          "(hw_fingerprint, gemm_k, gemm_n, gemm_m, quantized, kind, bits)) WITHOUT ROWID");
      db.exec(
          "INSERT INTO cost_cache VALUES ('fp', 64, 1, 10, 0, 'fc', 2, 'ok', '', 16, 1, 777, "
          "777, 0, 0.5, 1.0, 0.25, 0.25, 0.25, 0.25, 640, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, "
          "'2026-01-01T00:00:00Z')");
      db.exec("ALTER TABLE runs DROP COLUMN arm");  // v6's columns
      db.exec("ALTER TABLE runs DROP COLUMN campaign");
      db.exec("PRAGMA user_version = 2");
    });
  }
  Database db(file.path());  // migrates to the current version
  EXPECT_EQ(db.schema_version(), current_schema_version());
  EXPECT_EQ(db.query_int("SELECT count(*) FROM cost_cache"), 1);
  SqliteCostCache cache(file.path());
  const sim::CostKey fc{64, 1, 10, false, models::LayerKind::kFC};
  ASSERT_TRUE(cache.lookup("fp", fc, 2).has_value());
  EXPECT_EQ(cache.lookup("fp", fc, 2)->cycles, 777);
}

}  // namespace
}  // namespace nce::results
