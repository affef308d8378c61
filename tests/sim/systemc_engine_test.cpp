// SystemC kernel tests: the cycle-accurate model against the integer reference (bit for bit) and
// against the fast path (cycle for cycle, every event count). SystemC allows one elaboration per
// process: every TEST makes one run_systemc() call; ctest runs each TEST in its own process, and a
// test run after another in the same process skips.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <systemc>

#include "nce/sim/fold_plan.h"
#include "nce/sim/layer_cost.h"
#include "nce/sim/systemc_engine.h"
#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::conv;
using testing::make_hw;

#define SKIP_IF_KERNEL_USED() \
  if (systemc_used()) GTEST_SKIP() << "SystemC kernel already elaborated in this process"

SimJob job(const HwConfig& hw, const ConvGeometry& g, bool quantized, std::uint64_t seed) {
  SimJob j;
  j.hw = hw;
  j.name = "layer" + std::to_string(seed);
  j.data = random_layer_data(g, quantized, hw.bits, seed);
  return j;
}

GemmLayer gemm_of(const SimJob& j) {
  GemmLayer g;
  g.name = j.name;
  g.K = j.data.geo.K();
  g.N = j.data.geo.N();
  g.M = j.data.geo.M();
  g.quantized = j.data.quantized;
  g.geo = j.data.geo;
  return g;
}

void expect_same_cost(const LayerCost& fast, const LayerCost& sc, const std::string& what) {
  ASSERT_EQ(fast.status, sc.status) << what;
  EXPECT_EQ(fast.passes, sc.passes) << what;
  EXPECT_EQ(fast.folds, sc.folds) << what;
  EXPECT_EQ(fast.cycles, sc.cycles) << what;
  EXPECT_EQ(fast.compute_cycles, sc.compute_cycles) << what;
  EXPECT_EQ(fast.stall_cycles, sc.stall_cycles) << what;
  EXPECT_EQ(fast.events.macs, sc.events.macs) << what;
  EXPECT_EQ(fast.events.idle_pe_cycles, sc.events.idle_pe_cycles) << what;
  EXPECT_EQ(fast.events.ifmap_sram_reads, sc.events.ifmap_sram_reads) << what;
  EXPECT_EQ(fast.events.ifmap_sram_writes, sc.events.ifmap_sram_writes) << what;
  EXPECT_EQ(fast.events.filter_sram_reads, sc.events.filter_sram_reads) << what;
  EXPECT_EQ(fast.events.filter_sram_writes, sc.events.filter_sram_writes) << what;
  EXPECT_EQ(fast.events.ofmap_sram_reads, sc.events.ofmap_sram_reads) << what;
  EXPECT_EQ(fast.events.ofmap_sram_writes, sc.events.ofmap_sram_writes) << what;
  EXPECT_EQ(fast.events.dram_bits(), sc.events.dram_bits()) << what;
  EXPECT_EQ(fast.events, sc.events) << what;
  EXPECT_DOUBLE_EQ(fast.energy_pj, sc.energy_pj) << what;
}

