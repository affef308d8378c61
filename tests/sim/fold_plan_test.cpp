// The fold plan's contract (fold_plan.h): which GEMM dimension each dataflow puts on the array's
// rows, columns and time, that its folds tile the GEMM exactly once in the documented order, that
// chunks of the streamed dimension fit the SRAMs, and how a plan that cannot fit says so.
#include "nce/sim/fold_plan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim_test_util.h"
#include "support/errors.h"

namespace nce::sim {
namespace {

using nce::testing::what_must_throw;

using testing::make_hw;

constexpr std::int64_t kK = 27, kN = 100, kM = 10;  // an odd GEMM for an 8 x 4 array

TEST(FoldPlan, EachDataflowMapsItsDimensionsOntoRowsColumnsAndTime) {
  struct Case {
    const char* dataflow;
    std::int64_t Sr, Sc, T;
  };
  for (const Case& c : {Case{"os", kN, kM, kK}, Case{"ws", kK, kM, kN}, Case{"is", kK, kN, kM}}) {
    const FoldPlan p = make_fold_plan(make_hw(8, 4, c.dataflow), kK, kN, kM);
    EXPECT_EQ(p.K, kK);
    EXPECT_EQ(p.N, kN);
    EXPECT_EQ(p.M, kM);
    EXPECT_EQ(p.Sr, c.Sr) << c.dataflow;
    EXPECT_EQ(p.Sc, c.Sc) << c.dataflow;
    EXPECT_EQ(p.T, c.T) << c.dataflow;
    EXPECT_EQ(p.row_folds, (c.Sr + 7) / 8) << c.dataflow;
    EXPECT_EQ(p.col_folds, (c.Sc + 3) / 4) << c.dataflow;
    EXPECT_EQ(p.t_chunks, 1) << c.dataflow;  // 1 MiB SRAMs: nothing is chunked
    EXPECT_EQ(p.t_chunk, c.T) << c.dataflow;
    EXPECT_EQ(p.num_folds(), p.row_folds * p.col_folds);
  }
}

TEST(FoldPlan, FoldCyclesIncludeFillAndDrainSkew) {
  const FoldPlan os = make_fold_plan(make_hw(8, 4, "os"), kK, kN, kM);
  EXPECT_EQ(os.fold_cycles(27), 27 + 8 + 4 - 2);
  const FoldPlan ws = make_fold_plan(make_hw(8, 4, "ws"), kK, kN, kM);
  EXPECT_EQ(ws.fold_cycles(100), 2 * 8 + 4 + 100 - 2);
  const FoldPlan is = make_fold_plan(make_hw(8, 4, "is"), kK, kN, kM);
  EXPECT_EQ(is.fold_cycles(1), 2 * 8 + 4 + 1 - 2);
}

// Chunked (0.0625 KiB SRAMs: 256-bit halves, 8-bit psums) or not, in every dataflow: the folds'
// GEMM blocks cover K x N x M once, every group has
// one first and one last fold, psums are read back exactly by the folds after a group's first,
// and every output leaves once.
TEST(FoldPlan, FoldsTileTheGemmOnceWithOneFirstAndOneLastFoldPerGroup) {
  for (const char* df : {"os", "ws", "is"})
    for (double sram_kb : {1024.0, 0.0625}) {
      const HwConfig hw = make_hw(8, 4, df, 2, 8, 1e6, true, sram_kb);
      const FoldPlan p = make_fold_plan(hw, kK, kN, kM);
      const std::string what = std::string(df) + " " + std::to_string(sram_kb) + " KiB";
      ASSERT_FALSE(check_sram_fit(hw, p).has_value()) << what;
      if (sram_kb < 1) {
        EXPECT_GT(p.t_chunks, 1) << what;
      }
      const std::vector<Fold> folds = plan_folds(p);
      ASSERT_EQ(static_cast<std::int64_t>(folds.size()), p.num_folds()) << what;
      std::int64_t volume = 0, macs = 0, outputs = 0;
      std::map<std::int64_t, int> firsts, lasts;
      std::vector<std::int8_t> covered(kK * kN * kM, 0);
      for (std::size_t i = 0; i < folds.size(); ++i) {
        const Fold& f = folds[i];
        EXPECT_EQ(f.index, static_cast<std::int64_t>(i));
        EXPECT_EQ(f.macs, (f.n1 - f.n0) * (f.k1 - f.k0) * (f.m1 - f.m0)) << what;
        EXPECT_EQ(f.macs, f.r_used * f.c_used * f.t_used) << what;
        EXPECT_EQ(f.cycles, p.fold_cycles(f.t_used));
        for (std::int64_t n = f.n0; n < f.n1; ++n)
          for (std::int64_t k = f.k0; k < f.k1; ++k)
            for (std::int64_t m = f.m0; m < f.m1; ++m) ++covered[(n * kK + k) * kM + m];
        volume += (f.n1 - f.n0) * (f.k1 - f.k0) * (f.m1 - f.m0);
        macs += f.macs;
        outputs += f.group_output_words;
        firsts[f.group] += f.first_of_group;
        lasts[f.group] += f.last_of_group;
        EXPECT_EQ(f.psum_reads, f.first_of_group ? 0 : f.psum_writes) << what << " fold " << i;
        EXPECT_EQ(f.group_output_words > 0, f.last_of_group) << what << " fold " << i;
      }
      for (std::int8_t c : covered) ASSERT_EQ(c, 1) << what;
      EXPECT_EQ(volume, kK * kN * kM) << what;
      EXPECT_EQ(macs, kK * kN * kM) << what;
      EXPECT_EQ(outputs, kN * kM) << what;
      EXPECT_EQ(static_cast<std::int64_t>(firsts.size()), p.num_groups()) << what;
      for (const auto& [group, n] : firsts) EXPECT_EQ(n, 1) << what << " group " << group;
      for (const auto& [group, n] : lasts) EXPECT_EQ(n, 1) << what << " group " << group;
    }
}

// OS: column fold outer, row fold, chunk inner (a group's folds are its K chunks, in a row).
TEST(FoldPlan, OutputStationaryRunsAGroupsChunksBackToBack) {
  const HwConfig hw = make_hw(8, 4, "os", 2, 8, 1e6, true, 0.0625);
  const FoldPlan p = make_fold_plan(hw, kK, kN, kM);
  ASSERT_GT(p.t_chunks, 1);
  EXPECT_EQ(p.t_chunk, (kK + p.t_chunks - 1) / p.t_chunks);
  const std::vector<Fold> folds = plan_folds(p);
  for (std::size_t i = 0; i < folds.size(); ++i) {
    const Fold& f = folds[i];
    const auto nt = static_cast<std::size_t>(p.t_chunks);
    EXPECT_EQ(f.ft, static_cast<std::int64_t>(i % nt));
    EXPECT_EQ(f.fr, static_cast<std::int64_t>(i / nt) % p.row_folds);
    EXPECT_EQ(f.fc, static_cast<std::int64_t>(i / nt) / p.row_folds);
    EXPECT_EQ(f.first_of_group, f.ft == 0);
    EXPECT_EQ(f.last_of_group, f.ft == p.t_chunks - 1);
  }
}

// Everything resident (1 MiB): each filter word and, for a plain GEMM (no overlapping windows),
// each ifmap word comes from DRAM once.
TEST(FoldPlan, ResidentOperandsAreLoadedOnce) {
  for (const char* df : {"os", "ws", "is"}) {
    const FoldPlan p = make_fold_plan(make_hw(8, 4, df), kK, kN, kM);
    ASSERT_TRUE(p.ifmap_resident && p.filter_resident) << df;
    EXPECT_EQ(p.ifmap_layer_words, kK * kN);
    std::int64_t ifmap = 0, filter = 0;
    for (const Fold& f : plan_folds(p)) ifmap += f.ifmap_load_words, filter += f.filter_load_words;
    EXPECT_EQ(ifmap, kK * kN) << df;
    EXPECT_EQ(filter, kK * kM) << df;
  }
}

TEST(FoldPlan, APlanThatCannotFitHasNoFoldsAndNamesTheBuffer) {
  // 0.001 KiB = 8 bits, 4 per working half: not even one step of an 8-row tile fits (the parser
  // rejects such a config; set on the struct, the plan must still say so).
  HwConfig hw = make_hw(8, 4, "os");
  hw.ifmap_sram_kb = 0.001;
  const FoldPlan p = make_fold_plan(hw, kK, kN, kM);
  EXPECT_EQ(p.t_chunk, 0);
  EXPECT_TRUE(plan_folds(p).empty());
  const auto shortfall = check_sram_fit(hw, p);
  ASSERT_TRUE(shortfall.has_value());
  EXPECT_EQ(shortfall->key, "memory.ifmap_sram_kb");
  EXPECT_NE(shortfall->message.find("bits"), std::string::npos) << shortfall->message;
  EXPECT_EQ(describe_shortfall(hw, "conv1", *shortfall),
            "test.cfg: layer conv1: key 'memory.ifmap_sram_kb' = '0.001': " + shortfall->message);
}

TEST(FoldPlan, AnEmptyGemmIsAnError) {
  EXPECT_THROW(make_fold_plan(make_hw(8, 4, "os"), ConvGeometry{}), std::invalid_argument);
  EXPECT_THROW(make_fold_plan(make_hw(8, 4, "os"), 0, kN, kM), std::invalid_argument);
}

TEST(FoldPlan, DramTransferCyclesRoundUpToWholeCycles) {
  const HwConfig hw = make_hw(8, 4, "os", 2, 16, 2.0);  // 16 bits per cycle
  EXPECT_EQ(dram_transfer_cycles(hw, 0), 0);
  EXPECT_EQ(dram_transfer_cycles(hw, 1), 1);
  EXPECT_EQ(dram_transfer_cycles(hw, 16), 1);
  EXPECT_EQ(dram_transfer_cycles(hw, 17), 2);
  EXPECT_EQ(dram_transfer_cycles(hw, 160), 10);
}

// Absurd shapes within the GEMM limits (K, N, M <= 2^30): products that pass 64 bits are never
// wrapped. A 2^30 x 2^30 filter of 16-bit words (2^64 bits) is not resident (it wrapped to 0 bits,
// which "fit"); a 2^30-cube GEMM on a 1x1 array has more folds than int64 counts: an error naming
// the config and the shape.
TEST(FoldPlan, ProductsPastSixtyFourBitsAreNotWrapped) {
  HwConfig hw = make_hw(64, 64, "ws", 16, 48);
  const FoldPlan p = make_fold_plan(hw, std::int64_t{1} << 30, 1, std::int64_t{1} << 30);
  EXPECT_FALSE(p.filter_resident);
  EXPECT_EQ(p.num_folds(), (std::int64_t{1} << 48) * p.t_chunks);
  HwConfig one = make_hw(1, 1, "ws");
  one.source = "one.cfg";
  const std::int64_t g = std::int64_t{1} << 30;
  const std::string what = what_must_throw<std::invalid_argument>(
      "a 2^30-cube GEMM on a 1x1 array", [&] { make_fold_plan(one, g, g, g); });
  EXPECT_EQ(what.rfind("one.cfg: GEMM shape K=1073741824", 0), 0u) << what;
  EXPECT_NE(what.find("fold count overflows 64 bits"), std::string::npos) << what;
}

}  // namespace
}  // namespace nce::sim
