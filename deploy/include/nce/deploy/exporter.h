// The exporter: a trained float checkpoint of a quantized network (nn::Checkpoint of `nce train`)
// -> the integer model (int_model.h) that int_engine.h runs. deploy/README.md derives every rule;
// in short:
//   * quantized layers: the weight quantizer (SAWB, DoReFa, LSQ) is re-applied to the float
//     weights exactly as nn::Network's forward does, and its levels become b-bit signed codes c
//     with weight = scale * (alpha*c + beta) (SAWB/DoReFa: alpha 2, beta 1; LSQ: 1, 0);
//   * PACT activations become b-bit codes, real = code * clip / (2^b - 1);
//   * BN (running statistics), the weight and activation scales and the next PACT fold into one
//     per-channel requantization (integer multiplier, offset, shift);
//   * full-precision layers (stem, 1x1 shortcuts, FC) run on 8-bit two's complement operands, the
//     array's bit-serial rule (docs/hardware.md §4): weights per output channel to 8 bits
//     (max-abs), inputs to at most 127. The stem reads the raw pixels: x = pixel - 128 is exactly
//     8-bit, and input normalization folds into the weights plus a per-pixel accumulator offset;
//   * residual adds run in a fixed-point domain (2^-16 of the add's PACT step), the head on the
//     integer global sum pool shifted per image to 8 bits.
#pragma once

#include <string>

#include "nce/deploy/int_model.h"
#include "nce/deploy/qonnx_export.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"

namespace nce::deploy {

// `norm`: the input normalization the network was trained with (nn::compute_normalization of its
// training set; the checkpoint does not hold it). Throws std::runtime_error starting with `source`
// (the checkpoint's file) and naming the tensor, layer or option for a checkpoint that cannot
// become an integer model (full-precision bits, a missing tensor, an unsupported layer).
IntModel export_int_model(const nn::Checkpoint& checkpoint, const nn::Normalization& norm,
                          const std::string& source);

struct ExportConfig {
  std::string checkpoint;  // nn checkpoint (nce train --checkpoint)
  std::string out;         // the .nceim file to write
  std::string dataset;     // "" = the checkpoint's; its training set gives the normalization
  std::string data_dir;
  int subset = 0;  // per class, as the training run's --subset (checked against train_images)
  // "nce": the integer model (.nceim); "qonnx": an ONNX graph with QONNX Quant nodes that
  // quantizes as the integer model does (qonnx_export.h).
  std::string format = "nce";
};

struct ExportResult {
  IntModel model;         // the integer model (written, or the source of the QONNX graph)
  QonnxGraph qonnx;       // format "qonnx": the graph written
  std::size_t bytes = 0;  // of the file written
};

// Reads the checkpoint and the training set, exports, writes. Throws std::runtime_error naming the
// file and what is wrong; std::invalid_argument for a bad config.
ExportResult run_export(const ExportConfig& config);

}  // namespace nce::deploy
