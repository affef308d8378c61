// Google Benchmark for the sim area's fast parts (repeatable in one process): the fast path over
// ResNet-20 and building the cost table of ResNet-20's full NCE search space (16 candidates per
// width). The SystemC engine allows one elaboration per process: time it with `nce bench sim`.
#include <benchmark/benchmark.h>

#include <string>

#include "nce/sim/cost_table.h"
#include "nce/sim/report.h"

namespace {

nce::sim::HwConfig preset(const char* name) {
  return nce::sim::load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/" + name + ".cfg");
}

void BM_FastPathResNet20(benchmark::State& state, const char* hw_name) {
  const auto hw = preset(hw_name);
  const auto layers = nce::sim::gemm_layers(nce::models::build_canonical("resnet20"));
  std::int64_t cycles = 0;
  for (auto _ : state) {
    const auto report = nce::sim::fast_network_report(hw, layers);
    cycles = report.total_cycles;
    benchmark::DoNotOptimize(cycles);
  }
  state.counters["simulated_cycles"] = static_cast<double>(cycles);
}
BENCHMARK_CAPTURE(BM_FastPathResNet20, mid_32x32_os, "mid-32x32-os-2b");
BENCHMARK_CAPTURE(BM_FastPathResNet20, edge_16x16_ws, "edge-16x16-ws-2b");

void BM_CostTableNceSpace(benchmark::State& state) {
  const auto hw = preset("edge-16x16-ws-2b");
  const auto net = nce::models::build_canonical(state.range(0) == 0 ? "resnet20" : "resnet56");
  const auto candidates = nce::sim::nce_width_candidates(net.widths, 16);
  const int threads = static_cast<int>(state.range(1));
  std::int64_t evaluations = 0;
  for (auto _ : state) {
    nce::sim::CostTable table(hw, net, candidates, nullptr, threads);
    evaluations = table.computed();
    benchmark::DoNotOptimize(evaluations);
  }
  state.counters["evaluations"] = static_cast<double>(evaluations);
}
BENCHMARK(BM_CostTableNceSpace)
    ->ArgNames({"resnet56", "threads"})
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
