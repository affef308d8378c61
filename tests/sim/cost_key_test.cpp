// The layer-cost key and the in-memory cache. The key's text and the hw fingerprint are what
// result databases store (the cost_cache table): the rows below were read from a campaign's
// database (results/campaigns/cifar10-resnet20-w2a2.db, written by main at cost model 2), so a
// change that moves a key, a fingerprint or a cost fails here, not in a running campaign. A change
// of the cost model bumps kCostModelVersion and updates these rows with it.
#include "nce/sim/cost_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "nce/sim/layer_cost_service.h"
#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::make_hw;

models::Layer conv(int k, int stride, int pad, int h_in, int h_out, bool quantized) {
  models::Layer l;
  l.name = "conv";
  l.kind = models::LayerKind::kConv;
  l.k = k;
  l.stride = stride;
  l.pad = pad;
  l.h_in = l.w_in = h_in;
  l.h_out = l.w_out = h_out;
  l.quantized = quantized;
  return l;
}

models::Layer fc() {
  models::Layer l = conv(1, 1, 0, 1, 1, false);
  l.name = "fc";
  l.kind = models::LayerKind::kFC;
  return l;
}

struct StoredRow {
  models::Layer layer;
  int c_in, c_out;
  const char* key;
  int passes;
  std::int64_t folds, cycles, stall_cycles, macs, dram_ifmap_bits, dram_filter_bits,
      dram_ofmap_bits;
  double energy_pj;
};

const char* const kEdgeFingerprint =
    "cost_model=2;array.rows=16;array.cols=16;array.bits=2;array.acc_bits=16;array.dataflow=ws;"
    "memory.ifmap_sram_kb=32;memory.filter_sram_kb=16;memory.ofmap_sram_kb=64;"
    "memory.double_buffered=true;memory.dram_bytes_per_cycle=4;clock.mhz=2e+02;"
    "energy.mac_pj=0.06;energy.idle_pe_pj=0.006;energy.ifmap_sram_pj_per_bit=0.31;"
    "energy.filter_sram_pj_per_bit=0.16;energy.ofmap_sram_pj_per_bit=0.31;"
    "energy.dram_pj_per_bit=20.3";

TEST(CostKey, KeysFingerprintAndCostsAreThoseResultDatabasesStore) {
  const HwConfig hw =
      load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  EXPECT_EQ(hw.fingerprint(), kEdgeFingerprint);
  const StoredRow rows[] = {
      {conv(3, 2, 1, 32, 16, true), 12, 32,
       "K=108;N=256;M=32;q=1;kind=conv;k=3;s=2;p=1;in=32x32;wo=16", 1, 14, 4228, 0, 884736, 24576,
       6912, 16384, 1639037.952},
      {conv(1, 1, 0, 32, 32, false), 11, 16,
       "K=11;N=1024;M=16;q=0;kind=conv;k=1;s=1;p=0;in=32x32;wo=32", 16, 1, 17120, 0, 2883584,
       360448, 5632, 524288, 21082228.736},
      {fc(), 57, 10, "K=57;N=1;M=10;q=0;kind=fc;k=1;s=1;p=0;in=1x1;wo=1", 16, 4, 3008, 0, 9120,
       1824, 18240, 320, 432224.448},
  };
  LayerCostService costs(hw);
  for (const StoredRow& row : rows) {
    const CostKey key = cost_key_for(row.layer, row.c_in, row.c_out);
    EXPECT_EQ(key.to_string(), row.key);
    const LayerCost& c = costs.cost(row.layer, row.c_in, row.c_out);
    ASSERT_TRUE(c.ok()) << row.key;
    EXPECT_EQ(c.passes, row.passes) << row.key;
    EXPECT_EQ(c.folds, row.folds) << row.key;
    EXPECT_EQ(c.cycles, row.cycles) << row.key;
    EXPECT_EQ(c.compute_cycles, row.cycles) << row.key;
    EXPECT_EQ(c.stall_cycles, row.stall_cycles) << row.key;
    EXPECT_EQ(c.events.macs, row.macs) << row.key;
    EXPECT_EQ(c.events.dram_ifmap_read_bits, row.dram_ifmap_bits) << row.key;
    EXPECT_EQ(c.events.dram_filter_read_bits, row.dram_filter_bits) << row.key;
    EXPECT_EQ(c.events.dram_ofmap_write_bits, row.dram_ofmap_bits) << row.key;
    EXPECT_NEAR(c.energy_pj, row.energy_pj, 1e-9 * row.energy_pj) << row.key;
  }
}

TEST(CostKey, StandsForTheLayersConvGeometry) {
  const models::Network net = models::build_canonical("resnet20");
  for (const auto& layer : net.layers) {
    models::Layer half = layer;
    half.c_out = std::max(1, layer.c_out / 2);
    const CostKey key = cost_key_for(layer, layer.c_in, half.c_out);
    EXPECT_EQ(key.geometry(), geometry_of(half)) << layer.name;
    EXPECT_EQ(key.K, half.gemm().K) << layer.name;
    EXPECT_EQ(key.N, half.gemm().N) << layer.name;
    EXPECT_EQ(key.M, half.gemm().M) << layer.name;
    EXPECT_TRUE(key == cost_key_for(half, half.c_in, half.c_out)) << layer.name;
    EXPECT_FALSE(key < cost_key_for(half, half.c_in, half.c_out)) << layer.name;
  }
  // Same GEMM shape, another stride and map: another key.
  const CostKey a = cost_key_for(conv(3, 1, 1, 16, 16, true), 8, 8);
  const CostKey b = cost_key_for(conv(3, 2, 1, 32, 16, true), 8, 8);
  EXPECT_EQ(a.K, b.K);
  EXPECT_EQ(a.N, b.N);
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.to_string(), b.to_string());
}

TEST(MemoryCostCache, KeysOnFingerprintLayerKeyAndBits) {
  const HwConfig hw = make_hw(8, 8, "os");
  const models::Layer layer = conv(3, 1, 1, 8, 8, true);
  const CostKey key = cost_key_for(layer, 4, 4);
  MemoryCostCache cache;
  EXPECT_FALSE(cache.lookup(hw.fingerprint(), key, hw.bits));
  LayerCost cost;
  cost.cycles = 1234;
  cache.store(hw.fingerprint(), key, hw.bits, cost);
  ASSERT_TRUE(cache.lookup(hw.fingerprint(), key, hw.bits));
  EXPECT_EQ(cache.lookup(hw.fingerprint(), key, hw.bits)->cycles, 1234);
  EXPECT_FALSE(cache.lookup(hw.fingerprint(), key, hw.bits + 1));
  EXPECT_FALSE(cache.lookup(hw.fingerprint(), cost_key_for(layer, 4, 5), hw.bits));
  EXPECT_FALSE(cache.lookup(make_hw(8, 8, "ws").fingerprint(), key, hw.bits));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.lookups, 6);
  EXPECT_EQ(cache.hits, 2);
}

}  // namespace
}  // namespace nce::sim
