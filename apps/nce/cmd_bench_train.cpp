// nce bench train|infer: throughput of the Eigen trainer on synthetic data (random images and
// labels of the data set's shape). train = forward + cross-entropy + backward + SGD step in train
// mode; infer = forward in eval mode. Reports images/s (mean over the timed steps, after warm-up
// steps), the fastest step, the peak resident memory of the process and the network's buffers.
// `bench infer --engine int` times the integer engine instead (nce_deploy): the same network,
// freshly initialized, exported to an integer model, run on random 8-bit images.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <utility>

#include "cli_util.h"
#include "command.h"
#include "nce/common/json.h"
#include "nce/deploy/exporter.h"
#include "nce/deploy/int_engine.h"
#include "nce/models/network.h"
#include "nce/nn/isa.h"
#include "nce/nn/loss.h"
#include "nce/nn/network.h"
#include "nce/nn/optimizer.h"

namespace nce::app {
namespace {

// Peak resident set size of this process in MiB (Linux VmHWM), 0 if unknown.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      double kib = 0;
      fields >> kib;
      return kib / 1024.0;
    }
  }
  return 0.0;
}

void add_bench_options(po::options_description& opts, const std::string& what) {
  opts.add_options()("model", po::value<std::string>()->default_value("resnet20"), "model name")(
      "widths", po::value<std::string>(), "width vector (default: the model's)")(
      "dataset", po::value<std::string>()->default_value("cifar10"),
      "input shape of: cifar10 (3x32x32) or fashion-mnist (1x28x28)")(
      "bits", po::value<int>()->default_value(32), "weight and activation bits (2, 3, 4, 8, 32)")(
      "quantizer", po::value<std::string>()->default_value("sawb"), "sawb, dorefa or lsq")(
      "batch", po::value<int>()->default_value(128), "batch size")(
      "steps", po::value<int>()->default_value(10), "timed steps")(
      "warmup", po::value<int>()->default_value(2), "untimed steps first")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0 = OpenMP's default)")(
      "json", po::bool_switch(), "print JSON instead of text");
  if (what == "infer") {
    opts.add_options()("engine", po::value<std::string>()->default_value("float"),
                       "float (the trainer's eval forward) or int (the integer engine; "
                       "--bits 2..8)")("kernel", po::value<std::string>()->default_value("auto"),
                                       "integer kernels: portable, avx2, vnni or auto");
  }
}

models::InputShape dataset_input(const std::string& dataset) {
  if (dataset == "cifar10") return models::cifar_input();
  if (dataset == "fashion-mnist") return models::fashion_mnist_input();
  throw std::invalid_argument("--dataset '" + dataset + "': want cifar10 or fashion-mnist");
}

// The network `net` (freshly initialized) exported to an integer model, as `nce export` would
// from a checkpoint of it, in an integer engine.
std::unique_ptr<deploy::IntEngine> make_int_engine(nn::Network& net, const std::string& model,
                                                   const models::Network& description,
                                                   const nn::NetworkOptions& options,
                                                   const std::string& dataset,
                                                   deploy::KernelKind kernel) {
  const models::InputShape& input = description.input;
  nn::Checkpoint ck;
  ck.model = model;
  ck.widths = description.widths;
  ck.options = {{"weight_bits", std::to_string(options.weight_bits)},
                {"activation_bits", std::to_string(options.activation_bits)},
                {"quantizer", nn::to_string(options.quantizer)},
                {"bn_eps", std::to_string(options.bn_eps)},
                {"quantize_all_layers", "0"},
                {"dataset", dataset},
                {"input", std::to_string(input.channels) + "x" + std::to_string(input.height) +
                              "x" + std::to_string(input.width)}};
  for (const nn::NamedTensor& t : net.state())
    ck.network.push_back(nn::StateBuffer{
        t.name, std::vector<float>(t.tensor->data(), t.tensor->data() + t.tensor->size())});
  nn::Normalization norm{std::vector<float>(static_cast<std::size_t>(input.channels), 0.45f),
                         std::vector<float>(static_cast<std::size_t>(input.channels), 0.25f)};
  return std::make_unique<deploy::IntEngine>(
      deploy::export_int_model(ck, norm, "bench (" + model + ")"), kernel);
}

// Seconds of `steps` calls of step after `warmup` untimed ones: in all, and the fastest.
struct StepTimes {
  double total = 0.0, fastest = 1e300;
};

template <typename Step>
StepTimes time_steps(const Step& step, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) step();
  using Clock = std::chrono::steady_clock;
  StepTimes t;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    step();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    t.total += s;
    t.fastest = std::min(t.fastest, s);
  }
  return t;
}

// What a bench run reports.
struct BenchReport {
  std::string what, model, kernel;  // kernel: the integer engine's, empty for the float network
  const models::Network* description = nullptr;
  const nn::NetworkOptions* options = nullptr;
  int batch = 0, steps = 0;
  StepTimes times;
  double peak_rss_mib = 0.0, buffer_mib = 0.0;
};

double images_per_s(const BenchReport& r) {
  return static_cast<double>(r.batch) * r.steps / r.times.total;
}

