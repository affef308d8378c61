// Fast path: cycle counts and events derived by hand on small arrays (fold_plan.h, layer_cost.h).
#include "nce/sim/layer_cost.h"

#include <gtest/gtest.h>

#include "nce/sim/fold_plan.h"
#include "nce/sim/report.h"
#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::make_hw;

GemmLayer gemm(std::int64_t K, std::int64_t N, std::int64_t M, bool quantized = true) {
  GemmLayer g;
  g.name = "l";
  g.K = K;
  g.N = N;
  g.M = M;
  g.quantized = quantized;
  return g;
}

// OS on 4x4, GEMM K=6, N=5, M=3: Sr = N = 5 -> 2 row folds (4 rows, then 1), Sc = M = 3 -> 1
// column fold, T = K = 6. Each fold: T + R + C - 2 = 6 + 4 + 4 - 2 = 12 cycles -> 24.
TEST(FastPath, OutputStationaryByHand) {
  const HwConfig hw = make_hw(4, 4, "os");
  const LayerCost c = fast_layer_cost(hw, gemm(6, 5, 3));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.folds, 2);
  EXPECT_EQ(c.compute_cycles, 24);
  EXPECT_EQ(c.stall_cycles, 0);  // ample bandwidth, double-buffered
  EXPECT_EQ(c.cycles, 24);
  const auto& e = c.events;
  EXPECT_EQ(e.macs, 6 * 5 * 3);
  EXPECT_EQ(e.idle_pe_cycles, 16 * 24 - 90);
  EXPECT_EQ(e.ifmap_sram_reads, (4 + 1) * 6);  // r_used * T per fold
  EXPECT_EQ(e.filter_sram_reads, 2 * 3 * 6);   // c_used * T per fold
  EXPECT_EQ(e.ofmap_sram_writes, 4 * 3 + 1 * 3);
  EXPECT_EQ(e.ofmap_sram_reads, 15);              // outputs read once for the write-back
  EXPECT_EQ(e.ifmap_sram_writes, 6 * 4 + 6 * 1);  // tile per row fold
  EXPECT_EQ(e.filter_sram_writes, 6 * 3);         // one column fold: loaded once
  EXPECT_EQ(e.dram_ifmap_read_bits, 30 * 2);
  EXPECT_EQ(e.dram_filter_read_bits, 18 * 2);
  EXPECT_EQ(e.dram_ofmap_write_bits, 15 * 2);
  EXPECT_DOUBLE_EQ(c.utilization, 90.0 / (16 * 24));
}

// Same layer at B = 1/16 byte/cycle = 0.5 bit/cycle. Fold 1 loads 6 ifmap words * 2 bits = 12
// bits = 24 cycles, from t = 0 (double-buffered: its half is free) -> fold 1 starts at 24 instead
// of 12: 12 stall cycles, 36 in all. Group 0's 12 outputs * 2 bits = 48 cycles of writing do not
// block fold 1 (it uses the other psum half).
TEST(FastPath, StallsByHandDoubleBuffered) {
  const HwConfig hw = make_hw(4, 4, "os", 2, 16, 0.0625, true);
  const LayerCost c = fast_layer_cost(hw, gemm(6, 5, 3));
  EXPECT_EQ(c.compute_cycles, 24);
  EXPECT_EQ(c.stall_cycles, 12);
  EXPECT_EQ(c.cycles, 36);
}

// Single-buffered: fold 1's load may only start when fold 0 ends (12) -> arrives at 36; its psum
// buffer is free only once group 0 is written: 12 + 48 = 60. Fold 1 runs 60..72: 48 stalls.
TEST(FastPath, StallsByHandSingleBuffered) {
  const HwConfig hw = make_hw(4, 4, "os", 2, 16, 0.0625, false);
  const LayerCost c = fast_layer_cost(hw, gemm(6, 5, 3));
  EXPECT_EQ(c.stall_cycles, 48);
  EXPECT_EQ(c.cycles, 72);
}

// WS on 4x4, same GEMM: Sr = K = 6 -> row folds of 4 and 2 rows, Sc = M = 3, T = N = 5.
// Each fold 2R + C + T - 2 = 8 + 4 + 5 - 2 = 15 cycles -> 30.
TEST(FastPath, WeightStationaryByHand) {
  const HwConfig hw = make_hw(4, 4, "ws");
  const LayerCost c = fast_layer_cost(hw, gemm(6, 5, 3));
  EXPECT_EQ(c.folds, 2);
  EXPECT_EQ(c.cycles, 30);
  const auto& e = c.events;
  EXPECT_EQ(e.macs, 90);
  EXPECT_EQ(e.filter_sram_reads, 4 * 3 + 2 * 3);  // stationary tiles
  EXPECT_EQ(e.ifmap_sram_reads, (4 + 2) * 5);     // r_used * T
  EXPECT_EQ(e.ofmap_sram_writes, 2 * 5 * 3);      // T * c_used psums per fold
  EXPECT_EQ(e.ofmap_sram_reads, 5 * 3 + 15);      // fold 1 reads fold 0's psums; write-back
}

// IS on 4x4: Sr = K = 6 (4, 2 rows), Sc = N = 5 (4, 1 cols), T = M = 3: 4 folds of
// 8 + 4 + 3 - 2 = 13 cycles -> 52.
TEST(FastPath, InputStationaryByHand) {
  const HwConfig hw = make_hw(4, 4, "is");
  const LayerCost c = fast_layer_cost(hw, gemm(6, 5, 3));
  EXPECT_EQ(c.folds, 4);
  EXPECT_EQ(c.cycles, 52);
  EXPECT_EQ(c.events.macs, 90);
  EXPECT_EQ(c.events.ifmap_sram_reads, 16 + 8 + 4 + 2);  // stationary inputs
}

