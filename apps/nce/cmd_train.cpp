// nce train: trains a models:: network on Fashion-MNIST or CIFAR-10 (nce_nn's trainer), printing
// per-epoch loss, accuracy, images/s and ETA; checkpoints every epoch; --resume continues exactly;
// final top-1/top-5 on the test set; a JSON summary (--json) and the result database (--db).
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli_util.h"
#include "command.h"
#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"
#include "nce/results/result_sink.h"
#include "nce/results/sqlite_sink.h"

namespace nce::app {
namespace {

const char* kUsage =
    "--model NAME --dataset fashion-mnist|cifar10 [--data DIR] [--bits B] [--epochs N] "
    "[--widths W0,W1,...] [--db FILE] [options]";

// Prints progress; records epochs into the result sink when there is one.
class ConsoleObserver : public nn::TrainObserver {
 public:
  ConsoleObserver(std::ostream& out, results::RunScope* run, bool quiet)
      : out_(out), run_(run), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

  void on_start(const nn::TrainConfig& c, const models::Network& d, int start_epoch) override {
    if (quiet_) return;
    out_ << "train " << c.model << " " << models::format_widths(d.widths) << " on " << c.dataset
         << " (" << d.input.channels << "x" << d.input.height << "x" << d.input.width << "), W"
         << c.network.weight_bits << "A" << c.network.activation_bits << " "
         << nn::to_string(c.network.quantizer) << ", " << c.epochs << " epochs, batch "
         << c.batch_size << ", " << c.optimizer << " lr " << c.lr << ", " << omp_get_max_threads()
         << " threads";
    if (start_epoch > 0) out_ << ", resuming after epoch " << start_epoch;
    out_ << "\n";
  }

  // A SIGINT/SIGTERM ends the training here, between batches (the last epoch's checkpoint is
  // complete).
  void on_batch(int epoch, int batch, int num_batches, double running_loss) override {
    throw_if_interrupted();
    if (quiet_ || !tty_) return;
    if (batch % 10 == 0 || batch == num_batches) {
      std::fprintf(stderr, "\r  epoch %d: batch %d/%d  loss %.4f ", epoch, batch, num_batches,
                   running_loss);
      std::fflush(stderr);
    }
  }

  void on_epoch(const nn::EpochStats& e, int epochs, double eta) override {
    if (!quiet_) {
      if (tty_) std::fprintf(stderr, "\r%60s\r", "");
      char line[256];
      std::snprintf(line, sizeof line,
                    "epoch %3d/%d  loss %.4f  train %6.2f%%  lr %.5f  %7.1f img/s  %s", e.epoch,
                    epochs, e.loss, e.top1, e.lr, e.images_per_s,
                    format_duration(e.seconds).c_str());
      out_ << line;
      if (!std::isnan(e.test_top1)) {
        std::snprintf(line, sizeof line, "  test %6.2f%% (top-5 %6.2f%%)", e.test_top1,
                      e.test_top5);
        out_ << line;
      }
      out_ << "  ETA " << format_duration(eta) << std::endl;
    }
    if (run_ != nullptr) {
      results::EpochRecord r;
      r.epoch = e.epoch;
      r.phase = "train";
      r.loss = e.loss;
      r.top1 = e.top1;
      if (!std::isnan(e.test_top1)) r.test_top1 = e.test_top1;
      r.seconds = e.seconds;
      std::ostringstream extra;
      JsonWriter j(extra);
      j.begin_object().key("lr").value(e.lr).key("images_per_s").value(e.images_per_s);
      if (!std::isnan(e.test_top5)) j.key("test_top5").value(e.test_top5);
      j.end_object();
      r.extra_json = extra.str();
      run_->epoch(r);
    }
  }

