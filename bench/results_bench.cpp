// Result database throughput (results engineer): candidate inserts (one transaction per row and
// batched), reading v_candidates back with a Pareto front, and a sweep through the fast path with
// and without the SQLite cost cache. Databases live in the temp directory and are removed.
//   build-x/bench/results_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "nce/results/candidates.h"
#include "nce/results/pareto.h"
#include "nce/results/sqlite_cost_cache.h"
#include "nce/results/sqlite_sink.h"
#include "nce/sweep/sweep.h"

namespace {

using namespace nce::results;
using namespace nce::sweep;

std::string scratch(const char* name) {
  std::string path =
      "/tmp/nce_results_bench_" + std::string(name) + "_" + std::to_string(getpid()) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return path;
}

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
}

CandidateRecord candidate(int i) {
  CandidateRecord c;
  c.epoch = i;
  c.phase = "search";
  c.widths = {3, 16, 6, 4, 4, 4, 4, 4, 32, 32, 12, 19, 32, 28, 64, 64, 64, 64, 64, i % 64 + 1};
  c.macs = 22444472 + i;
  c.params = 150000 + i;
  c.latency_cycles = 100000 - i % 1000;
  c.energy_pj = 1e6 + i;
  c.top1 = 80.0 + (i % 100) / 10.0;
  return c;
}

// One write transaction per candidate (what a search does once per epoch).
void BM_InsertOnePerTransaction(benchmark::State& state) {
  std::string path = scratch("one");
  {
    SqliteSink sink(path);
    RunId run = sink.begin_run({});
    int i = 0;
    for (auto _ : state) sink.record_candidate(run, candidate(i++));
  }
  remove_db(path);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InsertOnePerTransaction)->Unit(benchmark::kMicrosecond);

// 1,000 candidates per transaction (what a sweep batch does).
void BM_InsertBatched(benchmark::State& state) {
  std::string path = scratch("batch");
  std::vector<CandidateRecord> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(candidate(i));
  {
    SqliteSink sink(path);
    RunId run = sink.begin_run({});
    for (auto _ : state) sink.record_candidates(run, batch);
  }
  remove_db(path);
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_InsertBatched)->Unit(benchmark::kMillisecond);

// Read 100,000 candidates back and take the MACs/top-1 Pareto front.
void BM_LoadAndPareto100k(benchmark::State& state) {
  std::string path = scratch("pareto");
  {
    SqliteSink sink(path);
    RunId run = sink.begin_run({});
    std::vector<CandidateRecord> batch;
    for (int i = 0; i < 100000; ++i) batch.push_back(candidate(i));
    sink.record_candidates(run, batch);
  }
  {
    Database db(path);
    for (auto _ : state) {
      auto rows = load_candidates(db, {});
      std::vector<Point2> points;
      for (const auto& r : rows) points.push_back({*r.value(Metric::kMacs), *r.top1});
      benchmark::DoNotOptimize(pareto_front(points, Direction::kMinimize, Direction::kMaximize));
    }
  }
  remove_db(path);
  state.SetItemsProcessed(state.iterations() * 100000);
}
BENCHMARK(BM_LoadAndPareto100k)->Unit(benchmark::kMillisecond);

// The array-shape sweep (48 hw configs x 5 ResNet-20 variants = 240 evaluations), 2 jobs;
// arg 0: no cache, 1: a warm SQLite cost cache.
void BM_SweepArrayShape(benchmark::State& state) {
  SweepSpec spec =
      load_sweep(std::string(NCE_SOURCE_DIR) + "/hw_configs/sweeps/array-shape-resnet20.cfg");
  std::string path = scratch("sweep");
  {
    SqliteSink sink(path);
    SqliteCostCache cache(path);
    SweepOptions options;
    options.jobs = 2;
    if (state.range(0)) run_sweep(spec, sink, &cache, options);  // warm it
    for (auto _ : state) {
      run_sweep(spec, sink, state.range(0) ? &cache : nullptr, options);
    }
  }
  remove_db(path);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(spec.pairs()));
}
BENCHMARK(BM_SweepArrayShape)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
