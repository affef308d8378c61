// nce search: NCE, TAS, WRPN, random search or the unadapted network (nce_search), with FLOPs,
// PARAMs, latency and energy terms; latency and energy come from the simulated array's fast cost
// path (sim::LayerCostService) for the --hw config. Prints progress and a comparison with the
// original network; records every candidate in the result database (--db); writes the analysis
// files (--analysis). Options: search_options.cpp (the settings: nce/record/search_settings.h);
// output: search_report.cpp; the recorded run: nce/record/recorded_search.h (shared with nce
// campaign).
#include <omp.h>

#include <iostream>
#include <memory>
#include <optional>

#include "cli_util.h"
#include "command.h"
#include "interrupt.h"
#include "nce/nn/dataset.h"
#include "nce/record/recorded_search.h"
#include "nce/record/search_settings.h"
#include "nce/search/search_run.h"
#include "search_options.h"
#include "search_report.h"

namespace nce::app {
namespace {

const char* kUsage =
    "--method nce|tas|wrpn|random|none --model NAME --dataset fashion-mnist|cifar10 [--data DIR]\n"
    "       [--hw FILE] [--lambda-flops X --lambda-params X --lambda-latency X --lambda-energy X]\n"
    "       [--warmup-epochs N --search-epochs N --retrain-epochs N] [--threshold T] [--db "
    "FILE]\n\n"
    "Searches per-layer channel widths of a uniformly quantized network (docs/algorithm.md),\n"
    "retrains the result from scratch and compares it with the original network: accuracy, MACs,\n"
    "PARAMs and, with --hw, the array's cycles and energy.";

int search_main(const std::vector<std::string>& args) {
  po::options_description opts = search_options();
  po::variables_map vm;
  if (!parse_or_help(args, "search", kUsage, opts, vm)) return 0;
  const InterruptHandler interrupts;
  SearchCommand cmd = search_command(vm);  // validated before anything is loaded
  search::SearchConfig& c = cmd.settings.config;

  // Hardware and the result database.
  record::SearchBackend backend = record::open_search_backend(cmd.db_path, cmd.hw_path);
  const search::HardwareCosts& hw = backend.hw;
  c.hw_fingerprint = backend.hw_fingerprint;
  // What the run stores as its config, in the form every campaign job stores too.
  const std::string config_json = record::config_json(cmd.settings, c.hw_fingerprint, {});

  nn::DatasetPair data = nn::load_dataset(c.dataset, cmd.data_dir);
  if (cmd.settings.subset > 0) {
    data.train = nn::subset_per_class(data.train, cmd.settings.subset);
  }
  if (cmd.settings.test_subset > 0) {
    data.test = nn::subset_per_class(data.test, cmd.settings.test_subset);
  }
  search::check_resume(c, data.train);  // before the run is continued in the database
  if (!cmd.quiet) {
    std::cout << "nce search --method " << c.method << " on " << c.model << ", " << c.dataset
              << " (" << data.train.size() << " train / " << data.test.size() << " test images), W"
              << c.supernet.weight_bits << "A" << c.supernet.activation_bits << " "
              << nn::to_string(c.supernet.quantizer) << ", " << omp_get_max_threads() << " threads";
    if (!hw.name.empty()) std::cout << ", hw " << hw.name;
    std::cout << std::endl;
  }

  // One database run per method run (the --baseline retrain is a run of its own).
  // A run that writes a checkpoint is found again by it: --resume continues the same run.
  SearchProgress progress(std::cout, cmd.quiet);
  results::ResultSink* sink = backend.sink.get();
  const search::SearchResult result = record::run_recorded_search(
      c, data, hw, sink, record::run_info(c, hw.name, config_json, NCE_GIT_COMMIT),
      c.hw_fingerprint, &progress);

  std::optional<search::Candidate> original_trained;
  if (result.original_retrained.top1 >= 0 && c.method != "none") {
    original_trained = result.original_retrained;  // trained as the teacher or for --analysis
  } else if (cmd.baseline && c.method != "none" && !result.stopped_early) {
    search::SearchConfig b = c;
    b.method = "none";
    b.checkpoint_path = c.checkpoint_path.empty() ? "" : c.checkpoint_path + ".baseline";
    b.resume = c.resume && search::has_resume_state(b);  // the search may have ended first
    const search::SearchResult br = record::run_recorded_search(
        b, data, hw, sink, record::run_info(b, hw.name, config_json, NCE_GIT_COMMIT),
        c.hw_fingerprint, &progress);
    original_trained = br.final;
  }
  if (!cmd.analysis_dir.empty()) write_analysis(cmd.analysis_dir, result);
  if (!cmd.quiet) {
    print_comparison(std::cout, result, original_trained ? &*original_trained : nullptr,
                     c.supernet.weight_bits, hw.name);
    print_activation_table(std::cout, result);
    std::cout << "search took " << format_duration(result.seconds) << "\n";
  }
  if (!cmd.json_path.empty()) {
    write_search_json(cmd.json_path, result, original_trained ? *original_trained : result.original,
                      cmd.options_json);
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("search",
                     "NCE/TAS/WRPN/random width search with FLOPs, PARAMs, latency, "
                     "energy terms; derive, retrain, compare",
                     search_main);

}  // namespace nce::app