 private:
  std::ostream& out_;
  results::RunScope* run_;
  bool quiet_;
  bool tty_;
};

void write_config(JsonWriter& j, const nn::TrainConfig& c, const std::string& data_dir, int subset,
                  int test_subset) {
  j.begin_object();
  j.key("model").value(c.model);
  j.key("dataset").value(c.dataset);
  j.key("data").value(data_dir);
  j.key("widths").value(c.widths);
  j.key("weight_bits").value(c.network.weight_bits);
  j.key("activation_bits").value(c.network.activation_bits);
  j.key("quantizer").value(nn::to_string(c.network.quantizer));
  j.key("quantize_all_layers").value(c.network.quantize_all_layers);
  j.key("pact_init_clip").value(static_cast<double>(c.network.pact_init_clip));
  j.key("epochs").value(c.epochs);
  j.key("batch").value(c.batch_size);
  j.key("optimizer").value(c.optimizer);
  j.key("lr").value(c.lr);
  j.key("final_lr").value(c.final_lr);
  j.key("warmup_epochs").value(c.warmup_epochs);
  j.key("momentum").value(static_cast<double>(c.momentum));
  j.key("nesterov").value(c.nesterov);
  j.key("weight_decay").value(static_cast<double>(c.weight_decay));
  j.key("augment").value(c.augment);
  j.key("seed").value(static_cast<std::uint64_t>(c.seed));
  j.key("subset").value(subset);
  j.key("test_subset").value(test_subset);
  j.key("max_batches").value(c.max_batches);
  j.key("threads").value(omp_get_max_threads());
  j.end_object();
}

std::string summary_json(const nn::TrainConfig& c, const std::string& config_json,
                         const nn::DatasetPair& data, const nn::TrainResult& r) {
  std::ostringstream out;
  JsonWriter j(out, true);
  j.begin_object();
  j.key("what").value("train");
  j.key("model").value(c.model);
  j.key("dataset").value(c.dataset);
  j.key("widths").value(r.widths);
  j.key("weight_bits").value(c.network.weight_bits);
  j.key("activation_bits").value(c.network.activation_bits);
  j.key("quantizer").value(nn::to_string(c.network.quantizer));
  j.key("macs").value(static_cast<std::int64_t>(r.macs));
  j.key("trainable_parameters").value(static_cast<std::int64_t>(r.parameters));
  j.key("train_images").value(data.train.size());
  j.key("test_images").value(data.test.size());
  j.key("resumed_from_epoch").value(r.resumed_from);
  j.key("stopped_early").value(r.stopped_early);
  j.key("seconds").value(r.seconds);
  j.key("config").raw(config_json);
  j.key("epochs").begin_array();
  double ips_sum = 0.0;
  for (const auto& e : r.history) {
    ips_sum += e.images_per_s;
    j.begin_object();
    j.key("epoch").value(e.epoch);
    j.key("loss").value(e.loss);
    j.key("top1").value(e.top1);
    j.key("lr").value(e.lr);
    j.key("seconds").value(e.seconds);
    j.key("images_per_s").value(e.images_per_s);
    j.key("test_loss").value(e.test_loss);
    j.key("test_top1").value(e.test_top1);
    j.key("test_top5").value(e.test_top5);
    j.end_object();
  }
  j.end_array();
  j.key("images_per_s").value(r.history.empty() ? 0.0 : ips_sum / r.history.size());
  j.key("test").begin_object();
  if (r.test.images > 0) {
    j.key("loss").value(r.test.loss);
    j.key("top1").value(r.test.top1);
    j.key("top5").value(r.test.top5);
  }
  j.key("images").value(r.test.images);
  j.end_object();
  j.end_object();
  out << "\n";
  return out.str();
}

int run_train(const std::vector<std::string>& args) {
  return run_guarded("train", [&]() -> int {
    po::options_description opts("nce train options");
    opts.add_options()("model", po::value<std::string>(),
                       "model name (nce models list), e.g. resnet20")(
        "dataset", po::value<std::string>(), "fashion-mnist or cifar10")(
        "data", po::value<std::string>()->default_value(""),
        "data directory (default fashion-mnist: /usr/share/datasets/fashion-mnist; cifar10: "
        "required, the cifar-10-batches-bin layout)")(
        "bits", po::value<int>()->default_value(32),
        "weight and activation bits: 2, 3, 4, 8 or 32 (= full precision)")(
        "weight-bits", po::value<int>(), "weight bits (overrides --bits)")(
        "act-bits", po::value<int>(), "activation bits (overrides --bits)")(
        "quantizer", po::value<std::string>()->default_value("sawb"), "weights: sawb, dorefa, lsq")(
        "quantize-all", po::bool_switch(),
        "also quantize the first conv, the last FC and the 1x1 shortcuts")(
        "pact-init", po::value<float>()->default_value(10.0f, "10"), "initial PACT clip")(
        "epochs", po::value<int>()->default_value(1), "training epochs")(
        "widths", po::value<std::string>(),
        "width vector: input channels, then every searchable conv (default: the model's)")(
        "batch", po::value<int>()->default_value(128), "batch size")(
        "optimizer", po::value<std::string>()->default_value("sgd"), "sgd or adam")(
        "lr", po::value<double>()->default_value(0.1, "0.1"), "peak learning rate")(
        "final-lr", po::value<double>()->default_value(0.0, "0"),
        "learning rate at the end of the cosine")(
        "warmup-epochs", po::value<int>()->default_value(0), "linear warm-up epochs")(
        "momentum", po::value<float>()->default_value(0.9f, "0.9"), "SGD momentum")(
        "no-nesterov", po::bool_switch(), "plain (heavy-ball) momentum instead of Nesterov")(
        "weight-decay", po::value<float>()->default_value(5e-4f, "5e-4"), "L2 weight decay")(
        "augment", po::value<std::string>()->default_value("auto"),
        "on, off or auto (= on for cifar10): 4-pixel pad + random crop + horizontal flip")(
        "seed", po::value<std::uint64_t>()->default_value(1),
        "seed of initialization and data order")(
        "subset", po::value<int>()->default_value(0),
        "train on the first N images of each class only (0 = all)")(
        "test-subset", po::value<int>()->default_value(0),
        "test on the first N images of each class only (0 = all)")(
        "max-batches", po::value<int>()->default_value(0),
        "at most N batches per epoch (0 = all; quick smoke runs)")(
        "no-epoch-test", po::bool_switch(), "test only at the end, not after every epoch")(
        "checkpoint", po::value<std::string>()->default_value(""),
        "write a checkpoint here after every epoch (atomically)")(
        "resume", po::bool_switch(), "continue from --checkpoint (same model and settings)")(
        "stop-after", po::value<int>()->default_value(0),
        "stop after this many epochs are done (the schedule still spans --epochs; resume later)")(
        "threads", po::value<int>()->default_value(0), "OpenMP threads (0 = OpenMP's default)")(
        "json", po::value<std::string>(), "write a JSON summary to FILE ('-' = stdout)")(
        "db", po::value<std::string>(),
        "record the run, its epochs and the result in this SQLite database")(
        "quiet", po::bool_switch(), "no progress output");
    po::variables_map vm;
    if (!parse_or_help(args, "train", kUsage, opts, vm)) return 0;
    const InterruptHandler interrupts;
    if (!vm.count("model")) throw std::invalid_argument("--model is required");
    if (!vm.count("dataset"))
      throw std::invalid_argument("--dataset is required (fashion-mnist or cifar10)");

    nn::TrainConfig c;
    c.model = vm["model"].as<std::string>();
    c.dataset = vm["dataset"].as<std::string>();
    if (c.dataset != "fashion-mnist" && c.dataset != "cifar10") {
      throw std::invalid_argument("--dataset '" + c.dataset + "': want fashion-mnist or cifar10");
    }
    const int bits = vm["bits"].as<int>();
    c.network.weight_bits = vm.count("weight-bits") ? vm["weight-bits"].as<int>() : bits;
    c.network.activation_bits = vm.count("act-bits") ? vm["act-bits"].as<int>() : bits;
    c.network.quantizer = nn::parse_quantizer(vm["quantizer"].as<std::string>());
    c.network.quantize_all_layers = vm["quantize-all"].as<bool>();
    c.network.pact_init_clip = vm["pact-init"].as<float>();
    c.epochs = vm["epochs"].as<int>();
    if (vm.count("widths")) c.widths = models::parse_widths(vm["widths"].as<std::string>());
    c.batch_size = vm["batch"].as<int>();
    c.optimizer = vm["optimizer"].as<std::string>();
    c.lr = vm["lr"].as<double>();
    c.final_lr = vm["final-lr"].as<double>();
    c.warmup_epochs = vm["warmup-epochs"].as<int>();
    c.momentum = vm["momentum"].as<float>();
    c.nesterov = !vm["no-nesterov"].as<bool>();
    c.weight_decay = vm["weight-decay"].as<float>();
    const std::string augment = vm["augment"].as<std::string>();
    if (augment == "auto") {
      c.augment = c.dataset == "cifar10";
    } else if (augment == "on" || augment == "off") {
      c.augment = augment == "on";
    } else {
      throw std::invalid_argument("--augment '" + augment + "': want on, off or auto");
    }
    c.seed = vm["seed"].as<std::uint64_t>();
    c.max_batches = vm["max-batches"].as<int>();
    c.test_each_epoch = !vm["no-epoch-test"].as<bool>();
    c.checkpoint_path = vm["checkpoint"].as<std::string>();
    c.resume = vm["resume"].as<bool>();
    c.stop_after_epoch = vm["stop-after"].as<int>();
    const int threads = vm["threads"].as<int>();
    if (threads < 0) throw std::invalid_argument("--threads must be >= 0");
    if (threads > 0) omp_set_num_threads(threads);
    const int subset = vm["subset"].as<int>();
    const int test_subset = vm["test-subset"].as<int>();
    if (subset < 0 || test_subset < 0)
      throw std::invalid_argument("--subset/--test-subset must be >= 0");
    nn::validate(c);  // before loading data: bad flags fail fast
    if (c.widths.empty()) {
      c.widths = models::default_widths(c.model, c.dataset == "cifar10" ? 3 : 1);
    }

    const std::string data_dir = vm["data"].as<std::string>();
    nn::DatasetPair data = nn::load_dataset(c.dataset, data_dir);
    if (subset > 0) data.train = nn::subset_per_class(data.train, subset);
    if (test_subset > 0) data.test = nn::subset_per_class(data.test, test_subset);
    if (c.resume) {  // a checkpoint of another run is refused before its run is continued
      nn::check_checkpoint_matches(nn::read_checkpoint(c.checkpoint_path), c.checkpoint_path,
                                   c.model, c.widths, nn::checkpoint_identity(c, data.train));
    }

    std::ostringstream config_text;
    {
      JsonWriter j(config_text);
      write_config(j, c, data_dir, subset, test_subset);
    }
    const bool json_to_stdout = vm.count("json") && vm["json"].as<std::string>() == "-";
    std::ostream& progress = json_to_stdout ? std::cerr : std::cout;

    std::unique_ptr<results::ResultSink> sink;
    std::optional<results::RunScope> run;
    if (vm.count("db")) {
      sink = results::make_result_sink(vm["db"].as<std::string>());
      results::RunInfo info;
      info.method = "train";
      info.model = c.model;
      info.dataset = c.dataset;
      info.bits = c.network.weight_bits == c.network.activation_bits ? c.network.weight_bits : 0;
      info.config_json = config_text.str();
      info.git_commit = NCE_GIT_COMMIT;
      info.seed = c.seed;
      if (!c.checkpoint_path.empty()) {
        info.resume_key = "train " + resume_key_path(c.checkpoint_path);
      }
      run.emplace(*sink, info, c.resume);
    }

    ConsoleObserver observer(progress, run ? &*run : nullptr, vm["quiet"].as<bool>());
    const nn::TrainResult result = record_run_end(
        run ? &*run : nullptr, [&] { return nn::train(c, data.train, data.test, &observer); });

    if (!vm["quiet"].as<bool>()) {
      if (result.stopped_early) {
        progress << "stopped after epoch " << result.history.size() << " of " << c.epochs;
        if (!c.checkpoint_path.empty()) progress << "; continue with --resume";
        progress << "\n";
      } else {
        char line[160];
        std::snprintf(line, sizeof line,
                      "test: top-1 %.2f%%  top-5 %.2f%%  loss %.4f  (%d images)\n",
                      result.test.top1, result.test.top5, result.test.loss, result.test.images);
        progress << line;
      }
    }
    if (run) {
      if (!result.stopped_early) {
        const models::Network d = models::build(
            c.model, result.widths,
            {data.train.channels, data.train.height, data.train.width, data.train.num_classes});
        results::CandidateRecord cand;
        cand.epoch = c.epochs;
        cand.phase = "final";
        cand.widths = result.widths;
        cand.macs = d.macs();
        cand.params = d.params();
        cand.top1 = result.test.top1;
        run->candidate(cand);
        run->finish(results::RunStatus::kFinished, result.test.top1);
      } else {
        run->finish(results::RunStatus::kInterrupted);
      }
    }
    if (vm.count("json")) {
      write_text_file(vm["json"].as<std::string>(),
                      summary_json(c, config_text.str(), data, result));
    }
    return 0;
  });
}

}  // namespace

NCE_REGISTER_COMMAND("train", "train a network on fashion-mnist or cifar10 (quantized or not)",
                     run_train);

}  // namespace nce::app