// Every dataflow, b = 2, 3, 4, 8, quantized and full-precision (bit-serial) layers, arrays that
// divide the GEMM and arrays that do not: outputs equal the integer reference bit for bit.
TEST(SystemC, OutputsEqualTheIntegerReferenceBitForBit) {
  SKIP_IF_KERNEL_USED();
  std::vector<SimJob> jobs;
  std::uint64_t seed = 100;
  for (const char* df : {"os", "ws", "is"}) {
    for (int bits : {2, 3, 4, 8}) {
      const int acc = bits == 8 ? 32 : 16;
      // 4x4 divides this layer (K = 4*9 = 36, N = 4*4 = 16, M = 8); 3x5 divides none of it.
      jobs.push_back(job(make_hw(4, 4, df, bits, acc), conv(4, 8, 3, 1, 1, 4, 4), true, ++seed));
      jobs.push_back(job(make_hw(3, 5, df, bits, acc), conv(4, 8, 3, 1, 1, 4, 4), true, ++seed));
      jobs.push_back(job(make_hw(3, 5, df, bits, acc), conv(5, 7, 3, 2, 1, 7, 6), true, ++seed));
      // Full precision (8-bit operands) in ceil(8/b)^2 bit-serial passes; 1x1 conv and an FC.
      jobs.push_back(job(make_hw(4, 3, df, bits, 32), conv(6, 5, 1, 1, 0, 5, 5), false, ++seed));
      jobs.push_back(job(make_hw(2, 4, df, bits, 32), conv(10, 7, 1, 1, 0, 1, 1), false, ++seed));
    }
  }
  // Chunked streamed dimensions (tiny SRAMs): K chunks in OS, pixel chunks in WS, filter chunks
  // in IS, partial sums added across folds.
  for (const char* df : {"os", "ws", "is"}) {
    const HwConfig tiny = make_hw(3, 4, df, 2, 16, 1e6, true, 0.0625);
    const auto g = conv(7, 11, 3, 1, 1, 9, 7);
    ASSERT_GT(make_fold_plan(tiny, g).t_chunks, 1) << df;
    jobs.push_back(job(tiny, g, true, ++seed));
    jobs.push_back(job(tiny, conv(3, 5, 3, 2, 1, 8, 8), false, ++seed));
  }
  // Narrow accumulators wrap (two's complement) in the array exactly as in the reference.
  jobs.push_back(job(make_hw(4, 4, "ws", 4, 8), conv(8, 4, 3, 1, 1, 5, 5), true, ++seed));
  jobs.push_back(job(make_hw(4, 4, "os", 2, 4), conv(8, 4, 3, 1, 1, 5, 5), false, ++seed));
  const auto results = run_systemc(jobs);
  ASSERT_EQ(results.size(), jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto& j = jobs[i];
    const auto expected = reference_layer_output(j.data, j.hw.bits, j.hw.acc_bits);
    ASSERT_EQ(results[i].output.size(), expected.size()) << i;
    EXPECT_EQ(results[i].output, expected)
        << "job " << i << " " << to_string(j.hw.dataflow) << " b=" << j.hw.bits << " " << j.hw.rows
        << "x" << j.hw.cols << (j.data.quantized ? "" : " full precision");
    if (!j.data.quantized && j.hw.acc_bits >= 32) {
      EXPECT_EQ(results[i].output, reference_conv(j.data.geo, j.data.input, j.data.weights, 64));
    }
    EXPECT_EQ(results[i].cost.events.macs,
              j.data.geo.K() * j.data.geo.N() * j.data.geo.M() * results[i].cost.passes);
  }
}

// 90 random layer / array / dataflow / bandwidth / buffering / bits / SRAM combinations: 3x3
// and 5x5 convs with strides and padding (ifmap reuse across overlapping windows), tiny SRAMs
// (chunked streamed dimensions, operands that are not resident), 1x1 convs and FCs.
TEST(SystemC, FastPathEqualsTheSystemCModelOnRandomCombinations) {
  SKIP_IF_KERNEL_USED();
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % (hi - lo + 1)); };
  const double bandwidths[] = {0.05, 0.3, 1.0, 4.0, 1e6};
  const char* dataflows[] = {"os", "ws", "is"};
  const int bit_choices[] = {2, 3, 4, 8};
  const double sram_choices[] = {0.0625, 0.125, 0.25, 0.5, 1.5, 64, 64};
  std::vector<SimJob> jobs;
  for (int i = 0; i < 90; ++i) {
    const int bits = bit_choices[pick(0, 3)];
    const double sram_kb = sram_choices[pick(0, 6)];
    const int rows = pick(1, 9), cols = pick(1, 9);
    HwConfig hw;
    try {
      hw = make_hw(rows, cols, dataflows[pick(0, 2)], bits, bits == 8 ? 32 : 2 * bits + pick(0, 8),
                   bandwidths[pick(0, 4)], pick(0, 3) != 0, sram_kb);
    } catch (const std::invalid_argument&) {
      hw = make_hw(rows, cols, dataflows[pick(0, 2)], bits, 32, bandwidths[pick(0, 4)], true, 64);
    }
    const int k = std::array<int, 4>{1, 3, 3, 5}[static_cast<std::size_t>(pick(0, 3))];
    const int h = pick(k, 11), w = pick(k, 11);
    jobs.push_back(job(hw, conv(pick(1, 12), pick(1, 20), k, pick(1, 2), pick(0, k / 2), h, w),
                       pick(0, 4) != 0, 5000 + i));
  }
  const auto results = run_systemc(jobs);
  int stalled = 0, chunked = 0, streaming_reuse = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const LayerCost fast = fast_layer_cost(jobs[i].hw, gemm_of(jobs[i]));
    expect_same_cost(fast, results[i].cost, "job " + std::to_string(i));
    EXPECT_TRUE(fast.ok()) << i;  // chunking maps every layer on a valid config
    EXPECT_EQ(results[i].output,
              reference_layer_output(jobs[i].data, jobs[i].hw.bits, jobs[i].hw.acc_bits))
        << i;
    const FoldPlan plan = make_fold_plan(jobs[i].hw, jobs[i].data.geo);
    stalled += fast.stall_cycles > 0;
    chunked += plan.t_chunks > 1;
    streaming_reuse += !plan.ifmap_resident && jobs[i].data.geo.k > 1;
  }
  EXPECT_GT(stalled, 15);         // the bandwidths above make many of them wait
  EXPECT_GT(chunked, 10);         // tiny SRAMs split the streamed dimension
  EXPECT_GT(streaming_reuse, 5);  // ifmaps that do not fit, with overlapping windows
}

