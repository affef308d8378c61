// nce sim: per-layer cycles, stalls, utilization and energy of a network on a hardware config
// (SystemC cycle-accurate engine or the fast path, equal by test), or SCALE-Sim v2's compute cycles
// for SCALE-Sim's own config and topology files.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli_util.h"
#include "command.h"
#include "nce/common/json.h"
#include "nce/common/output_file.h"
#include "nce/models/network.h"
#include "nce/models/topology.h"
#include "nce/sim/hw_config.h"
#include "nce/sim/report.h"
#include "nce/sim/scalesim_compat.h"
#include "nce/sim/systemc_engine.h"

namespace nce::app {
namespace {

int run_scalesim(const po::variables_map& vm) {
  if (!vm.count("topology"))
    throw std::invalid_argument("--scalesim-cfg needs --topology FILE.csv");
  if (vm.count("hw") || vm.count("model")) {
    throw std::invalid_argument("--scalesim-cfg runs SCALE-Sim's inputs: no --hw or --model");
  }
  const std::string topology = vm["topology"].as<std::string>();
  const std::string input = vm["scalesim-input"].as<std::string>();
  sim::ScaleSimTopologyKind kind;
  if (input == "auto") {
    kind = sim::detect_scalesim_topology_kind(topology);
  } else if (input == "conv") {
    kind = sim::ScaleSimTopologyKind::kConv;
  } else if (input == "gemm") {
    kind = sim::ScaleSimTopologyKind::kGemm;
  } else {
    throw std::invalid_argument("--scalesim-input '" + input + "': expected auto, conv or gemm");
  }
  const auto cfg = sim::load_scalesim_config(vm["scalesim-cfg"].as<std::string>());
  const auto layers = sim::load_scalesim_topology(topology, kind);
  std::vector<sim::ScaleSimLayerReport> results;
  std::int64_t total = 0, stalls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  // The table and --csv (COMPUTE_REPORT) need no DRAM read counts: skip their address walk.
  const bool dram_reads = vm.count("json") || vm.count("scalesim-out");
  for (const auto& l : layers) {
    results.push_back(sim::scalesim_layer_report(cfg, l, dram_reads));
    total += results.back().compute_cycles;
    stalls += results.back().stall_cycles;
  }
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (vm.count("scalesim-out")) {
    const std::string dir = vm["scalesim-out"].as<std::string>();
    auto write = [&](const char* file, auto&& writer) {
      std::ostringstream out;
      writer(results, out);
      common::write_file_atomic(dir + "/" + file, out.str());
    };
    write("COMPUTE_REPORT.csv", sim::write_scalesim_compute_report);
    write("BANDWIDTH_REPORT.csv", sim::write_scalesim_bandwidth_report);
    write("DETAILED_ACCESS_REPORT.csv", sim::write_scalesim_detailed_access_report);
  }
  if (vm.count("json")) {
    common::JsonWriter j(std::cout);
    j.begin_object();
    j.members("hw", cfg.run_name, "engine", "scalesim-v2", "total_cycles", total, "stall_cycles",
              stalls);
    j.key("energy_pj").null();  // SCALE-Sim v2 reports no energy
    j.key("layers").begin_array();
    for (const auto& r : results) {
      j.begin_object();
      j.members("name", r.name, "cycles", r.compute_cycles, "stall_cycles", r.stall_cycles,
                "utilization", r.overall_util / 100.0);
      j.key("energy_pj").null();
      j.members("folds", r.folds, "mapping_efficiency", r.mapping_efficiency / 100.0,
                "compute_utilization", r.compute_util / 100.0);
      static const char* kOperands[] = {"ifmap", "filter", "ofmap"};
      for (int op = 0; op < 3; ++op) {
        j.key(std::string("sram_") + kOperands[op] + (op == 2 ? "_writes" : "_reads"))
            .value(r.sram[op].accesses);
        j.key(std::string("dram_") + kOperands[op] + (op == 2 ? "_writes" : "_reads"))
            .value(r.dram[op].accesses);
      }
      j.end_object();
    }
    j.end_array();
    j.end_object();
    std::cout << "\n";
    return 0;
  }
  if (vm.count("csv")) {
    // Byte for byte SCALE-Sim's COMPUTE_REPORT.csv: diff it against SCALE-Sim's own.
    sim::write_scalesim_compute_report(results, std::cout);
    return 0;
  }
  const std::string bandwidth =
      cfg.calc_bandwidth ? "CALC"
                         : "USER, " + std::to_string(cfg.user_bandwidth()) + " words/cycle";
  std::printf("SCALE-Sim v2 COMPUTE_REPORT (InterfaceBandwidth %s), run %s, %dx%d %s\n",
              bandwidth.c_str(), cfg.run_name.c_str(), cfg.array_rows, cfg.array_cols,
              sim::to_string(cfg.dataflow));
  std::printf("%7s %-24s %12s %12s %16s %20s %16s\n", "LayerID", "layer", "Total Cycles",
              "Stall Cycles", "Overall Util %", "Mapping Efficiency %", "Compute Util %");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("%7zu %-24s %12lld %12lld %16.4f %20.4f %16.4f\n", i, r.name.c_str(),
                static_cast<long long>(r.compute_cycles), static_cast<long long>(r.stall_cycles),
                r.overall_util, r.mapping_efficiency, r.compute_util);
  }
  std::printf("%7s %-24s %12lld %12lld\n", "", "total", static_cast<long long>(total),
              static_cast<long long>(stalls));
  std::printf("(%zu layers computed in %.1f ms)\n", results.size(), elapsed_ms);
  return 0;
}

int run_sim(const std::vector<std::string>& args) {
  po::options_description opts("nce sim options");
  opts.add_options()("hw", po::value<std::string>(), "hardware config (hw_configs/*.cfg)")(
      "model", po::value<std::string>(), "model name (nce models list)")(
      "widths", po::value<std::string>(), "width vector in TAS order (e.g. 3,16,16,...)")(
      "dataset", po::value<std::string>(),
      "fit the model to cifar10, fashion-mnist or imagenet (default: canonical input)")(
      "topology", po::value<std::string>(), "layers from a SCALE-Sim topology CSV")(
      "engine", po::value<std::string>()->default_value("systemc"),
      "systemc (cycle-accurate, real data) or fast (same numbers, no data)")(
      "seed", po::value<std::uint64_t>()->default_value(1), "seed of the random layer data")(
      "scalesim-cfg", po::value<std::string>(),
      "SCALE-Sim v2 .cfg: report SCALE-Sim's figures for --topology (CALC or USER bandwidth)")(
      "scalesim-input", po::value<std::string>()->default_value("auto"),
      "with --scalesim-cfg: conv or gemm topology (SCALE-Sim's -i); auto reads the header")(
      "scalesim-out", po::value<std::string>(),
      "with --scalesim-cfg: write SCALE-Sim's COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and "
      "DETAILED_ACCESS_REPORT.csv into this directory")(
      "csv", "with --scalesim-cfg: print SCALE-Sim's COMPUTE_REPORT.csv, byte for byte")(
      "json", "JSON output (keys: hw, engine, total_cycles, stall_cycles, energy_pj, layers)");
  po::variables_map vm;
  if (!parse_or_help(args, "sim",
                     "--hw FILE (--model NAME [--widths ...] | --topology FILE.csv) "
                     "[--engine systemc|fast] [--json]\n       nce sim --scalesim-cfg FILE.cfg "
                     "--topology FILE.csv [--scalesim-input auto|conv|gemm] [--scalesim-out DIR] "
                     "[--csv|--json]",
                     opts, vm)) {
    return 0;
  }
  if (vm.count("scalesim-cfg")) return run_scalesim(vm);
  if (!vm.count("hw")) throw std::invalid_argument("--hw FILE is required");
  const std::string engine = vm["engine"].as<std::string>();
  if (engine != "systemc" && engine != "fast") {
    throw std::invalid_argument("unknown --engine '" + engine + "' (systemc or fast)");
  }
  // The config is validated before anything is simulated.
  const sim::HwConfig hw = sim::load_hw_config(vm["hw"].as<std::string>());
  models::Network net;
  if (vm.count("topology")) {
    if (vm.count("model")) throw std::invalid_argument("give --model or --topology, not both");
    net = models::read_topology_csv(vm["topology"].as<std::string>());
  } else {
    if (!vm.count("model"))
      throw std::invalid_argument("--model NAME or --topology FILE is required");
    const std::string model = vm["model"].as<std::string>();
    std::vector<int> widths;
    if (vm.count("widths")) widths = models::parse_widths(vm["widths"].as<std::string>());
    net = models::build(
        model, widths,
        input_for_dataset(model, vm.count("dataset") ? vm["dataset"].as<std::string>() : ""));
  }
  if (engine == "systemc") sim::check_systemc_memory(net);  // before any allocation or work
  const auto layers = sim::gemm_layers(net);
  // Check every layer fits before simulating any.
  const sim::NetworkReport fast = sim::fast_network_report(hw, layers);
  const sim::NetworkReport report =
      engine == "fast" ? fast
                       : sim::systemc_network_report(hw, net, vm["seed"].as<std::uint64_t>());
  if (vm.count("json")) {
    sim::write_report_json(std::cout, report);
  } else {
    sim::write_report_table(std::cout, report);
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("sim", "cycles, stalls and energy of a network on a hw config (SystemC)",
                     run_sim);

}  // namespace nce::app
