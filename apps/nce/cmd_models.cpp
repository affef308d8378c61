// nce models show|list|export: network descriptions, per-layer shapes, MACs and PARAMs.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_util.h"
#include "command.h"
#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/models/topology.h"

namespace nce::app {
namespace {

// Builds the network the common options name: --topology FILE, or --model with optional
// --widths / --wrpn / --dataset.
models::Network network_from(const po::variables_map& vm) {
  if (vm.count("topology")) {
    if (vm.count("model")) throw std::invalid_argument("give --model or --topology, not both");
    return models::read_topology_csv(vm["topology"].as<std::string>());
  }
  if (!vm.count("model")) throw std::invalid_argument("--model is required (or --topology)");
  const std::string model = vm["model"].as<std::string>();
  const std::string dataset = vm.count("dataset") ? vm["dataset"].as<std::string>() : "";
  const models::InputShape input = input_for_dataset(model, dataset);
  std::vector<int> widths;
  if (vm.count("widths")) widths = models::parse_widths(vm["widths"].as<std::string>());
  if (vm.count("wrpn")) {
    if (widths.empty()) widths = models::default_widths(model, input.channels);
    widths = models::scale_widths(widths, vm["wrpn"].as<double>());
  }
  return models::build(model, widths, input);
}

void add_network_options(po::options_description& opts) {
  opts.add_options()("model", po::value<std::string>(), "model name (nce models list)")(
      "widths", po::value<std::string>(),
      "width vector in TAS order: input channels, then every searchable conv (e.g. 3,16,16,...)")(
      "wrpn", po::value<double>(), "WRPN width multiplier applied to every searchable conv")(
      "dataset", po::value<std::string>(),
      "fit the stem and FC to a data set's input: cifar10, fashion-mnist, imagenet "
      "(default: the model's canonical input)")(
      "topology", po::value<std::string>(),
      "read the layers from a SCALE-Sim topology CSV instead");
}

std::string pool_text(const models::Pool& p) {
  if (p.kind == models::PoolKind::kNone) return "";
  std::ostringstream s;
  s << (p.kind == models::PoolKind::kMax ? "max" : "avg") << p.k << "/" << p.stride;
  return s.str();
}

void print_table(const models::Network& net) {
  std::cout << "model " << net.model << "  input " << net.input.channels << "x" << net.input.height
            << "x" << net.input.width;
  if (!net.widths.empty()) std::cout << "  widths " << models::format_widths(net.widths);
  std::cout << "\n\n";
  std::cout << std::left << std::setw(16) << "layer" << std::right << std::setw(5) << "kind"
            << std::setw(6) << "c_in" << std::setw(6) << "c_out" << std::setw(3) << "k"
            << std::setw(3) << "s" << std::setw(10) << "in" << std::setw(10) << "out"
            << std::setw(8) << "pool" << std::setw(19) << "GEMM K x N x M" << std::setw(13)
            << "MACs" << std::setw(10) << "PARAMs" << std::setw(6) << "prec"
            << "\n";
  for (const auto& l : net.layers) {
    std::ostringstream in, out, gemm;
    in << l.h_in << "x" << l.w_in;
    out << l.h_out << "x" << l.w_out;
    const models::GemmShape g = l.gemm();
    gemm << g.K << " x " << g.N << " x " << g.M;
    std::string pool = pool_text(l.in_pool);
    if (!pool.empty()) pool = "<" + pool;
    const std::string after = pool_text(l.out_pool);
    if (!after.empty()) pool = after + ">";
    std::cout << std::left << std::setw(16) << l.name << std::right << std::setw(5)
              << models::to_string(l.kind) << std::setw(6) << l.c_in << std::setw(6) << l.c_out
              << std::setw(3) << l.k << std::setw(3) << l.stride << std::setw(10) << in.str()
              << std::setw(10) << out.str() << std::setw(8) << pool << std::setw(19) << gemm.str()
              << std::setw(13) << l.macs() << std::setw(10) << l.params() << std::setw(6)
              << (l.quantized ? "q" : "fp") << "\n";
  }
  std::cout << "\ntotal  MACs " << net.macs() << " (" << std::fixed << std::setprecision(2)
            << net.macs() / 1e6 << "M; with FC bias " << net.macs_with_bias() << ")  PARAMs "
            << net.params() << " (" << std::setprecision(2) << net.params() / 1e6 << "M)\n";
  std::cout << "prec: q = quantized to the network's bits; fp = full precision (first conv, FC, "
               "1x1 shortcuts)\n";
}

void print_json(const models::Network& net) {
  common::JsonWriter j(std::cout);
  j.begin_object();
  j.members("model", net.model, "macs", net.macs(), "params", net.params(), "macs_with_bias",
            net.macs_with_bias());
  if (!net.widths.empty()) j.key("widths").value(net.widths);
  j.key("input").value(std::vector<int>{net.input.channels, net.input.height, net.input.width});
  j.key("layers").begin_array();
  for (const auto& l : net.layers) {
    const models::GemmShape g = l.gemm();
    j.begin_object();
    j.members("name", l.name, "kind", models::to_string(l.kind), "c_in", l.c_in, "c_out", l.c_out,
              "k", l.k, "stride", l.stride, "h_in", l.h_in, "w_in", l.w_in, "h_out", l.h_out,
              "w_out", l.w_out, "macs", l.macs(), "params", l.params(), "pad", l.pad, "quantized",
              l.quantized);
    j.key("gemm").begin_object().key("K").value(g.K).key("N").value(g.N).key("M").value(g.M);
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  std::cout << "\n";
}

int models_show(const std::vector<std::string>& args) {
  po::options_description opts("Options");
  add_network_options(opts);
  opts.add_options()("json", "print the JSON contract instead of a table");
  po::variables_map vm;
  if (!parse_or_help(args, "models show",
                     "(--model NAME [--widths W,...] [--wrpn X] [--dataset D] | --topology "
                     "FILE.csv) [--json]\n\nPer-layer shapes, the GEMM each conv/FC lowers to "
                     "(K = k*k*C_in, N = H_out*W_out, M = C_out), MACs and PARAMs.",
                     opts, vm)) {
    return 0;
  }
  const models::Network net = network_from(vm);
  if (vm.count("json")) {
    print_json(net);
  } else {
    print_table(net);
  }
  return 0;
}

int models_list(const std::vector<std::string>& args) {
  po::options_description opts("Options");
  po::variables_map vm;
  if (!parse_or_help(args, "models list", "\n\nThe models nce knows, with their totals.", opts,
                     vm)) {
    return 0;
  }
  std::cout << std::left << std::setw(11) << "model" << std::right << std::setw(10) << "input"
            << std::setw(12) << "searchable" << std::setw(14) << "MACs" << std::setw(12) << "PARAMs"
            << "\n";
  for (const auto& name : models::model_names()) {
    const models::Network net = models::build_canonical(name);
    std::ostringstream in;
    in << net.input.channels << "x" << net.input.height << "x" << net.input.width;
    std::cout << std::left << std::setw(11) << name << std::right << std::setw(10) << in.str()
              << std::setw(12) << net.num_searchable() << std::setw(14) << net.macs()
              << std::setw(12) << net.params() << "\n";
  }
  return 0;
}

int models_export(const std::vector<std::string>& args) {
  po::options_description opts("Options");
  add_network_options(opts);
  opts.add_options()("out", po::value<std::string>()->default_value("-"),
                     "topology CSV to write (- = stdout)");
  po::variables_map vm;
  if (!parse_or_help(
          args, "models export",
          "--model NAME [--widths W,...] [--dataset D] [--out FILE.csv]\n\n"
          "Writes the network as a SCALE-Sim topology CSV (inputs already padded). After "
          "SCALE-Sim's 9 columns (the 9th: stride width) come Quantized (1/0) and Pad, "
          "which SCALE-Sim ignores and --topology reads back.",
          opts, vm)) {
    return 0;
  }
  const models::Network net = network_from(vm);
  const std::string out = vm["out"].as<std::string>();
  if (out == "-") {
    models::write_topology_csv(net, std::cout);
  } else {
    models::write_topology_csv(net, out);
    std::cerr << "wrote " << net.layers.size() << " layers to " << out << "\n";
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("models show", "per-layer shapes, GEMM shapes, MACs and PARAMs of a network",
                     models_show);
NCE_REGISTER_COMMAND("models list", "the models nce knows, with their MACs and PARAMs",
                     models_list);
NCE_REGISTER_COMMAND("models export", "write a network as a SCALE-Sim topology CSV", models_export);

}  // namespace nce::app
