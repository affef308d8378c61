// Fast path: cycle counts and events derived by hand on small arrays (fold_plan.h, layer_cost.h).
#include "nce/sim/layer_cost.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nce/sim/fold_plan.h"
#include "nce/sim/report.h"
#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::conv;
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

// A plain GEMM is a 1x1 conv (gemm_geometry): no overlapping windows, so a tile's DRAM words
// are its im2col words. OS 4x4, K=100, N=40, M=8: 10 row folds x 2 column folds. With a resident
// ifmap the second column sweep fetches nothing; with 1 KiB SRAMs (4096-bit halves,
// N*K*2 = 8000 bits) every fold fetches its 4 x 100 tile again.
TEST(FoldPlan, ResidentOperandsAreFetchedOnce) {
  const HwConfig big = make_hw(4, 4, "os", 2, 16, 1e6, true, 1024);
  const HwConfig small = make_hw(4, 4, "os", 2, 16, 1e6, true, 1);
  const auto p_big = make_fold_plan(big, 100, 40, 8);
  const auto p_small = make_fold_plan(small, 100, 40, 8);
  EXPECT_TRUE(p_big.ifmap_resident);
  EXPECT_FALSE(p_small.ifmap_resident);
  auto ifmap_words = [](const FoldPlan& p) {
    std::int64_t w = 0;
    for (const Fold& f : plan_folds(p)) w += f.ifmap_load_words;
    return w;
  };
  EXPECT_EQ(ifmap_words(p_big), 100 * 40);
  EXPECT_EQ(ifmap_words(p_small), 2 * 100 * 40);
}

GemmLayer conv_layer(const ConvGeometry& g) {
  GemmLayer l;
  l.name = "conv";
  l.K = g.K();
  l.N = g.N();
  l.M = g.M();
  l.geo = g;
  return l;
}

// 3x3 conv, 1 channel, 6x4 input, no padding -> 4x2 output, 4 filters: K = 9, N = 8, M = 4.
// OS on 2x2: 4 row folds (output row oy = 2 pixels) x 2 column folds, T = K = 9, each fold
// 9 + 2 + 2 - 2 = 11 cycles, 88 in all. Output row oy reads input rows oy..oy+2, all 4 columns:
// 12 distinct words (its im2col tile has 2 x 9 = 18). The whole ifmap is 24 words = 48 bits.
//  * resident (1 MiB SRAMs): 12 + 4 + 4 + 4 (one new input row per fold), then 0 for the second
//    column sweep: 24 words (the im2col count, before reuse, was 8 x 18 = 144; 72 resident);
//  * an ifmap SRAM of 80 bits (40-bit working half: the 36-bit tile fits, the ifmap does not):
//    the buffer holds the previous tile; folds fetch 12, 4, 4, 4, then rows 0..2 again (12) when
//    the second column sweep restarts at output row 0, then 4, 4, 4: 48 words.
// Filter: 36 words fit (resident): tile (k 0..9, m 0..2) with fold 0, (k 0..9, m 2..4) with
// fold 4: 18 words each. Stalls at B = 0.25 byte/cycle = 2 bits/cycle: see the test body.
TEST(FastPath, IfmapReuseAndItsStallsByHand) {
  const ConvGeometry g = conv(1, 4, 3, 1, 0, 6, 4);
  const HwConfig resident = make_hw(2, 2, "os", 2, 16, 0.25);
  const HwConfig streaming = with_overrides(resident, {{"memory.ifmap_sram_kb", "0.009765625"}});
  ASSERT_EQ(streaming.ifmap_working_bits(), 40);
  const auto p_res = make_fold_plan(resident, g);
  const auto p_str = make_fold_plan(streaming, g);
  EXPECT_EQ(p_res.ifmap_layer_words, 24);
  EXPECT_TRUE(p_res.ifmap_resident);
  EXPECT_FALSE(p_str.ifmap_resident);
  EXPECT_EQ(p_str.t_chunks, 1);  // the 36-bit tile fits the 40-bit half
  std::vector<std::int64_t> res_loads, str_loads;
  for (const Fold& f : plan_folds(p_res)) res_loads.push_back(f.ifmap_load_words);
  for (const Fold& f : plan_folds(p_str)) str_loads.push_back(f.ifmap_load_words);
  EXPECT_EQ(res_loads, (std::vector<std::int64_t>{12, 4, 4, 4, 0, 0, 0, 0}));
  EXPECT_EQ(str_loads, (std::vector<std::int64_t>{12, 4, 4, 4, 12, 4, 4, 4}));

  // Resident. Load bits per fold (ifmap words x 2 + filter words x 2): -, 8, 8, 8, 36, 0, 0, 0
  // (fold 0 prefetched). Fold i runs 11 cycles; double-buffered, load i starts at
  // max(previous load end, end of fold i-2):
  //   load 1: 0..4, load 2: 11..15, load 3: 22..26 (folds 0..3 run 0..44 without waiting);
  //   load 4 (filter only, 36 bits = 18 cycles): max(26, 33) = 33..51 -> fold 4 runs 51..62
  //   (7 stall cycles); folds 5..7 fetch nothing: 62..95. 88 + 7 = 95 cycles. The 4 outputs
  //   (8 bits, 4 cycles) each fold writes never block.
  const LayerCost cr = fast_layer_cost(resident, conv_layer(g));
  EXPECT_EQ(cr.compute_cycles, 88);
  EXPECT_EQ(cr.stall_cycles, 7);
  EXPECT_EQ(cr.events.dram_ifmap_read_bits, 24 * 2);
  EXPECT_EQ(cr.events.dram_filter_read_bits, 36 * 2);
  EXPECT_EQ(cr.events.ifmap_sram_writes, 24);
  EXPECT_EQ(cr.events.ifmap_sram_reads, 8 * 2 * 9);  // the array still reads the im2col operand
  EXPECT_EQ(cr.events.dram_ofmap_write_bits, 32 * 2);

  // Streaming. Load bits: -, 8, 8, 8, 24 + 36 = 60 (30 cycles), 8, 8, 8.
  //   loads 1-3 as above; load 4: max(26, 33) = 33..63 -> fold 4 runs 63..74 (19 stalls);
  //   load 5: max(63, end of fold 3 = 44) = 63..67, fold 5 74..85; load 6: 74..78, fold 6
  //   85..96; load 7: 85..89, fold 7 96..107. 88 + 19 = 107 cycles.
  const LayerCost cs = fast_layer_cost(streaming, conv_layer(g));
  EXPECT_EQ(cs.compute_cycles, 88);
  EXPECT_EQ(cs.stall_cycles, 19);
  EXPECT_EQ(cs.events.dram_ifmap_read_bits, 48 * 2);
}

