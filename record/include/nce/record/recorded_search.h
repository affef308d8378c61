// One recorded search: search::run_search with its hardware costs from a sim::LayerCostService
// and every epoch and candidate sent to a result sink as one database run. `nce search` and
// every job of `nce campaign` run through here, so both record a search the same way.
//
//   SearchBackend b = open_search_backend(db_path, hw_path);   // "" = none
//   config.hw_fingerprint = b.hw_fingerprint;
//   results::RunInfo info = run_info(config, b.hw.name, config_json, NCE_GIT_COMMIT);
//   SearchResult r = run_recorded_search(config, data, b.hw, b.sink.get(), info,
//                                        b.hw_fingerprint, &printer);
//   b.flush();
//
// How a run ends: finished (its final top-1); "interrupted" when an observer threw
// nce::Interrupted (a signal) or the search stopped early (stop_after_epoch); "diverged" on
// nn::DivergedError; "failed" on any other exception. Exceptions are rethrown.
#pragma once

#include <memory>
#include <string>

#include "nce/nn/dataset.h"
#include "nce/results/result_sink.h"
#include "nce/results/sqlite_cost_cache.h"
#include "nce/search/search_run.h"
#include "nce/sim/layer_cost_service.h"

namespace nce::record {

// Latency (cycles) and energy (pJ) of a layer as the search asks for them, from `costs` (which
// must outlive the result); an unmappable layer throws (LayerCostService::mappable_cost).
search::HardwareCosts hardware_costs(sim::LayerCostService& costs);

// The hardware and the database a recorded search writes to, set up in one call (`nce search`
// and every campaign job): the result sink of `db_path`, the array of `hw_path` costed through a
// LayerCostService whose cost cache is the database's (results::SqliteCostCache), and the hw
// config recorded in the database (hw_configs). Members are declared so that the cost service
// goes before the cache it writes to.
struct SearchBackend {
  std::unique_ptr<results::ResultSink> sink;        // null: no database
  std::unique_ptr<results::SqliteCostCache> cache;  // null: no database or no hardware
  std::unique_ptr<sim::LayerCostService> costs;     // null: no hardware
  search::HardwareCosts hw;                         // empty functions and name: no hardware
  std::string hw_fingerprint;                       // sim::HwConfig::fingerprint(); "" = none
  // Writes the cost cache's pending entries (also done, errors swallowed, on destruction).
  void flush();
};

// "" for either path = none. Throws what opening the database or loading the config throws.
SearchBackend open_search_backend(const std::string& db_path, const std::string& hw_path);

// The database run of a search: method ("none" is stored as "original"), model, data set, bits,
// seed, the hw config's name and the resume key of its checkpoint ("search <absolute path>").
results::RunInfo run_info(const search::SearchConfig& config, const std::string& hw_name,
                          const std::string& config_json, const std::string& git_commit);

// The absolute, normalized form of a path, as resume keys hold it (a resume from another working
// directory finds the run).
std::string absolute_path(const std::string& path);

// Forwards every event to `next` (may be null) and records epochs and candidates in `run`.
class RecordingObserver : public search::SearchObserver {
 public:
  RecordingObserver(results::RunScope* run, std::string hw_fingerprint,
                    search::SearchObserver* next)
      : run_(run), hw_fingerprint_(std::move(hw_fingerprint)), next_(next) {}
  void on_phase(const std::string& what) override;
  void on_batch(int epoch, int batch, int num_batches) override;
  void on_epoch(const search::SearchEpoch& epoch, int epochs) override;
  void on_candidate(const search::Candidate& candidate) override;
  void on_retrain_epoch(const std::string& tag, const std::vector<int>& widths,
                        const nn::EpochStats& stats, int epochs) override;
  void on_retrain_batch(int epoch, int batch, int num_batches) override;

 private:
  results::RunScope* run_;
  std::string hw_fingerprint_;
  search::SearchObserver* next_;
};

// Opens the run in `sink` (null: records nothing) -- continues the run of info.resume_key when
// config.resume or continue_run, else starts one -- runs the search and ends the run by how it
// ended (see the top of this file).
search::SearchResult run_recorded_search(
    const search::SearchConfig& config, const nn::DatasetPair& data,
    const search::HardwareCosts& hw, results::ResultSink* sink, const results::RunInfo& info,
    const std::string& hw_fingerprint, search::SearchObserver* printer, bool continue_run = false);

}  // namespace nce::record