// The hand-derived counts of layer_cost_test.cpp, now simulated: GEMM K=6, N=5, M=3 is a 1x1 conv
// with 6 input channels on a 1x5 map and 3 filters.
TEST(SystemC, CyclesEqualHandDerivedValuesOnSmallArrays) {
  SKIP_IF_KERNEL_USED();
  const auto g = conv(6, 3, 1, 1, 0, 1, 5);
  std::vector<SimJob> jobs = {
      job(make_hw(4, 4, "os"), g, true, 1),                        // 2 folds x 12 = 24
      job(make_hw(4, 4, "os", 2, 16, 0.0625, true), g, true, 2),   // 24 + 12 stalls
      job(make_hw(4, 4, "os", 2, 16, 0.0625, false), g, true, 3),  // 24 + 48 stalls
      job(make_hw(4, 4, "ws"), g, true, 4),                        // 2 folds x 15 = 30
      job(make_hw(4, 4, "is"), g, true, 5),                        // 4 folds x 13 = 52
      job(make_hw(4, 4, "os", 2, 32), g, false, 6),                // 16 passes x 24
      // layer_cost_test.cpp IfmapReuseAndItsStallsByHand: 3x3 conv, 1 -> 4 channels, 6x4 map
      job(make_hw(2, 2, "os", 2, 16, 0.25), conv(1, 4, 3, 1, 0, 6, 4), true, 7),  // 88 + 7
      job(with_overrides(make_hw(2, 2, "os", 2, 16, 0.25),
                         {{"memory.ifmap_sram_kb", "0.009765625"}}),
          conv(1, 4, 3, 1, 0, 6, 4), true, 8),  // 88 + 19
      // StreamedDimensionIsChunkedToFitTheSram: 1x1 conv 6 -> 3 on a 1x20 map, 4 pixel chunks
      job(make_hw(4, 4, "ws", 2, 16, 1e6, true, 0.0625), conv(6, 3, 1, 1, 0, 1, 20), true, 9),
  };
  const auto r = run_systemc(jobs);
  EXPECT_EQ(r[0].cost.cycles, 24);
  EXPECT_EQ(r[0].cost.stall_cycles, 0);
  EXPECT_EQ(r[1].cost.cycles, 36);
  EXPECT_EQ(r[1].cost.stall_cycles, 12);
  EXPECT_EQ(r[2].cost.cycles, 72);
  EXPECT_EQ(r[2].cost.stall_cycles, 48);
  EXPECT_EQ(r[3].cost.cycles, 30);
  EXPECT_EQ(r[4].cost.cycles, 52);
  EXPECT_EQ(r[5].cost.cycles, 16 * 24);
  EXPECT_EQ(r[5].cost.passes, 16);
  EXPECT_EQ(r[6].cost.compute_cycles, 88);
  EXPECT_EQ(r[6].cost.stall_cycles, 7);
  EXPECT_EQ(r[6].cost.events.dram_ifmap_read_bits, 24 * 2);
  EXPECT_EQ(r[7].cost.compute_cycles, 88);
  EXPECT_EQ(r[7].cost.stall_cycles, 19);
  EXPECT_EQ(r[7].cost.events.dram_ifmap_read_bits, 48 * 2);
  EXPECT_EQ(r[8].cost.folds, 8);
  EXPECT_EQ(r[8].cost.cycles, 120);
  for (std::size_t i = 6; i < r.size(); ++i) {
    EXPECT_EQ(r[i].output, reference_layer_output(jobs[i].data, 2, 16)) << i;
  }
}