// WS 4x4, GEMM K=6, N=20, M=3 with 0.0625 KiB SRAMs (256-bit working halves). T = N = 20 pixels
// stream; a chunk of t pixels needs t x 4 ifmap words (t <= 32) and t x 3 psums of 16 bits
// (t <= 5): 4 chunks of 5. Order: chunk outer, row fold inner (2 row folds: K = 4 + 2), groups
// = chunks. 8 folds of 2R + C + t - 2 = 8 + 4 + 5 - 2 = 15 cycles = 120 (unchunked: 2 x 30).
// Psums: every fold writes 5 x 3; the second row fold of each chunk reads them back (4 x 15) and
// each group writes back its 15 outputs (ofmap SRAM read 4 x 15, DRAM 60 x 2 bits).
TEST(FastPath, StreamedDimensionIsChunkedToFitTheSram) {
  const HwConfig hw = make_hw(4, 4, "ws", 2, 16, 1e6, true, 0.0625);
  const auto plan = make_fold_plan(hw, 6, 20, 3);
  EXPECT_EQ(plan.t_chunks, 4);
  EXPECT_EQ(plan.t_chunk, 5);
  EXPECT_EQ(plan.num_groups(), 4);
  const auto folds = plan_folds(plan);
  ASSERT_EQ(folds.size(), 8u);
  EXPECT_EQ(folds[1].fr, 1);
  EXPECT_EQ(folds[1].ft, 0);
  EXPECT_TRUE(folds[1].last_of_group);
  EXPECT_EQ(folds[2].n0, 5);
  EXPECT_EQ(folds[2].n1, 10);
  const LayerCost c = fast_layer_cost(hw, gemm(6, 20, 3));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.folds, 8);
  EXPECT_EQ(c.cycles, 120);
  EXPECT_EQ(c.events.macs, 6 * 20 * 3);
  EXPECT_EQ(c.events.ofmap_sram_writes, 8 * 15);
  EXPECT_EQ(c.events.ofmap_sram_reads, 4 * 15 + 60);
  EXPECT_EQ(c.events.dram_ofmap_write_bits, 60 * 2);
  EXPECT_EQ(c.events.dram_ifmap_read_bits, 6 * 20 * 2);  // 240 bits: resident, once
  EXPECT_EQ(c.events.dram_filter_read_bits, 6 * 3 * 2);  // 36 bits: resident, once
  // The same GEMM with room for everything: 2 folds of 8 + 4 + 20 - 2 = 30.
  EXPECT_EQ(fast_layer_cost(make_hw(4, 4, "ws"), gemm(6, 20, 3)).cycles, 60);
}

