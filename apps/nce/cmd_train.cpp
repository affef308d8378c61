// nce train: trains a models:: network on Fashion-MNIST or CIFAR-10 (nce_nn's trainer), printing
// per-epoch loss, accuracy, images/s and ETA; checkpoints every epoch; --resume continues exactly;
// final top-1/top-5 on the test set; a JSON summary (--json) and the result database (--db).
// Options: train_options.cpp; printing, recording and the JSON summary: train_report.cpp.
#include <iostream>
#include <memory>
#include <optional>

#include "cli_util.h"
#include "command.h"
#include "interrupt.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"
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
  return run_guarded("train", [&]() -> int {
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
      nn::check_checkpoint_matches(nn::read_checkpoint(c.checkpoint_path), c.checkpoint_path,
                                   c.model, c.widths, nn::checkpoint_identity(c, data.train));
    }
    std::ostream& out = cmd.json_path == "-" ? std::cerr : std::cout;

    std::unique_ptr<results::ResultSink> sink;
    std::optional<results::RunScope> run;
    if (!cmd.db_path.empty()) {
      sink = results::make_result_sink(cmd.db_path);
      results::RunInfo info;
      info.method = "train";
      info.model = c.model;
      info.dataset = c.dataset;
      info.bits = c.network.weight_bits == c.network.activation_bits ? c.network.weight_bits : 0;
      info.config_json = cmd.config_json;
      info.git_commit = NCE_GIT_COMMIT;
      info.seed = c.seed;
      if (!c.checkpoint_path.empty()) {
        info.resume_key = "train " + resume_key_path(c.checkpoint_path);
      }
      run.emplace(*sink, info, c.resume);
    }

    TrainProgress progress(out, cmd.quiet);
    std::optional<TrainRecorder> recorder;
    if (run) recorder.emplace(*run);
    TrainObservers observers;
    observers.add(&progress);
    observers.add(recorder ? &*recorder : nullptr);
    const nn::TrainResult result = record_run_end(
        run ? &*run : nullptr, [&] { return nn::train(c, data.train, data.test, &observers); });

    progress.print_result(c, result);
    if (recorder) recorder->record_result(c, data, result);
    if (!cmd.json_path.empty()) {
      write_text_file(cmd.json_path, train_summary_json(c, cmd.config_json, data, result));
    }
    return 0;
  });
}

}  // namespace

NCE_REGISTER_COMMAND("train", "train a network on fashion-mnist or cifar10 (quantized or not)",
                     run_train);

}  // namespace nce::app
