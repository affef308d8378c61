// One recorded training: nn::train with every epoch and the final network sent to a result sink
// as one database run (`nce train --db`), the training counterpart of recorded_search.h.
//
//   results::RunInfo info = train_run_info(config, config_json, NCE_GIT_COMMIT);
//   nn::TrainResult r = run_recorded_training(config, data, sink.get(), info, &printer);
//
// How a run ends: finished (its test top-1, and the trained network as the run's "final"
// candidate); "interrupted" when the training stopped early (an observer asked it to) or an
// observer threw nce::Interrupted (a signal); "diverged" on nn::DivergedError; "failed" on any
// other exception (results::RunScope). Exceptions are rethrown.
#pragma once

#include <string>
#include <vector>

#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"
#include "nce/results/result_sink.h"

namespace nce::record {

// The database run of a training: method "train", model, data set, bits (0 when the weight and
// activation bits differ), seed, and the resume key of its checkpoint ("train <absolute path>").
results::RunInfo train_run_info(const nn::TrainConfig& config, const std::string& config_json,
                                const std::string& git_commit);

// Records each epoch of a training in `run`, and its end (record_result).
class TrainRecorder : public nn::TrainObserver {
 public:
  explicit TrainRecorder(results::RunScope& run) : run_(run) {}
  void on_epoch(const nn::EpochStats& e, int epochs, double eta) override;
  // The final network as the run's candidate and the run's end (finished or interrupted).
  void record_result(const nn::TrainConfig& c, const nn::DatasetPair& data,
                     const nn::TrainResult& r);

 private:
  results::RunScope& run_;
};

// Hands every event to each observer added (null ones are skipped), in the order added.
class TrainObservers : public nn::TrainObserver {
 public:
  void add(nn::TrainObserver* o) {
    if (o != nullptr) list_.push_back(o);
  }
  void on_start(const nn::TrainConfig& c, const models::Network& d, int start_epoch) override {
    for (auto* o : list_) o->on_start(c, d, start_epoch);
  }
  void on_batch(int epoch, int batch, int num_batches, double running_loss) override {
    for (auto* o : list_) o->on_batch(epoch, batch, num_batches, running_loss);
  }
  void on_epoch(const nn::EpochStats& e, int epochs, double eta) override {
    for (auto* o : list_) o->on_epoch(e, epochs, eta);
  }

 private:
  std::vector<nn::TrainObserver*> list_;
};

// Opens the run in `sink` (null: records nothing) -- continues the run of info.resume_key when
// config.resume, else starts one --, trains (`printer`, may be null, sees every event first) and
// ends the run by how the training ended (see the top of this file).
nn::TrainResult run_recorded_training(const nn::TrainConfig& config, const nn::DatasetPair& data,
                                      results::ResultSink* sink, const results::RunInfo& info,
                                      nn::TrainObserver* printer);

}  // namespace nce::record
