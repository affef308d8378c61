// nce train: trains a models:: network on Fashion-MNIST or CIFAR-10 (nce_nn's trainer), printing
// per-epoch loss, accuracy, images/s and ETA; checkpoints every epoch; --resume continues exactly;
// final top-1/top-5 on the test set; a JSON summary (--json) and the result database (--db).
// Options: train_options.cpp; printing and the JSON summary: train_report.cpp; the recorded run:
// nce/record/recorded_train.h.
#include <iostream>
#include <memory>

#include "cli_util.h"
#include "command.h"
#include "interrupt.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"
#include "nce/record/recorded_train.h"
#include "nce/results/result_sink.h"
#include "nce/results/sqlite_sink.h"
#include "train_options.h"
#include "train_report.h"

namespace nce::app {
namespace {

const char* kUsage =
    "--model NAME --dataset fashion-mnist|cifar10 [--data DIR] [--bits B] [--epochs N] "
    "[--widths W0,W1,...] [--db FILE] [options]";

int run_train(const std::vector<std::string>& args) {
  po::options_description opts = train_options();
  po::variables_map vm;
  if (!parse_or_help(args, "train", kUsage, opts, vm)) return 0;
  const InterruptHandler interrupts;
  const TrainCommand cmd = train_command(vm);  // validated before anything is loaded
  const nn::TrainConfig& c = cmd.config;

  nn::DatasetPair data = nn::load_dataset(c.dataset, cmd.data_dir);
  if (cmd.subset > 0) data.train = nn::subset_per_class(data.train, cmd.subset);
  if (cmd.test_subset > 0) data.test = nn::subset_per_class(data.test, cmd.test_subset);
  if (c.resume) {  // a checkpoint of another run is refused before its run is continued
    nn::check_checkpoint_matches(nn::read_checkpoint(c.checkpoint_path), c.checkpoint_path, c.model,
                                 c.widths, nn::checkpoint_identity(c, data.train));
  }
  std::ostream& out = cmd.json_path == "-" ? std::cerr : std::cout;

  std::unique_ptr<results::ResultSink> sink;
  if (!cmd.db_path.empty()) sink = results::make_result_sink(cmd.db_path);
  TrainProgress progress(out, cmd.quiet);
  const nn::TrainResult result = record::run_recorded_training(
      c, data, sink.get(), record::train_run_info(c, cmd.config_json, NCE_GIT_COMMIT), &progress);
  progress.print_result(c, result);
  if (!cmd.json_path.empty()) {
    write_text_file(cmd.json_path, train_summary_json(c, cmd.config_json, data, result));
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("train", "train a network on fashion-mnist or cifar10 (quantized or not)",
                     run_train);

}  // namespace nce::app
