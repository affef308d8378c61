// nce bench sim: simulator speed. The SystemC engine on a whole network with real data (simulated
// cycles per wall second), the fast path, and building the cost table of the network's full NCE
// search space (16 candidates per width) on 2 threads.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli_util.h"
#include "command.h"
#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/sim/cost_table.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/report.h"
#include "nce/sim/systemc_engine.h"

namespace nce::app {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run_bench_sim(const std::vector<std::string>& args) {
  po::options_description opts("nce bench sim options");
  opts.add_options()("hw",
                     po::value<std::string>()->default_value("hw_configs/mid-32x32-os-2b.cfg"),
                     "hardware config")(
      "model", po::value<std::string>()->default_value("resnet20"), "model name")(
      "threads", po::value<int>()->default_value(2), "threads for the cost table")(
      "fast-repeats", po::value<int>()->default_value(20), "fast-path runs to average")(
      "json", "JSON output");
  po::variables_map vm;
  if (!parse_or_help(args, "bench sim", "[--hw FILE] [--model NAME] [--json]", opts, vm)) return 0;
  const sim::HwConfig hw = sim::load_hw_config(vm["hw"].as<std::string>());
  const auto net = models::build_canonical(vm["model"].as<std::string>());
  const auto layers = sim::gemm_layers(net);

  // Fast path (also checks that every layer fits).
  const int repeats = std::max(1, vm["fast-repeats"].as<int>());
  auto t0 = std::chrono::steady_clock::now();
  sim::NetworkReport fast;
  for (int i = 0; i < repeats; ++i) fast = sim::fast_network_report(hw, layers);
  const double fast_s = seconds_since(t0) / repeats;

  // SystemC engine, real data, one elaboration (SystemC allows one per process).
  t0 = std::chrono::steady_clock::now();
  const sim::NetworkReport sc = sim::systemc_network_report(hw, net, 1);
  const double systemc_s = seconds_since(t0);
  if (sc.total_cycles != fast.total_cycles) {
    throw std::runtime_error("engines disagree: systemc " + std::to_string(sc.total_cycles) +
                             " vs fast " + std::to_string(fast.total_cycles) + " cycles");
  }
  std::int64_t macs = 0;
  for (const auto& l : sc.layers) macs += l.cost.events.macs;

  // Cost table of the full NCE search space.
  const auto candidates = sim::nce_width_candidates(net.widths, 16);
  t0 = std::chrono::steady_clock::now();
  sim::CostTable table(hw, net, candidates, nullptr, vm["threads"].as<int>());
  const double table_s = seconds_since(t0);
  std::int64_t entries = 0;
  for (int l = 0; l < table.num_layers(); ++l) {
    entries += static_cast<std::int64_t>(table.input_candidates(l).size() *
                                         table.output_candidates(l).size());
  }

  if (vm.count("json")) {
    common::JsonWriter j(std::cout);
    j.begin_object();
    j.members("what", "sim", "model", net.model, "hw", hw.name, "engine", "systemc", "cycles_per_s",
              static_cast<double>(sc.total_cycles) / systemc_s, "simulated_cycles", sc.total_cycles,
              "simulated_macs", macs, "layers", static_cast<int>(sc.layers.size()),
              "systemc_wall_s", systemc_s, "fast_wall_s", fast_s, "cost_table_wall_s", table_s,
              "cost_table_entries", entries, "cost_table_evaluations", table.computed());
    j.end_object();
    std::cout << "\n";
  } else {
    std::printf("%s on %s: %lld cycles, %lld MACs, %zu layers\n", net.model.c_str(),
                hw.name.c_str(), static_cast<long long>(sc.total_cycles),
                static_cast<long long>(macs), sc.layers.size());
    std::printf("systemc engine (real data): %.3f s  (%.3g simulated cycles/s)\n", systemc_s,
                sc.total_cycles / systemc_s);
    std::printf("fast path:                  %.6f s\n", fast_s);
    std::printf("cost table (NCE space, %lld entries, %lld evaluations, %d threads): %.3f s\n",
                static_cast<long long>(entries), static_cast<long long>(table.computed()),
                vm["threads"].as<int>(), table_s);
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("bench sim", "simulator speed: SystemC engine, fast path, cost table",
                     run_bench_sim);

}  // namespace nce::app