void print_json(const BenchReport& r) {
  common::JsonWriter j(std::cout);
  j.begin_object();
  j.key("what").value(r.what);
  j.key("engine").value(r.kernel.empty() ? "nce" : "nce-int");
  if (!r.kernel.empty()) j.key("kernel").value(r.kernel);
  j.key("model").value(r.model);
  j.key("widths").value(r.description->widths);
  j.key("bits").value(r.options->weight_bits);
  j.key("quantizer").value(nn::to_string(r.options->quantizer));
  for (const auto& [key, v] : {std::pair<const char*, int>{"batch", r.batch},
                               {"steps", r.steps},
                               {"threads", omp_get_max_threads()}})
    j.key(key).value(v);
  j.key("isa").value(nn::to_string(nn::active_isa()));
  for (const auto& [key, v] : {std::pair<const char*, double>{"images_per_s", images_per_s(r)},
                               {"ms_per_step", 1000.0 * r.times.total / r.steps},
                               {"ms_per_step_min", 1000.0 * r.times.fastest},
                               {"peak_rss_mib", r.peak_rss_mib},
                               {"buffer_mib", r.buffer_mib}})
    j.key(key).value(v);
  j.end_object();
  std::cout << "\n";
}

void print_text(const BenchReport& r) {
  std::printf(
      "%s%s %s W%dA%d %s batch %d, %d threads: %.1f images/s (%.1f ms/step, best %.1f), "
      "peak RSS %.0f MiB, buffers %.0f MiB, kernels %s\n",
      r.what.c_str(), r.kernel.empty() ? "" : (" int (" + r.kernel + ")").c_str(), r.model.c_str(),
      r.options->weight_bits, r.options->activation_bits, nn::to_string(r.options->quantizer),
      r.batch, omp_get_max_threads(), images_per_s(r), 1000.0 * r.times.total / r.steps,
      1000.0 * r.times.fastest, r.peak_rss_mib, r.buffer_mib, nn::isa_description().c_str());
}

int run_bench(const std::string& what, const std::vector<std::string>& args) {
  const std::string command = "bench " + what;
  return run_guarded(command, [&]() -> int {
    po::options_description opts("nce " + command + " options");
    add_bench_options(opts, what);
    po::variables_map vm;
    if (!parse_or_help(args, command, "[--model M] [--bits B] [--batch N] [--json]", opts, vm)) {
      return 0;
    }
    const std::string model = vm["model"].as<std::string>();
    const std::string dataset = vm["dataset"].as<std::string>();
    const models::InputShape input = dataset_input(dataset);
    std::vector<int> widths;
    if (vm.count("widths")) widths = models::parse_widths(vm["widths"].as<std::string>());
    const int batch = vm["batch"].as<int>(), steps = vm["steps"].as<int>();
    const int warmup = vm["warmup"].as<int>(), threads = vm["threads"].as<int>();
    if (batch < 1 || steps < 1 || warmup < 0 || threads < 0) {
      throw std::invalid_argument("--batch and --steps must be >= 1, --warmup and --threads >= 0");
    }
    if (threads > 0) omp_set_num_threads(threads);

    nn::NetworkOptions options;
    options.weight_bits = options.activation_bits = vm["bits"].as<int>();
    options.quantizer = nn::parse_quantizer(vm["quantizer"].as<std::string>());
    const models::Network description = models::build(model, widths, input);
    nn::Network net(description, options, 1);
    nn::Sgd sgd(net.parameters(), nn::SgdOptions{});

    nn::Tensor images(batch, input.channels, input.height, input.width), grad;
    std::vector<int> labels(batch);
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal;
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = normal(rng);
    for (int& l : labels) l = static_cast<int>(rng() % input.num_classes);

    const bool train = what == "train";
    const bool int_engine = !train && vm["engine"].as<std::string>() == "int";
    if (!train && !int_engine && vm["engine"].as<std::string>() != "float")
      throw std::invalid_argument("--engine '" + vm["engine"].as<std::string>() +
                                  "': want float or int");
    std::unique_ptr<deploy::IntEngine> engine;
    std::vector<std::uint8_t> pixels;
    deploy::IntLogits int_logits;
    if (int_engine) {
      if (options.weight_bits == 32)
        throw std::invalid_argument("--engine int needs --bits 2, 3, 4 or 8");
      const deploy::KernelKind kernel = deploy::parse_kernel(vm["kernel"].as<std::string>());
      engine = make_int_engine(net, model, description, options, dataset, kernel);
      pixels.resize(images.size());
      for (auto& p : pixels) p = static_cast<std::uint8_t>(rng() % 256);
    }
    auto step = [&] {
      if (int_engine) {
        engine->run(pixels.data(), batch, int_logits);
      } else if (train) {
        sgd.zero_grad();
        const nn::Tensor& logits = net.forward(images, nn::Mode::kTrain);
        nn::softmax_cross_entropy(logits, labels.data(), &grad);
        net.backward(grad);
        sgd.step(0.01f);
      } else {
        net.forward(images, nn::Mode::kEval);
      }
    };
    BenchReport report;
    report.what = what;
    report.model = model;
    report.times = time_steps(step, warmup, steps);
    if (engine) report.kernel = deploy::to_string(engine->kernel());
    report.description = &description;
    report.options = &options;
    report.batch = batch;
    report.steps = steps;
    report.peak_rss_mib = peak_rss_mib();
    report.buffer_mib = net.buffer_bytes() / (1024.0 * 1024.0);
    if (vm["json"].as<bool>()) {
      print_json(report);
    } else {
      print_text(report);
    }
    return 0;
  });
}

int run_bench_train(const std::vector<std::string>& args) {
  return run_bench("train", args);
}
int run_bench_infer(const std::vector<std::string>& args) {
  return run_bench("infer", args);
}

}  // namespace

NCE_REGISTER_COMMAND("bench train", "training throughput (images/s) of the Eigen trainer",
                     run_bench_train);
NCE_REGISTER_COMMAND("bench infer", "inference throughput (images/s) of the Eigen trainer",
                     run_bench_infer);

}  // namespace nce::app
