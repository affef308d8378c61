// nce train's output and recording, as separate observers of nn::train: TrainProgress prints
// (and ends the training at the next batch after SIGINT/SIGTERM), TrainRecorder writes each epoch
// into the run's database; TrainObservers hands every event to both. Also the JSON summary.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"
#include "nce/results/result_sink.h"

namespace nce::app {

class TrainProgress : public nn::TrainObserver {
 public:
  TrainProgress(std::ostream& out, bool quiet);
  void on_start(const nn::TrainConfig& c, const models::Network& d, int start_epoch) override;
  // A SIGINT/SIGTERM ends the training here, between batches (the last epoch's checkpoint is
  // complete).
  void on_batch(int epoch, int batch, int num_batches, double running_loss) override;
  void on_epoch(const nn::EpochStats& e, int epochs, double eta) override;
  // The end: the test accuracy, or where it stopped.
  void print_result(const nn::TrainConfig& c, const nn::TrainResult& r);

 private:
  std::ostream& out_;
  bool quiet_;
  bool tty_;
};

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

std::string train_summary_json(const nn::TrainConfig& c, const std::string& config_json,
                               const nn::DatasetPair& data, const nn::TrainResult& r);

}  // namespace nce::app