TEST(FastPath, FullPrecisionLayersRunBitSerialPasses) {
  EXPECT_EQ(full_precision_slices(2), 4);
  EXPECT_EQ(full_precision_slices(3), 3);
  EXPECT_EQ(full_precision_slices(5), 2);
  EXPECT_EQ(full_precision_slices(8), 1);
  EXPECT_EQ(full_precision_slices(16), 1);
  const LayerCost q = fast_layer_cost(make_hw(4, 4, "os"), gemm(6, 5, 3, true));
  for (int bits : {2, 3, 4, 8}) {
    const HwConfig hw = make_hw(4, 4, "os", bits, 32);
    const LayerCost fp = fast_layer_cost(hw, gemm(6, 5, 3, false));
    const int s = full_precision_slices(bits);
    EXPECT_EQ(fp.passes, s * s);
    EXPECT_EQ(fp.cycles, s * s * q.cycles) << bits;
    EXPECT_EQ(fp.events.macs, s * s * q.events.macs) << bits;
  }
}

TEST(FastPath, EnergyIsEventsTimesConfiguredEnergies) {
  const HwConfig hw = make_hw(4, 4, "ws", 2, 16, 0.5);
  const LayerCost c = fast_layer_cost(hw, gemm(20, 7, 9));
  const auto& e = c.events;
  const double mac = e.macs * 0.06;
  const double idle = e.idle_pe_cycles * 0.006;
  const double sram = (e.ifmap_sram_reads + e.ifmap_sram_writes) * 2 * 0.3 +
                      (e.filter_sram_reads + e.filter_sram_writes) * 2 * 0.2 +
                      (e.ofmap_sram_reads + e.ofmap_sram_writes) * 16 * 0.5;
  const double dram =
      (e.dram_ifmap_read_bits + e.dram_filter_read_bits + e.dram_ofmap_write_bits) * 8.0;
  EXPECT_DOUBLE_EQ(c.energy.mac_pj, mac);
  EXPECT_DOUBLE_EQ(c.energy.idle_pj, idle);
  EXPECT_DOUBLE_EQ(c.energy.sram_pj, sram);
  EXPECT_DOUBLE_EQ(c.energy.dram_pj, dram);
  EXPECT_NEAR(c.energy_pj, mac + idle + sram + dram, 1e-9 * c.energy_pj);
  EXPECT_GT(e.idle_pe_cycles, 0);
  EXPECT_EQ(e.idle_pe_cycles, 16 * c.cycles - e.macs);
}

TEST(FastPath, StallsAppearWhenBandwidthIsCutAndVanishWhenAmple) {
  const auto net = models::build_canonical("resnet20");
  for (const char* df : {"os", "ws", "is"}) {
    const auto ample = fast_network_report(make_hw(16, 16, df, 2, 16, 1e6), gemm_layers(net));
    const auto cut = fast_network_report(make_hw(16, 16, df, 2, 16, 0.25), gemm_layers(net));
    EXPECT_EQ(ample.stall_cycles, 0) << df;
    EXPECT_GT(cut.stall_cycles, 0) << df;
    EXPECT_GT(cut.total_cycles, ample.total_cycles) << df;
    EXPECT_EQ(cut.total_cycles - cut.stall_cycles, ample.total_cycles) << df;
  }
}

TEST(FastPath, LayerTooBigForTheSramIsAStatus) {
  // 4x4 OS, 1 KiB SRAMs (4096-bit halves): an ifmap tile of K * 4 rows * 2 bits = 8000 bits.
  const HwConfig hw = make_hw(4, 4, "os", 2, 16, 1e6, true, 1);
  const LayerCost c = fast_layer_cost(hw, gemm(1000, 16, 4));
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.status, CostStatus::kSramTooSmall);
  EXPECT_NE(c.status_detail.find("memory.ifmap_sram_kb"), std::string::npos) << c.status_detail;
  EXPECT_GE(c.cycles, kInfeasibleCycles);
  EXPECT_THROW(fast_network_report(hw, {gemm(1000, 16, 4)}), std::invalid_argument);
}

TEST(FoldPlan, ResidentOperandsAreFetchedOnce) {
  // OS, 2 column folds: with a resident ifmap the second column sweep fetches nothing new.
  const HwConfig big = make_hw(4, 4, "os", 2, 16, 1e6, true, 1024);
  const HwConfig small = make_hw(4, 4, "os", 2, 16, 1e6, true, 1);
  const auto p_big = make_fold_plan(big, 100, 40, 8);
  const auto p_small = make_fold_plan(small, 100, 40, 8);  // N*K*2 = 8000 bits > 4096
  EXPECT_TRUE(p_big.ifmap_resident);
  EXPECT_FALSE(p_small.ifmap_resident);
  auto ifmap_words = [](const FoldPlan& p) {
    std::int64_t w = 0;
    for (std::int64_t i = 0; i < p.num_folds(); ++i) w += fold_at(p, i).ifmap_load_words;
    return w;
  };
  EXPECT_EQ(ifmap_words(p_big), 100 * 40);
  EXPECT_EQ(ifmap_words(p_small), 2 * 100 * 40);
}

}  // namespace
}  // namespace nce::sim
