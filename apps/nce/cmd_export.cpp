// nce export: a trained checkpoint of a quantized network -> the integer model (.nceim) that
// `nce infer` runs, or (--format qonnx) an ONNX graph with QONNX Quant nodes that quantizes as the
// integer model does (nce_deploy; deploy/README.md documents the formats and the rules).
#include <cstdio>
#include <iostream>

#include "cli_util.h"
#include "command.h"
#include "nce/deploy/exporter.h"

namespace nce::app {
namespace {

int run_export_command(const std::vector<std::string>& args) {
  po::options_description opts("nce export options");
  opts.add_options()("checkpoint", po::value<std::string>(),
                     "checkpoint of a quantized network (nce train --checkpoint)")(
      "out", po::value<std::string>(), "the file to write (.nceim, or .onnx with --format qonnx)")(
      "format", po::value<std::string>()->default_value("nce"),
      "nce (the integer model nce infer runs) or qonnx (ONNX opset 13 + QONNX Quant nodes)")(
      "dataset", po::value<std::string>()->default_value(""),
      "the training data set (default: the checkpoint's); its normalization is folded in")(
      "data", po::value<std::string>()->default_value(""),
      "data directory (default: Fashion-MNIST's; CIFAR-10 needs one)")(
      "subset", po::value<int>()->default_value(0),
      "the training run's --subset (its training images give the normalization)");
  po::variables_map vm;
  if (!parse_or_help(args, "export",
                     "--checkpoint FILE --out FILE [--format nce|qonnx] [--dataset D] [--data DIR]",
                     opts, vm))
    return 0;
  if (!vm.count("checkpoint") || !vm.count("out"))
    throw std::invalid_argument("--checkpoint and --out are required");
  deploy::ExportConfig c;
  c.checkpoint = vm["checkpoint"].as<std::string>();
  c.out = vm["out"].as<std::string>();
  c.dataset = vm["dataset"].as<std::string>();
  c.data_dir = vm["data"].as<std::string>();
  c.subset = vm["subset"].as<int>();
  c.format = vm["format"].as<std::string>();
  const deploy::ExportResult r = deploy::run_export(c);
  if (c.format == "qonnx") {
    std::printf(
        "exported %s %s W%dA%d %s as QONNX (ai.onnx opset %d + %s 1): %d nodes, %d Quant -> %s "
        "(%zu bytes)\n",
        r.model.model.c_str(), models::format_widths(r.model.widths).c_str(), r.model.weight_bits,
        r.model.activation_bits, r.model.quantizer.c_str(), deploy::kQonnxOnnxOpset,
        deploy::kQonnxDomain, r.qonnx.nodes, r.qonnx.quant_nodes, c.out.c_str(), r.bytes);
    if (r.qonnx.head_scale_dynamic)
      std::printf(
          "note: the FC's 8-bit input has a per-image scale computed in the graph (nce infer's "
          "shift of the pooled sums; deploy/README.md)\n");
    return 0;
  }
  int convs = 0, full8 = 0, adds = 0;
  for (const deploy::Op& op : r.model.ops) {
    if (op.kind == deploy::OpKind::kConv) {
      ++convs;
      full8 += op.conv.rule == deploy::WeightRule::kFull8;
    }
    adds += op.kind == deploy::OpKind::kAdd;
  }
  std::printf(
      "exported %s %s W%dA%d %s: %d convs (%d on the 8-bit full-precision rule), %d "
      "residual adds, 1 FC -> %s (%zu bytes)\n",
      r.model.model.c_str(), models::format_widths(r.model.widths).c_str(), r.model.weight_bits,
      r.model.activation_bits, r.model.quantizer.c_str(), convs, full8, adds, c.out.c_str(),
      r.bytes);
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("export",
                     "write a trained quantized network as an integer model (.nceim) or QONNX",
                     run_export_command);

}  // namespace nce::app
