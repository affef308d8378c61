// Hardware sweeps: a grid over hw config keys x a set of networks -> one evaluation per
// (hw config, network) pair by nce_hw's fast cost path, stored as candidates of one "sweep" run
// (v_candidates: method = the network's method, hw = the grid point's name, latency/energy set).
//
// Sweep file (INI; hw_configs/sweeps/*.cfg; '#' or ';' comments):
//
//   [sweep]
//   name = array-size            # optional; default: the file stem
//   base = ../mid-32x32-os-2b.cfg  # the hw config the grid overrides (relative to this file)
//   dataset = cifar10            # input shape of the networks: cifar10 | fashion-mnist | imagenet
//                                # (default: each model's canonical input)
//   candidates_db = other.db     # optional: where `candidates =` queries read (default: --db)
//
//   [grid]                       # each key a "section.key" of the hw config, values
//   array.rows = 16, 32          # comma-separated; the grid is their cartesian product (first
//   array.dataflow = os, ws      # key varies slowest)
//
//   [networks]                   # any number of lines, evaluated in file order
//   model = resnet20             # the published widths              -> method "original"
//   widths = resnet20: 3,16,6,4,...  # an explicit width vector      -> method "custom"
//   wrpn = resnet20: 1.25, 1.5, 2    # WRPN width multipliers        -> method "wrpn"
//   candidates = SELECT ... FROM v_candidates WHERE ...  # designs already in the database: each
//                                # row needs model and widths; method, dataset, top1 are carried
//                                # over
//
// Costs come from sim::LayerCostService (one per worker thread and grid point, sharing the
// optional cache); rows go to the result database through results::ResultSink. The sweep lives
// beside the simulator it drives: results/ only stores and reads.
//
// Errors (std::invalid_argument "<file>:<line>: ..." naming the key and value): unknown sections or
// keys, an unknown hw config key in [grid], a key repeated, an empty value list, an empty grid, no
// networks, a bad model/width vector, a grid point the hw config validation rejects, a grid of more
// than kMaxSweepPoints points. Everything is checked before the database is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nce/results/database.h"
#include "nce/common/shard.h"
#include "nce/results/result_sink.h"
#include "nce/sim/cost_key.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost_service.h"

namespace nce::sweep {

// The most grid points a sweep may expand to (the product of its [grid] value lists). Every point
// is a validated hw config held in memory, so a bigger grid is refused before any is built; split
// it into several sweep files.
inline constexpr std::size_t kMaxSweepPoints = 10000;

struct SweepNetwork {
  std::string label;   // "resnet20", "resnet20 wrpn x1.5", "resnet20 run 3 epoch 7", ...
  std::string method;  // "original", "custom", "wrpn", or the source candidate's method
  std::string model;
  std::string dataset;  // "" = the model's canonical input
  std::vector<int> widths;
  std::optional<double> top1;  // carried over from a database candidate
};

struct SweepPoint {
  std::string name;  // "<base name>{rows=16,dataflow=ws}"
  std::map<std::string, std::string> overrides;
  sim::HwConfig hw;
};

struct SweepSpec {
  std::string name;
  std::string source;  // the sweep file
  sim::HwConfig base;
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // in file order
  std::vector<SweepPoint> points;                                      // the expanded grid
  std::vector<SweepNetwork> networks;
  std::string candidates_db;  // from [sweep], "" = the output database
  std::size_t pairs() const { return points.size() * networks.size(); }
};

// Parses a sweep file's text. `base_dir` resolves `base` and `candidates_db`; `candidates_from`
// answers `candidates =` queries (may be null if there are none; opened read-only by callers).
SweepSpec parse_sweep(const std::string& text, const std::string& source,
                      const std::string& base_dir, const results::Database* candidates_from);
// Reads the file; a `candidates =` query runs on [sweep] candidates_db if set, else on
// `default_candidates_db` (opened read-only; "" = none).
SweepSpec load_sweep(const std::string& path, const std::string& default_candidates_db = "");

// "i/N": this shard evaluates the pairs whose index % N == i (pairs numbered hw-point-major in
// file order); nce/common/shard.h.
using nce::common::parse_shard;
using nce::common::Shard;

struct SweepOptions {
  common::Shard shard;
  int jobs = 1;            // worker threads for the cost evaluation
  std::string git_commit;  // recorded in the run
  int batch = 64;          // evaluations per write transaction
  // Polled before each batch; true ends the sweep there, its run "interrupted" (its rows stay in
  // the candidates table, off v_candidates). Empty: never stops.
  std::function<bool()> stop_requested;
};

struct SweepEvaluation {
  std::size_t pair = 0;  // index in the full grid
  std::size_t point = 0;
  std::size_t network = 0;
  bool feasible = true;
  std::int64_t cycles = 0;
  std::int64_t stall_cycles = 0;
  double energy_pj = 0;
  std::int64_t macs = 0;
  std::int64_t params = 0;
};

struct SweepSummary {
  results::RunId run = 0;
  std::size_t evaluations = 0;
  std::size_t infeasible = 0;  // pairs where a layer does not fit the SRAMs
  std::int64_t layers_computed = 0;
  std::int64_t cache_hits = 0;
  double seconds = 0;
  bool interrupted = false;  // stop_requested ended it before every pair was evaluated
};

// Evaluates one pair by the fast path, layer by layer, asking `costs` (a service for the pair's
// hw point; its counters say what was computed and what came from its cache).
SweepEvaluation evaluate_pair(const SweepSpec& spec, std::size_t point, std::size_t network,
                              sim::LayerCostService& costs);

// Runs this shard of the sweep: one run (method "sweep", config = the sweep as JSON) with one
// candidate per pair (phase "sweep", or "infeasible" with NULL costs), written in batches.
// `cache` (may be null) must be safe to call from several threads (SqliteCostCache is).
SweepSummary run_sweep(const SweepSpec& spec, results::ResultSink& sink, sim::CostCache* cache,
                       const SweepOptions& options);

}  // namespace nce::sweep