TEST(SystemC, StallsAppearWhenBandwidthIsCutAndVanishWhenAmple) {
  SKIP_IF_KERNEL_USED();
  std::vector<SimJob> jobs;
  for (const char* df : {"os", "ws", "is"}) {
    jobs.push_back(job(make_hw(8, 8, df, 2, 16, 1e6), conv(16, 16, 3, 1, 1, 8, 8), true, 1));
    jobs.push_back(job(make_hw(8, 8, df, 2, 16, 0.1), conv(16, 16, 3, 1, 1, 8, 8), true, 1));
  }
  const auto r = run_systemc(jobs);
  for (std::size_t i = 0; i < r.size(); i += 2) {
    EXPECT_EQ(r[i].cost.stall_cycles, 0) << i;
    EXPECT_GT(r[i + 1].cost.stall_cycles, 0) << i;
    EXPECT_EQ(r[i].cost.compute_cycles, r[i + 1].cost.compute_cycles);
    EXPECT_EQ(r[i].output, r[i + 1].output);  // stalls change time, not results
  }
}

// The ImageNet stem (7x7x3, stride 2, pad 3) cut to a 64x64 input on the edge preset with a
// 2 KiB ifmap SRAM: the 32x32 = 1024 pixels stream in chunks; real data, bit-exact, equal to the
// fast path.
TEST(SystemC, ChunkedStemMatchesReferenceAndFastPath) {
  SKIP_IF_KERNEL_USED();
  const HwConfig edge =
      load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  const HwConfig hw = with_overrides(edge, {{"memory.ifmap_sram_kb", "2"}});
  const auto g = conv(3, 64, 7, 2, 3, 64, 64);
  const auto plan = make_fold_plan(hw, g);
  ASSERT_GT(plan.t_chunks, 1);
  const auto r = run_systemc({job(hw, g, true, 3), job(hw, g, false, 4)});
  for (std::size_t i = 0; i < r.size(); ++i) {
    ASSERT_TRUE(r[i].cost.ok());
    EXPECT_EQ(r[i].cost.folds, plan.num_folds());
    const SimJob j = job(hw, g, i == 0, 3 + i);
    EXPECT_EQ(r[i].output, reference_layer_output(j.data, hw.bits, hw.acc_bits)) << i;
    expect_same_cost(fast_layer_cost(hw, gemm_of(j)), r[i].cost, "stem " + std::to_string(i));
  }
}

// The whole ResNet-20 on the 32x32 OS preset with real data: every layer bit-exact and equal to
// the fast path.
TEST(SystemC, ResNet20OnTheMidPresetMatchesReferenceAndFastPath) {
  SKIP_IF_KERNEL_USED();
  const HwConfig hw =
      load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/mid-32x32-os-2b.cfg");
  const auto net = models::build_canonical("resnet20");
  std::vector<std::vector<std::int64_t>> outputs;
  const auto sc = systemc_network_report(hw, net, 77, &outputs);
  const auto fast = fast_network_report(hw, gemm_layers(net));
  ASSERT_EQ(sc.layers.size(), net.layers.size());
  EXPECT_EQ(sc.total_cycles, fast.total_cycles);
  EXPECT_EQ(sc.stall_cycles, fast.stall_cycles);
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    expect_same_cost(fast.layers[i].cost, sc.layers[i].cost, net.layers[i].name);
    const auto data = random_layer_data(geometry_of(net.layers[i]), net.layers[i].quantized,
                                        hw.bits, 77 + 7919 * i);
    EXPECT_EQ(outputs[i], reference_layer_output(data, hw.bits, hw.acc_bits)) << net.layers[i].name;
  }
  EXPECT_THROW(run_systemc({}), std::logic_error);  // one elaboration per process
}

}  // namespace
}  // namespace nce::sim

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
