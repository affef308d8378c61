// `nce infer`: integer-only inference of an integer model (int_model.h) on a data set's test
// images, with top-1 / top-5 counted as nn::evaluate counts them (the label's rank = the number of
// other classes whose logit is at least the label's: a tie is no hit).
#pragma once

#include <string>
#include <vector>

#include "nce/deploy/int_engine.h"
#include "nce/nn/dataset.h"

namespace nce::deploy {

struct InferConfig {
  std::string model;    // .nceim file
  std::string dataset;  // "" = the model's
  std::string data_dir;
  int subset = 0;               // test images per class (0 = all)
  std::string engine = "auto";  // portable, avx2, vnni, auto
  int batch = 256;
};

struct InferResult {
  std::string kernel;  // the kernel that ran
  int images = 0;
  double top1 = 0.0, top5 = 0.0;  // percent
  double seconds = 0.0;           // inference only (no loading)
  std::vector<int> predictions;   // argmax per image (first maximum)
};

// Runs the engine over `data` in batches. Throws std::invalid_argument naming `model_source` (the
// model's file) and the data set when the image shape or the number of classes differs from the
// model's.
InferResult infer_dataset(IntEngine& engine, const nn::Dataset& data, int batch,
                          const std::string& model_source);

// Reads the model and the test set and runs. Throws std::runtime_error naming the file for an
// unreadable model, std::invalid_argument for a bad config.
InferResult run_infer(const InferConfig& config);

}  // namespace nce::deploy