// ImageNet models (7x7x3 stride-2 stem at 224x224) on every preset in every dataflow: the
// streamed dimension is chunked so that they map. Unchunked, the edge preset's WS ifmap tile
// (12544 pixels x 16 rows x 2 bits) would not fit its 16 KiB working half.
TEST(FastPath, ImageNetModelsMapOnEveryPreset) {
  for (const char* preset : {"edge-16x16-ws-2b", "edge-16x16-ws-8b", "mid-32x32-os-2b",
                             "mid-32x32-os-8b", "large-64x64-ws-2b"}) {
    const HwConfig base =
        load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/" + preset + ".cfg");
    for (const char* df : {"os", "ws", "is"}) {
      const HwConfig hw = with_overrides(base, {{"array.dataflow", df}});
      for (const char* model : {"resnet18", "resnet50", "vgg16"}) {
        const auto net = models::build_canonical(model);
        const auto report = fast_network_report(hw, gemm_layers(net));
        EXPECT_GT(report.total_cycles, 0) << preset << " " << df << " " << model;
      }
    }
  }
  const HwConfig edge =
      load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  const auto stem = models::build_canonical("resnet18").layers.at(0);
  const auto plan = make_fold_plan(edge, geometry_of(stem));
  EXPECT_EQ(plan.T, 112 * 112);
  EXPECT_GT(plan.t_chunks, 1);
  EXPECT_LE(plan.t_chunk * 16 * edge.bits, edge.ifmap_working_bits());
  EXPECT_FALSE(check_sram_fit(edge, plan).has_value());
}

// A config beyond the parser's bounds (set directly on the struct) must not wrap: the cost
// saturates with status kOverflow instead of negative cycles, 0 stalls or inf/NaN energy.
TEST(FastPath, CountsThatLeaveTheRangeAreAnOverflowStatusNotANumber) {
  const models::Network net = models::build_canonical("resnet20");
  for (double bytes_per_cycle : {1e-15, 1e-20}) {
    HwConfig hw = make_hw(16, 16, "ws");
    hw.dram_bytes_per_cycle = bytes_per_cycle;
    bool any_overflow = false;
    for (const auto& layer : net.layers) {
      const LayerCost c = fast_layer_cost(hw, layer);
      EXPECT_GE(c.cycles, 0) << layer.name;
      EXPECT_GE(c.stall_cycles, 0) << layer.name;
      EXPECT_FALSE(std::isnan(c.energy_pj)) << layer.name;
      if (c.ok()) {
        EXPECT_GT(c.stall_cycles, 0) << layer.name << " at " << bytes_per_cycle;
        EXPECT_LT(c.cycles, kInfeasibleCycles);
      } else {
        EXPECT_EQ(c.status, CostStatus::kOverflow) << layer.name;
        EXPECT_NE(c.status_detail.find("range"), std::string::npos) << c.status_detail;
        any_overflow = true;
      }
    }
    EXPECT_TRUE(any_overflow) << bytes_per_cycle;
    EXPECT_THROW(fast_network_report(hw, gemm_layers(net)), std::invalid_argument);
  }
  HwConfig hw = make_hw(16, 16, "ws");
  hw.mac_pj = 1e308;
  const LayerCost c = fast_layer_cost(hw, net.layer("s1b1.conv_a"));
  EXPECT_EQ(c.status, CostStatus::kOverflow);
  EXPECT_EQ(dram_transfer_cycles(make_hw(4, 4, "os", 2, 16, 1e-3), std::int64_t{1} << 62),
            kInfeasibleCycles);
}

}  // namespace
}  // namespace nce::sim
