#include "nce/record/recorded_search.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "nce/common/json.h"
#include "nce/nn/trainer.h"
#include "nce/results/sqlite_sink.h"
#include "nce/sim/hw_config.h"
#include "run_end.h"

namespace nce::record {

search::HardwareCosts hardware_costs(sim::LayerCostService& costs) {
  search::HardwareCosts hw;
  hw.name = costs.hw().name;
  sim::LayerCostService* c = &costs;
  hw.latency_cycles = [c](const models::Layer& l, int ci, int co) {
    return static_cast<double>(c->mappable_cost(l, ci, co).cycles);
  };
  hw.energy_pj = [c](const models::Layer& l, int ci, int co) {
    return c->mappable_cost(l, ci, co).energy_pj;
  };
  return hw;
}

SearchBackend open_search_backend(const std::string& db_path, const std::string& hw_path) {
  SearchBackend b;
  if (!db_path.empty()) b.sink = results::make_result_sink(db_path);
  if (hw_path.empty()) return b;
  if (!db_path.empty()) b.cache = std::make_unique<results::SqliteCostCache>(db_path);
  b.costs = std::make_unique<sim::LayerCostService>(sim::load_hw_config(hw_path), b.cache.get());
  b.hw = hardware_costs(*b.costs);
  b.hw_fingerprint = b.costs->fingerprint();
  if (b.sink) {
    b.sink->record_hw_config(b.hw_fingerprint, b.costs->hw().name, b.costs->hw().to_cfg_text());
  }
  return b;
}

void SearchBackend::flush() {
  if (cache) cache->flush();
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(absolute, ec);
  return ec ? absolute.string() : canonical.string();
}

results::RunInfo run_info(const search::SearchConfig& config, const std::string& hw_name,
                          const std::string& config_json, const std::string& git_commit) {
  results::RunInfo info;
  info.method = config.method == "none" ? "original" : config.method;
  info.model = config.model;
  info.dataset = config.dataset;
  info.bits = config.supernet.weight_bits;
  info.hw = hw_name;
  info.config_json = config_json;
  info.git_commit = git_commit;
  info.seed = config.seed;
  if (!config.checkpoint_path.empty()) {
    info.resume_key = "search " + absolute_path(config.checkpoint_path);
  }
  return info;
}

void RecordingObserver::on_phase(const std::string& what) {
  if (next_) next_->on_phase(what);
}
void RecordingObserver::on_batch(int epoch, int batch, int num_batches) {
  if (next_) next_->on_batch(epoch, batch, num_batches);
}
void RecordingObserver::on_retrain_batch(int epoch, int batch, int num_batches) {
  if (next_) next_->on_retrain_batch(epoch, batch, num_batches);
}
void RecordingObserver::on_retrain_epoch(const std::string& tag, const std::vector<int>& widths,
                                         const nn::EpochStats& stats, int epochs) {
  if (run_) {
    results::EpochRecord r;
    r.epoch = stats.epoch;
    r.phase = "retrain:" + tag;  // one curve per retrained network of the run
    r.loss = stats.loss;
    r.top1 = stats.top1;
    if (std::isfinite(stats.test_top1)) r.test_top1 = stats.test_top1;
    r.seconds = stats.seconds;
    std::ostringstream extra;
    common::JsonWriter j(extra);
    j.begin_object().key("lr").value(stats.lr).key("widths").value(widths);
    if (std::isfinite(stats.test_loss)) j.key("test_loss").value(stats.test_loss);
    j.end_object();
    r.extra_json = extra.str();
    run_->epoch(r);
  }
  if (next_) next_->on_retrain_epoch(tag, widths, stats, epochs);
}

void RecordingObserver::on_epoch(const search::SearchEpoch& e, int epochs) {
  if (run_) {
    results::EpochRecord r;
    r.epoch = e.epoch;
    r.phase = e.phase;
    r.loss = e.loss;
    r.top1 = e.top1;
    r.seconds = e.seconds;
    std::ostringstream extra;
    common::JsonWriter j(extra);
    j.begin_object().key("tau").value(e.tau).key("lr").value(e.lr);
    j.key("arch_loss").value(e.arch_loss).key("expanded").value(e.expanded);
    // Each layer's largest candidate probability (softmax(alpha)) at the epoch's end: how far the
    // architecture distribution has concentrated.
    if (!e.probabilities.empty()) {
      j.key("max_prob").begin_array();
      for (const std::vector<double>& p : e.probabilities) {
        j.value(p.empty() ? 0.0 : *std::max_element(p.begin(), p.end()));
      }
      j.end_array();
      // ... and its widest candidate's (NCE expands a layer when this reaches the threshold).
      j.key("widest_prob").begin_array();
      for (const std::vector<double>& p : e.probabilities) j.value(p.empty() ? 0.0 : p.back());
      j.end_array();
    }
    j.end_object();
    r.extra_json = extra.str();
    run_->epoch(r);
  }
  if (next_) next_->on_epoch(e, epochs);
}

void RecordingObserver::on_candidate(const search::Candidate& c) {
  if (run_) {
    results::CandidateRecord r;
    if (c.epoch > 0) r.epoch = c.epoch;
    r.phase = c.phase;
    r.method = c.method;
    r.widths = c.widths;
    r.macs = c.macs;
    r.params = c.params;
    if (c.latency_cycles >= 0) r.latency_cycles = static_cast<std::int64_t>(c.latency_cycles);
    if (c.energy_pj >= 0) r.energy_pj = c.energy_pj;
    if (c.top1 >= 0) r.top1 = c.top1;
    r.hw_fingerprint = hw_fingerprint_;
    run_->candidate(r);
  }
  if (next_) next_->on_candidate(c);
}

search::SearchResult run_recorded_search(const search::SearchConfig& config,
                                         const nn::DatasetPair& data,
                                         const search::HardwareCosts& hw, results::ResultSink* sink,
                                         const results::RunInfo& info,
                                         const std::string& hw_fingerprint,
                                         search::SearchObserver* printer, bool continue_run) {
  std::unique_ptr<results::RunScope> run;
  if (sink) {
    run = std::make_unique<results::RunScope>(*sink, info, config.resume || continue_run);
  }
  RecordingObserver observer(run.get(), hw_fingerprint, printer);
  const search::SearchResult result = end_run_on_throw(run.get(), [&] {
    return search::run_search(config, data.train, data.test, hw, &observer);
  });  // anything else: RunScope marks the run "failed"
  if (run) {
    if (result.stopped_early) {
      run->finish(results::RunStatus::kInterrupted);
    } else {
      run->finish(results::RunStatus::kFinished,
                  result.final.top1 >= 0 ? std::optional<double>(result.final.top1) : std::nullopt);
    }
  }
  return result;
}

}  // namespace nce::record
