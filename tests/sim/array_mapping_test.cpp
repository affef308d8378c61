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
  EXPECT_EQ(ceil_div(0, 4), 0);
  EXPECT_EQ(ceil_div(1, 4), 1);
  EXPECT_EQ(ceil_div(4, 4), 1);
  EXPECT_EQ(ceil_div(5, 4), 2);
  EXPECT_EQ(ceil_div(7, 1), 7);
  EXPECT_EQ(ceil_div(std::int64_t{1} << 40, 3), ((std::int64_t{1} << 40) + 2) / 3);
}

TEST(ArrayMapping, EachDataflowPlacesKNMAsSCALESimDoes) {
  // K = 100 reduction, N = 30 pixels, M = 7 filters on an 8 x 4 array.
  const ArrayMapping os = map_gemm_to_array(Dataflow::kOS, 100, 30, 7, 8, 4);
  EXPECT_EQ(os.Sr, 30);
  EXPECT_EQ(os.Sc, 7);
  EXPECT_EQ(os.T, 100);
  EXPECT_EQ(os.row_folds, 4);  // ceil(30 / 8)
  EXPECT_EQ(os.col_folds, 2);  // ceil(7 / 4)
  const ArrayMapping ws = map_gemm_to_array(Dataflow::kWS, 100, 30, 7, 8, 4);
  EXPECT_EQ(ws.Sr, 100);
  EXPECT_EQ(ws.Sc, 7);
  EXPECT_EQ(ws.T, 30);
  EXPECT_EQ(ws.row_folds, 13);
  EXPECT_EQ(ws.col_folds, 2);
  const ArrayMapping is = map_gemm_to_array(Dataflow::kIS, 100, 30, 7, 8, 4);
  EXPECT_EQ(is.Sr, 100);
  EXPECT_EQ(is.Sc, 30);
  EXPECT_EQ(is.T, 7);
  EXPECT_EQ(is.row_folds, 13);
  EXPECT_EQ(is.col_folds, 8);
  EXPECT_EQ(fold_cycles(Dataflow::kOS, 8, 4, 100), 100 + 8 + 4 - 2);
  EXPECT_EQ(fold_cycles(Dataflow::kWS, 8, 4, 30), 2 * 8 + 4 + 30 - 2);
  EXPECT_EQ(fold_cycles(Dataflow::kIS, 8, 4, 7), 2 * 8 + 4 + 7 - 2);
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
