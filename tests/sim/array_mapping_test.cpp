// The one GEMM-to-array mapping (array_mapping.h) the fast path's fold plan and the SCALE-Sim v2
// reproduction share: both must fold a layer the same way and count a fold's cycles alike.
#include "nce/sim/array_mapping.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "nce/sim/fold_plan.h"
#include "nce/sim/scalesim_compat.h"
#include "sim_test_util.h"

namespace nce::sim {
namespace {

using testing::make_hw;

TEST(ArrayMapping, CeilDiv) {
  const std::int64_t big = std::int64_t{1} << 40;
  const std::int64_t cases[][3] = {{0, 4, 0}, {1, 4, 1}, {4, 4, 1},
                                   {5, 4, 2}, {7, 1, 7}, {big, 3, (big + 2) / 3}};
  for (const auto& c : cases) EXPECT_EQ(ceil_div(c[0], c[1]), c[2]) << c[0] << " / " << c[1];
}

TEST(ArrayMapping, EachDataflowPlacesKNMAsSCALESimDoes) {
  // K = 100 reduction, N = 30 pixels, M = 7 filters on an 8 x 4 array.
  struct Case {
    Dataflow dataflow;
    ArrayMapping want;  // Sr, Sc, T, ceil(Sr / 8), ceil(Sc / 4)
    std::int64_t fold_cycles;
  };
  const Case cases[] = {
      {Dataflow::kOS, {30, 7, 100, 4, 2}, 100 + 8 + 4 - 2},
      {Dataflow::kWS, {100, 7, 30, 13, 2}, 2 * 8 + 4 + 30 - 2},
      {Dataflow::kIS, {100, 30, 7, 13, 8}, 2 * 8 + 4 + 7 - 2},
  };
  for (const Case& c : cases) {
    const ArrayMapping m = map_gemm_to_array(c.dataflow, 100, 30, 7, 8, 4);
    const std::int64_t got[] = {m.Sr, m.Sc, m.T, m.row_folds, m.col_folds};
    const std::int64_t want[] = {c.want.Sr, c.want.Sc, c.want.T, c.want.row_folds,
                                 c.want.col_folds};
    for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i], want[i]) << to_string(c.dataflow) << " " << i;
    EXPECT_EQ(fold_cycles(c.dataflow, 8, 4, m.T), c.fold_cycles) << to_string(c.dataflow);
  }
}

TEST(ArrayMapping, TheFoldPlanUsesIt) {
  std::mt19937 rng(27);
  std::uniform_int_distribution<int> size(1, 300), side(1, 24);
  for (const char* df : {"os", "ws", "is"}) {
    for (int i = 0; i < 30; ++i) {
      const HwConfig hw = make_hw(side(rng), side(rng), df);
      const std::int64_t K = size(rng), N = size(rng), M = size(rng);
      const FoldPlan p = make_fold_plan(hw, K, N, M);
      const ArrayMapping m = map_gemm_to_array(hw.dataflow, K, N, M, hw.rows, hw.cols);
      ASSERT_EQ(p.Sr, m.Sr) << df;
      ASSERT_EQ(p.Sc, m.Sc) << df;
      ASSERT_EQ(p.T, m.T) << df;
      ASSERT_EQ(p.row_folds, m.row_folds) << df;
      ASSERT_EQ(p.col_folds, m.col_folds) << df;
      for (std::int64_t t : {std::int64_t{1}, p.t_chunk, p.T}) {
        ASSERT_EQ(p.fold_cycles(t), fold_cycles(hw.dataflow, hw.rows, hw.cols, t)) << df;
      }
    }
  }
}

TEST(ArrayMapping, TheSCALESimReproductionUsesIt) {
  for (const char* df : {"os", "ws", "is"}) {
    const std::string text =
        std::string("[general]\nrun_name = t\n[architecture_presets]\nArrayHeight: 8\n") +
        "ArrayWidth: 4\nIfmapSramSzkB: 64\nFilterSramSzkB: 64\nOfmapSramSzkB: 64\nDataflow : " +
        df + "\n[run_presets]\nInterfaceBandwidth: CALC\n";
    const ScaleSimConfig cfg = parse_scalesim_config(text, "mapping.cfg");
    ScaleSimLayer layer;
    layer.name = "conv";
    layer.ifmap_h = layer.ifmap_w = 9;
    layer.filter_h = layer.filter_w = 3;
    layer.channels = 5;
    layer.num_filters = 11;
    const std::int64_t K = layer.window(), N = layer.ofmap_pixels(), M = layer.num_filters;
    const ArrayMapping m = map_gemm_to_array(cfg.dataflow, K, N, M, 8, 4);
    const ScaleSimLayerReport r = scalesim_layer_report(cfg, layer, false);
    EXPECT_EQ(r.folds, m.row_folds * m.col_folds) << df;
    EXPECT_EQ(r.demand_lines, r.folds * fold_cycles(cfg.dataflow, 8, 4, m.T)) << df;
  }
}

}  // namespace
}  // namespace nce::sim
