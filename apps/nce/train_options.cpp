#include "train_options.h"

#include <omp.h>

#include <cstdint>
#include <sstream>
#include <stdexcept>

#include "nce/common/json.h"
#include "nce/models/network.h"

namespace nce::app {
namespace {

void write_config(common::JsonWriter& j, const nn::TrainConfig& c, const std::string& data_dir, int subset,
                  int test_subset) {
  j.begin_object();
  j.members("model", c.model, "dataset", c.dataset, "data", data_dir, "widths", c.widths,
            "weight_bits", c.network.weight_bits, "activation_bits", c.network.activation_bits,
            "quantizer", nn::to_string(c.network.quantizer), "quantize_all_layers",
            c.network.quantize_all_layers);
  if (c.network.int8_full_precision) j.key("int8_full_precision").value(true);
  j.members("pact_init_clip", static_cast<double>(c.network.pact_init_clip), "epochs", c.epochs,
            "batch", c.batch_size, "optimizer", c.optimizer, "lr", c.lr, "final_lr", c.final_lr,
            "warmup_epochs", c.warmup_epochs, "momentum", static_cast<double>(c.momentum),
            "nesterov", c.nesterov, "weight_decay", static_cast<double>(c.weight_decay), "augment",
            c.augment, "seed", static_cast<std::uint64_t>(c.seed), "subset", subset, "test_subset",
            test_subset, "max_batches", c.max_batches, "threads", omp_get_max_threads());
  j.end_object();
}

}  // namespace

po::options_description train_options() {
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
      "int8-full-precision", po::bool_switch(),
      "train the full-precision layers (first conv, 1x1 shortcuts, last FC) as `nce export` "
      "runs them: 8-bit weights per output channel, the FC's input at 8 bits per image; then "
      "`nce infer` predicts what the trainer's eval predicts (without it they part on ~1 in 5 "
      "CIFAR-10 images of a 2-bit ResNet-20)")(
      "pact-init", po::value<float>()->default_value(10.0f, "10"), "initial PACT clip")(
      "epochs", po::value<int>()->default_value(1), "training epochs")(
      "widths", po::value<std::string>(),
      "width vector: input channels, then every searchable conv (default: the model's)")(
      "batch", po::value<int>()->default_value(128), "batch size")(
      "optimizer", po::value<std::string>()->default_value("sgd"), "sgd or adam")(
      "lr", po::value<double>()->default_value(0.1, "0.1"), "peak learning rate")(
      "final-lr", po::value<double>()->default_value(0.0, "0"),
      "learning rate at the end of the cosine")("warmup-epochs", po::value<int>()->default_value(0),
                                                "linear warm-up epochs")(
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
  return opts;
}

TrainCommand train_command(const po::variables_map& vm) {
  if (!vm.count("model")) throw std::invalid_argument("--model is required");
  if (!vm.count("dataset"))
    throw std::invalid_argument("--dataset is required (fashion-mnist or cifar10)");

  TrainCommand cmd;
  nn::TrainConfig& c = cmd.config;
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
  c.network.int8_full_precision = vm["int8-full-precision"].as<bool>();
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
  cmd.subset = vm["subset"].as<int>();
  cmd.test_subset = vm["test-subset"].as<int>();
  if (cmd.subset < 0 || cmd.test_subset < 0)
    throw std::invalid_argument("--subset/--test-subset must be >= 0");
  nn::validate(c);  // before loading data: bad flags fail fast
  if (c.widths.empty()) {
    c.widths = models::default_widths(c.model, c.dataset == "cifar10" ? 3 : 1);
  }

  cmd.data_dir = vm["data"].as<std::string>();
  if (vm.count("db")) cmd.db_path = vm["db"].as<std::string>();
  if (vm.count("json")) cmd.json_path = vm["json"].as<std::string>();
  cmd.quiet = vm["quiet"].as<bool>();
  std::ostringstream config_text;
  {
    common::JsonWriter j(config_text);
    write_config(j, c, cmd.data_dir, cmd.subset, cmd.test_subset);
  }
  cmd.config_json = config_text.str();
  return cmd;
}

}  // namespace nce::app
