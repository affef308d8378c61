// nce search: NCE, TAS, WRPN, random search or the unadapted network (nce_search), with FLOPs,
// PARAMs, latency and energy terms; latency and energy come from the simulated array's fast cost
// path (nce_hw) for the --hw config. Prints progress and a comparison with the original network;
// records every candidate in the result database (--db); writes the analysis files (--analysis).
#include <omp.h>
#include <unistd.h>

#include <sys/stat.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "cli_util.h"
#include "command.h"
#include "nce/campaign/search_job.h"
#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/nn/dataset.h"
#include "nce/results/result_sink.h"
#include "nce/results/sqlite_cost_cache.h"
#include "nce/results/sqlite_sink.h"
#include "nce/results/svg_chart.h"
#include "nce/search/search_run.h"
#include "nce/sim/cost_table.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/layer_cost.h"
#include "nce/sim/layer_cost_service.h"

namespace nce::app {
namespace {

const char* kUsage =
    "--method nce|tas|wrpn|random|none --model NAME --dataset fashion-mnist|cifar10 [--data DIR]\n"
    "       [--hw FILE] [--lambda-flops X --lambda-params X --lambda-latency X --lambda-energy X]\n"
    "       [--warmup-epochs N --search-epochs N --retrain-epochs N] [--threshold T] [--db "
    "FILE]\n\n"
    "Searches per-layer channel widths of a uniformly quantized network (NCE-SPEC.md), retrains\n"
    "the result from scratch and compares it with the original network: accuracy, MACs, PARAMs\n"
    "and, with --hw, the array's cycles and energy.";

std::string si(double v) {
  char buf[32];
  if (v < 0) return "-";
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.3fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

// Prints the search's progress (recording is campaign::RecordingObserver's); a SIGINT/SIGTERM
// ends the search at the next batch or phase (throw_if_interrupted), where the last epoch's
// checkpoint is complete.
class Progress : public search::SearchObserver {
 public:
  Progress(std::ostream& out, bool quiet)
      : out_(out), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

  void on_phase(const std::string& what) override {
    throw_if_interrupted();
    if (!quiet_) out_ << "== " << what << std::endl;
  }
  void on_retrain_batch(int, int, int) override { throw_if_interrupted(); }
  void on_batch(int epoch, int batch, int num_batches) override {
    throw_if_interrupted();
    if (quiet_ || !tty_) return;
    if (batch % 5 == 0 || batch == num_batches) {
      std::fprintf(stderr, "\r  epoch %d: batch %d/%d ", epoch, batch, num_batches);
      std::fflush(stderr);
    }
  }
  void on_epoch(const search::SearchEpoch& e, int epochs) override {
    elapsed_ += e.seconds;
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r%40s\r", "");
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch %3d/%d %-6s tau %.2f  lr %.4f  loss %.4f  train %6.2f%%", e.epoch, epochs,
                  e.phase.c_str(), e.tau, e.lr, e.loss, e.top1);
    out_ << line;
    if (e.phase == "search") {
      std::snprintf(line, sizeof line, "  arch-loss %.4f", e.arch_loss);
      out_ << line;
    }
    const double eta = elapsed_ / e.epoch * (epochs - e.epoch);
    out_ << "  " << format_duration(e.seconds) << "  ETA " << format_duration(eta);
    if (!e.expanded.empty()) out_ << "  expanded " << e.expanded.size() << " layer(s)";
    out_ << std::endl;
  }
  void on_candidate(const search::Candidate& c) override {
    if (quiet_ || c.phase != "search") return;
    out_ << "  derived " << models::format_widths(c.widths) << "  MACs " << si(c.macs)
         << "  PARAMs " << si(c.params);
    if (c.latency_cycles >= 0) out_ << "  cycles " << si(c.latency_cycles);
    out_ << std::endl;
  }
  void on_retrain_epoch(const std::vector<int>&, const nn::EpochStats& e, int epochs) override {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r%40s\r", "");
    char line[200];
    std::snprintf(line, sizeof line, "  retrain %3d/%d  loss %.4f  train %6.2f%%  %7.1f img/s  %s",
                  e.epoch, epochs, e.loss, e.top1, e.images_per_s,
                  format_duration(e.seconds).c_str());
    out_ << line << std::endl;
  }

 private:
  std::ostream& out_;
  bool quiet_;
  bool tty_;
  double elapsed_ = 0;
};

void print_comparison(std::ostream& out, const search::SearchResult& r,
                      const search::Candidate* original_trained, int bits,
                      const std::string& hw_name) {
  out << "\nresult (W" << bits << "A" << bits;
  if (!hw_name.empty()) out << ", hw " << hw_name;
  out << ")\n";
  out << std::left << std::setw(10) << "network" << std::right << std::setw(9) << "top-1"
      << std::setw(10) << "MACs" << std::setw(10) << "PARAMs" << std::setw(10) << "cycles"
      << std::setw(12) << "energy"
      << "  widths\n";
  auto row = [&](const std::string& name, const search::Candidate& c) {
    char top1[32];
    if (c.top1 >= 0) {
      std::snprintf(top1, sizeof top1, "%.2f%%", c.top1);
    } else {
      std::snprintf(top1, sizeof top1, "-");
    }
    out << std::left << std::setw(10) << name << std::right << std::setw(9) << top1 << std::setw(10)
        << si(c.macs) << std::setw(10) << si(c.params) << std::setw(10) << si(c.latency_cycles)
        << std::setw(12) << (c.energy_pj >= 0 ? si(c.energy_pj * 1e-6) + "uJ" : std::string("-"))
        << "  " << models::format_widths(c.widths) << "\n";
  };
  row("original", original_trained ? *original_trained : r.original);
  row(r.final.method == "original" ? "original" : r.final.method, r.final);
  auto ratio = [](double a, double b) { return b > 0 && a >= 0 ? a / b : -1.0; };
  const search::Candidate& base = original_trained ? *original_trained : r.original;
  char line[200];
  std::snprintf(line, sizeof line, "%s / original: MACs x%.3f, PARAMs x%.3f",
                r.final.method.c_str(), ratio(r.final.macs, base.macs),
                ratio(r.final.params, base.params));
  out << line;
  if (r.final.latency_cycles >= 0) {
    std::snprintf(line, sizeof line, ", cycles x%.3f, energy x%.3f",
                  ratio(r.final.latency_cycles, base.latency_cycles),
                  ratio(r.final.energy_pj, base.energy_pj));
    out << line;
  }
  if (r.final.top1 >= 0 && base.top1 >= 0) {
    std::snprintf(line, sizeof line, ", top-1 %+.2f points", r.final.top1 - base.top1);
    out << line;
  }
  out << "\n";
}

void write_analysis(const std::string& dir, const search::SearchResult& r) {
  ::mkdir(dir.c_str(), 0755);
  std::ostringstream alpha, kendall;
  alpha << "epoch,phase,width_index,candidate,probability,ce_alpha_grad\n";
  kendall << "epoch,width_index,kendall_tau\n";
  for (const auto& e : r.epochs) {
    for (size_t w = 0; w < e.probabilities.size(); ++w) {
      for (size_t i = 0; i < e.probabilities[w].size(); ++i) {
        alpha << e.epoch << "," << e.phase << "," << w + 1 << "," << i << ","
              << e.probabilities[w][i] << "," << e.ce_alpha_grad[w][i] << "\n";
      }
      if (e.phase == "search") kendall << e.epoch << "," << w + 1 << "," << e.kendall[w] << "\n";
    }
  }
  write_text_file(dir + "/alpha.csv", alpha.str());
  write_text_file(dir + "/kendall.csv", kendall.str());
  if (r.activations.empty()) return;
  std::ostringstream act;
  act << "network,method,bits,top1,layer_index,layer,channels,mean,stdev,out_stdev,act_bits,clip,"
         "sqnr_db,sqnr_reference\n";
  for (const auto& p : r.activations) {
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const nn::ActivationStats& a = p.layers[i];
      act << p.network << "," << p.method << "," << p.bits << "," << p.top1 << "," << i + 1 << ","
          << a.name << "," << a.channels << "," << a.mean << "," << a.stdev << "," << a.out_stdev
          << "," << a.bits << "," << a.clip << ","
          << (std::isfinite(a.sqnr_db) ? std::to_string(a.sqnr_db) : std::string("inf")) << ","
          << (a.reference ? 1 : 0) << "\n";
    }
  }
  write_text_file(dir + "/activations.csv", act.str());
  // Fig. 1 as two grouped bar charts: per layer, one bar per network.
  for (const bool sqnr : {false, true}) {
    results::BarChart chart;
    chart.title = sqnr ? "Activation SQNR per layer (dB; ReLU layers: best " +
                             std::to_string(r.activations.back().bits) + "-bit clip)"
                       : "Activation STDEV per layer (input of the ReLU/PACT)";
    chart.x_label = "layer";
    chart.y_label = sqnr ? "SQNR (dB)" : "STDEV";
    for (const auto& a : r.activations.front().layers) chart.categories.push_back(a.name);
    for (const auto& p : r.activations) {
      results::BarSeries series{p.network, {}};
      for (const auto& a : p.layers) {
        series.values.push_back(sqnr ? (std::isfinite(a.sqnr_db) ? a.sqnr_db : 99.0) : a.stdev);
      }
      series.values.resize(chart.categories.size(), 0.0);
      chart.series.push_back(std::move(series));
    }
    chart.width = std::max(900, 60 * static_cast<int>(chart.categories.size()));
    write_text_file(dir + (sqnr ? "/activations_sqnr.svg" : "/activations_stdev.svg"),
                    results::render_bar_svg(chart));
  }
}

// The activation analysis as a table: per layer, STDEV and SQNR of each profiled network.
void print_activation_table(std::ostream& out, const search::SearchResult& r) {
  if (r.activations.empty()) return;
  out << "activations (Fig. 1; " << r.activations.front().layers.size()
      << " layers): STDEV of the pre-activation / SQNR in dB (* = hypothetical "
      << "quantizer on a ReLU)\n";
  out << std::left << std::setw(14) << "layer";
  for (const auto& p : r.activations) out << std::right << std::setw(24) << p.network;
  out << "\n";
  for (size_t i = 0; i < r.activations.front().layers.size(); ++i) {
    out << std::left << std::setw(14) << r.activations.front().layers[i].name;
    for (const auto& p : r.activations) {
      if (i >= p.layers.size()) continue;
      const nn::ActivationStats& a = p.layers[i];
      char cell[64];
      std::snprintf(cell, sizeof cell, "%3d ch %6.3f / %5.1f%s", a.channels, a.stdev, a.sqnr_db,
                    a.reference ? "*" : " ");
      out << std::right << std::setw(24) << cell;
    }
    out << "\n";
  }
}

int search_main(const std::vector<std::string>& args) {
  return run_guarded("search", [&]() -> int {
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
        "bits", po::value<int>()->default_value(2),
        "uniform weight/activation bits: 2, 3, 4, 8, 32")(
        "quantizer", po::value<std::string>()->default_value("sawb"), "weights: sawb, dorefa, lsq")(
        "pact-init", po::value<float>()->default_value(10.0f),
        "initial PACT clip (NCE-SPEC: 10; about 3 keeps 2-bit Fashion-MNIST nets stable)")(
        "hw", po::value<std::string>(), "hardware config (.cfg) for cycles and energy")(
        "lambda-flops", po::value<double>()->default_value(d.flops.lambda),
        "weight of the MACs term")(
        "lambda-params", po::value<double>()->default_value(d.params.lambda),
        "weight of the PARAMs term")("lambda-latency", po::value<double>()->default_value(0.0),
                                     "weight of the cycles term (needs --hw)")(
        "lambda-energy", po::value<double>()->default_value(0.0),
        "weight of the energy term (needs --hw)")("flops-target",
                                                  po::value<double>()->default_value(1.0),
                                                  "MACs target, times the original's")(
        "params-target", po::value<double>()->default_value(1.0),
        "PARAMs target, times the original's")("latency-target",
                                               po::value<double>()->default_value(1.0),
                                               "cycles target, times the original's")(
        "energy-target", po::value<double>()->default_value(1.0),
        "energy target, times the original's")("warmup-epochs",
                                               po::value<int>()->default_value(d.warmup_epochs),
                                               "weight-only epochs, uniform sampling")(
        "search-epochs", po::value<int>()->default_value(d.search_epochs),
        "bi-level search epochs")("retrain-epochs",
                                  po::value<int>()->default_value(d.retrain_epochs),
                                  "epochs to retrain the result")(
        "threshold", po::value<double>()->default_value(d.threshold),
        "NCE expansion threshold T in (0,1)")("max-candidates",
                                              po::value<int>()->default_value(d.max_candidates),
                                              "NCE: candidates per layer, 8..16")(
        "wrpn-multipliers", po::value<std::string>()->default_value("1,1.25,1.5,2"),
        "WRPN width multipliers")("random-samples",
                                  po::value<int>()->default_value(d.random_samples),
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
    po::variables_map vm;
    if (!parse_or_help(args, "search", kUsage, opts, vm)) return 0;
    const InterruptHandler interrupts;

    search::SearchConfig c;
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
    const bool quiet = vm.count("quiet") > 0;
    const int subset = vm["subset"].as<int>(), test_subset = vm["test-subset"].as<int>();
    if (subset < 0 || test_subset < 0) throw std::invalid_argument("--subset must be >= 0");

    // Hardware and the result database.
    std::unique_ptr<results::SqliteCostCache> cache;
    std::unique_ptr<results::ResultSink> sink;
    if (vm.count("db")) {
      sink = results::make_result_sink(vm["db"].as<std::string>());
      cache = std::make_unique<results::SqliteCostCache>(vm["db"].as<std::string>());
    }
    std::unique_ptr<sim::LayerCostService> hw_costs;
    search::HardwareCosts hw;
    if (vm.count("hw")) {
      hw_costs = std::make_unique<sim::LayerCostService>(
          sim::load_hw_config(vm["hw"].as<std::string>()), cache.get());
      hw = campaign::hardware_costs(*hw_costs);
      c.hw_fingerprint = hw_costs->fingerprint();
      if (sink) {
        sink->record_hw_config(c.hw_fingerprint, hw_costs->hw().name, hw_costs->hw().to_cfg_text());
      }
    }

    const std::string data_dir = vm["data"].as<std::string>();
    nn::DatasetPair data = nn::load_dataset(c.dataset, data_dir);
    if (subset > 0) data.train = nn::subset_per_class(data.train, subset);
    if (test_subset > 0) data.test = nn::subset_per_class(data.test, test_subset);
    search::check_resume(c, data.train);  // before the run is continued in the database
    if (!quiet) {
      std::cout << "nce search --method " << c.method << " on " << c.model << ", " << c.dataset
                << " (" << data.train.size() << " train / " << data.test.size()
                << " test images), W" << c.supernet.weight_bits << "A" << c.supernet.activation_bits
                << " " << nn::to_string(c.supernet.quantizer) << ", " << omp_get_max_threads()
                << " threads";
      if (!hw.name.empty()) std::cout << ", hw " << hw.name;
      std::cout << std::endl;
    }

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
    // One database run per method run (the --baseline retrain is a run of its own).
    // A run that writes a checkpoint is found again by it: --resume continues the same run.
    Progress progress(std::cout, quiet);
    const search::SearchResult result = campaign::run_recorded_search(
        c, data, hw, sink.get(),
        campaign::run_info(c, hw.name, config_json.str(), NCE_GIT_COMMIT), c.hw_fingerprint,
        &progress);

    std::optional<search::Candidate> original_trained;
    if (result.original_retrained.top1 >= 0 && c.method != "none") {
      original_trained = result.original_retrained;  // trained as the teacher or for --analysis
    } else if (vm.count("baseline") && c.method != "none" && !result.stopped_early) {
      search::SearchConfig b = c;
      b.method = "none";
      b.checkpoint_path = c.checkpoint_path.empty() ? "" : c.checkpoint_path + ".baseline";
      b.resume = c.resume && search::has_resume_state(b);  // the search may have ended first
      const search::SearchResult br = campaign::run_recorded_search(
          b, data, hw, sink.get(),
          campaign::run_info(b, hw.name, config_json.str(), NCE_GIT_COMMIT), c.hw_fingerprint,
          &progress);
      original_trained = br.final;
    }
    if (vm.count("analysis")) write_analysis(vm["analysis"].as<std::string>(), result);
    if (!quiet) {
      print_comparison(std::cout, result, original_trained ? &*original_trained : nullptr,
                       c.supernet.weight_bits, hw.name);
      print_activation_table(std::cout, result);
      std::cout << "search took " << format_duration(result.seconds) << "\n";
    }
    if (vm.count("json")) {
      std::ostringstream out;
      JsonWriter j(out, true);
      auto cand = [&](const search::Candidate& k) {
        j.begin_object();
        j.key("method").value(k.method).key("widths").value(k.widths);
        j.key("macs").value(k.macs).key("params").value(k.params);
        if (k.latency_cycles >= 0) j.key("latency_cycles").value(k.latency_cycles);
        if (k.energy_pj >= 0) j.key("energy_pj").value(k.energy_pj);
        if (k.top1 >= 0) j.key("top1").value(k.top1);
        j.end_object();
      };
      j.begin_object();
      j.key("what").value("search");
      j.key("config").raw(config_json.str());
      j.key("final");
      cand(result.final);
      j.key("original");
      cand(original_trained ? *original_trained : result.original);
      j.key("candidates").begin_array();
      for (const auto& k : result.candidates) cand(k);
      j.end_array();
      if (!result.activations.empty()) {
        j.key("activations").begin_array();
        for (const auto& p : result.activations) {
          j.begin_object();
          j.key("network").value(p.network).key("method").value(p.method);
          j.key("bits").value(p.bits).key("widths").value(p.widths).key("top1").value(p.top1);
          j.key("layers").begin_array();
          for (const auto& a : p.layers) {
            j.begin_object();
            j.key("name").value(a.name).key("channels").value(a.channels);
            j.key("stdev").value(a.stdev).key("out_stdev").value(a.out_stdev);
            j.key("act_bits").value(a.bits).key("clip").value(a.clip);
            if (std::isfinite(a.sqnr_db)) j.key("sqnr_db").value(a.sqnr_db);
            j.key("sqnr_reference").value(a.reference);
            j.end_object();
          }
          j.end_array();
          j.end_object();
        }
        j.end_array();
      }
      j.key("seconds").value(result.seconds);
      j.end_object();
      out << "\n";
      write_text_file(vm["json"].as<std::string>(), out.str());
    }
    return 0;
  });
}

}  // namespace

NCE_REGISTER_COMMAND("search",
                     "NCE/TAS/WRPN/random width search with FLOPs, PARAMs, latency, "
                     "energy terms; derive, retrain, compare",
                     search_main);

}  // namespace nce::app
