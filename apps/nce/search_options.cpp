#include "search_options.h"

#include <cstdint>
#include <sstream>
#include <stdexcept>

#include "nce/common/json.h"
#include "nce/models/network.h"

namespace nce::app {

po::options_description search_options() {
  po::options_description opts("Options");
  search::SearchConfig d;  // defaults shown in --help
  opts.add_options()("method", po::value<std::string>()->default_value("nce"),
                     "nce, tas, wrpn, random or none")(
      "model", po::value<std::string>()->default_value("resnet20"), "model (nce models list)")(
      "dataset", po::value<std::string>()->default_value("fashion-mnist"),
      "fashion-mnist or cifar10")(
      "data", po::value<std::string>()->default_value(""),
      "data directory (default: Debian's Fashion-MNIST; CIFAR-10 needs one)")(
      "widths", po::value<std::string>(), "base width vector (default: the model's)")(
      "base-multiplier", po::value<double>()->default_value(1.0),
      "scale the base widths first (2 = the paper's \"2X TAS\")")(
      "bits", po::value<int>()->default_value(2), "uniform weight/activation bits: 2, 3, 4, 8, 32")(
      "quantizer", po::value<std::string>()->default_value("sawb"), "weights: sawb, dorefa, lsq")(
      "pact-init", po::value<float>()->default_value(10.0f),
      "initial PACT clip (docs/algorithm.md: 10; about 3 keeps 2-bit Fashion-MNIST nets stable)")(
      "hw", po::value<std::string>(), "hardware config (.cfg) for cycles and energy")(
      "lambda-flops", po::value<double>()->default_value(d.flops.lambda),
      "weight of the MACs term")(
      "lambda-params", po::value<double>()->default_value(d.params.lambda),
      "weight of the PARAMs term")("lambda-latency", po::value<double>()->default_value(0.0),
                                   "weight of the cycles term (needs --hw)")(
      "lambda-energy", po::value<double>()->default_value(0.0),
      "weight of the energy term (needs --hw)")(
      "flops-target", po::value<double>()->default_value(1.0), "MACs target, times the original's")(
      "params-target", po::value<double>()->default_value(1.0),
      "PARAMs target, times the original's")("latency-target",
                                             po::value<double>()->default_value(1.0),
                                             "cycles target, times the original's")(
      "energy-target", po::value<double>()->default_value(1.0),
      "energy target, times the original's")("warmup-epochs",
                                             po::value<int>()->default_value(d.warmup_epochs),
                                             "weight-only epochs, uniform sampling")(
      "search-epochs", po::value<int>()->default_value(d.search_epochs), "bi-level search epochs")(
      "retrain-epochs", po::value<int>()->default_value(d.retrain_epochs),
      "epochs to retrain the result")("threshold", po::value<double>()->default_value(d.threshold),
                                      "NCE expansion threshold T in (0,1)")(
      "max-candidates", po::value<int>()->default_value(d.max_candidates),
      "NCE: candidates per layer, 8..16")(
      "wrpn-multipliers", po::value<std::string>()->default_value("1,1.25,1.5,2"),
      "WRPN width multipliers")("random-samples", po::value<int>()->default_value(d.random_samples),
                                "random search: vectors to retrain")(
      "batch", po::value<int>()->default_value(d.batch_size), "batch size")(
      "lr", po::value<double>()->default_value(d.lr), "weight learning rate (SGD, cosine)")(
      "arch-lr", po::value<double>()->default_value(d.arch_lr), "alpha learning rate (Adam)")(
      "subset", po::value<int>()->default_value(0),
      "use the first N training images per class (0: all)")(
      "test-subset", po::value<int>()->default_value(0),
      "use the first N test images per class (0: all)")(
      "max-batches", po::value<int>()->default_value(0), "batches per epoch (0: all)")(
      "no-augment", "no crop/flip augmentation (the default for Fashion-MNIST)")(
      "baseline", "also retrain the original network with the same budget, for the comparison")(
      "tas-counting",
      "cost terms leave out the 1x1 shortcut a stride-1 block needs when its "
      "widths differ (TAS's counting; default: counted, as the derived network has it)")(
      "seed", po::value<std::uint64_t>()->default_value(1), "random seed")(
      "checkpoint", po::value<std::string>(), "checkpoint file, written after every epoch")(
      "save-checkpoint", po::value<std::string>(),
      "write the final retrained network here (an nn checkpoint for nce export)")(
      "resume", "continue from --checkpoint")("db", po::value<std::string>(),
                                              "result database (SQLite) to record the run in")(
      "distill",
      "retrain with distillation from the original network (TAS: 0.1*CE + 0.9*T^2*KL, T = 4); "
      "trains the original first")("distill-temperature",
                                   po::value<float>()->default_value(d.distill_temperature),
                                   "distillation temperature T")(
      "distill-weight", po::value<float>()->default_value(d.distill_weight),
      "weight of the T^2*KL term (the CE gets 1 - weight)")(
      "distill-teacher-bits", po::value<int>()->default_value(0),
      "bits of the teacher (0: the search's --bits)")(
      "analysis", po::value<std::string>(),
      "directory for alpha.csv, kendall.csv (Fig. 4) and activations.csv with two SVG charts "
      "(Fig. 1: per-layer activation STDEV and SQNR of the original at 32 bits and at --bits "
      "and of the result; retrains the original at both)")(
      "probe-images", po::value<int>()->default_value(d.probe_images),
      "test images the activation analysis measures")(
      "json", po::value<std::string>(), "write a JSON summary to this file (- = stdout)")(
      "quiet", "no progress output");
  return opts;
}

SearchCommand search_command(const po::variables_map& vm) {
  SearchCommand cmd;
  search::SearchConfig& c = cmd.config;
  c.method = vm["method"].as<std::string>();
  c.model = vm["model"].as<std::string>();
  c.dataset = vm["dataset"].as<std::string>();
  if (vm.count("widths")) c.widths = models::parse_widths(vm["widths"].as<std::string>());
  c.base_multiplier = vm["base-multiplier"].as<double>();
  c.supernet.weight_bits = c.supernet.activation_bits = vm["bits"].as<int>();
  c.supernet.quantizer = nn::parse_quantizer(vm["quantizer"].as<std::string>());
  c.supernet.pact_init_clip = vm["pact-init"].as<float>();
  if (!(c.supernet.pact_init_clip > 0)) {
    throw std::invalid_argument("--pact-init must be > 0, got " +
                                std::to_string(c.supernet.pact_init_clip));
  }
  c.flops = {vm["lambda-flops"].as<double>(), vm["flops-target"].as<double>()};
  c.params = {vm["lambda-params"].as<double>(), vm["params-target"].as<double>()};
  c.latency = {vm["lambda-latency"].as<double>(), vm["latency-target"].as<double>()};
  c.energy = {vm["lambda-energy"].as<double>(), vm["energy-target"].as<double>()};
  c.warmup_epochs = vm["warmup-epochs"].as<int>();
  c.search_epochs = vm["search-epochs"].as<int>();
  c.retrain_epochs = vm["retrain-epochs"].as<int>();
  c.threshold = vm["threshold"].as<double>();
  c.max_candidates = vm["max-candidates"].as<int>();
  try {
    c.wrpn_multipliers = models::parse_multipliers(vm["wrpn-multipliers"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--wrpn-multipliers: ") + e.what());
  }
  c.random_samples = vm["random-samples"].as<int>();
  c.batch_size = vm["batch"].as<int>();
  c.lr = vm["lr"].as<double>();
  c.arch_lr = vm["arch-lr"].as<double>();
  c.max_batches = vm["max-batches"].as<int>();
  c.augment = c.dataset == "cifar10" && !vm.count("no-augment");
  c.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("checkpoint")) c.checkpoint_path = vm["checkpoint"].as<std::string>();
  if (vm.count("save-checkpoint"))
    c.final_checkpoint_path = vm["save-checkpoint"].as<std::string>();
  c.resume = vm.count("resume") > 0;
  c.count_width_shortcuts = vm.count("tas-counting") == 0;
  c.distill = vm.count("distill") > 0;
  c.distill_temperature = vm["distill-temperature"].as<float>();
  c.distill_weight = vm["distill-weight"].as<float>();
  c.distill_teacher_bits = vm["distill-teacher-bits"].as<int>();
  c.activation_analysis = vm.count("analysis") > 0;
  c.probe_images = vm["probe-images"].as<int>();
  search::validate(c);  // before loading anything
  for (const char* term : {"latency", "energy"}) {
    if (vm[std::string("lambda-") + term].as<double>() > 0 && !vm.count("hw")) {
      throw std::invalid_argument(std::string("--lambda-") + term +
                                  " > 0 needs a hardware config (--hw FILE)");
    }
  }
  cmd.quiet = vm.count("quiet") > 0;
  cmd.baseline = vm.count("baseline") > 0;
  cmd.subset = vm["subset"].as<int>();
  cmd.test_subset = vm["test-subset"].as<int>();
  if (cmd.subset < 0 || cmd.test_subset < 0) throw std::invalid_argument("--subset must be >= 0");
  cmd.data_dir = vm["data"].as<std::string>();
  auto text = [&](const char* key) {
    return vm.count(key) ? vm[key].as<std::string>() : std::string();
  };
  cmd.hw_path = text("hw");
  cmd.db_path = text("db");
  cmd.analysis_dir = text("analysis");
  cmd.json_path = text("json");

  std::ostringstream config_json;
  {
    JsonWriter j(config_json);
    j.begin_object();
    for (const auto& kv : vm) {
      if (kv.second.value().type() == typeid(std::string)) {
        j.key(kv.first).value(kv.second.as<std::string>());
      } else if (kv.second.value().type() == typeid(int)) {
        j.key(kv.first).value(kv.second.as<int>());
      } else if (kv.second.value().type() == typeid(double)) {
        j.key(kv.first).value(kv.second.as<double>());
      } else if (kv.second.value().type() == typeid(float)) {
        j.key(kv.first).value(static_cast<double>(kv.second.as<float>()));
      } else if (kv.second.value().type() == typeid(std::uint64_t)) {
        j.key(kv.first).value(kv.second.as<std::uint64_t>());
      } else {
        j.key(kv.first).value(true);
      }
    }
    j.end_object();
  }
  cmd.config_json = config_json.str();
  return cmd;
}

}  // namespace nce::app
