// nce train's output, an observer of nn::train: TrainProgress prints (and ends the training at the
// next batch after SIGINT/SIGTERM). Also the JSON summary. The recording (the run's database):
// nce/record/recorded_train.h.
#pragma once

#include <ostream>
#include <string>

#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"

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

std::string train_summary_json(const nn::TrainConfig& c, const std::string& config_json,
                               const nn::DatasetPair& data, const nn::TrainResult& r);

}  // namespace nce::app
