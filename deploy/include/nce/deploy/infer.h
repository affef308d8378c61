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
  // A checkpoint of `nce train` (the one exported): also run the trainer's eval of it on the same
  // images and count where the predictions part (InferResult::agreement).
  std::string compare_checkpoint;
};

// The integer engine's predictions against the trainer's eval-mode forward of the checkpoint it
// was exported from, image by image. Where they part, the cause is classified:
//  * a float tie in the logits: the float logits of the two classes are within kTieLogitGap x
//    (1 + |the float winner's logit|);
//  * a float tie in a code: walking the PACT activations in forward order, at the first one where
//    the float network's codes differ from the engine's, every differing code is one level off and
//    its float value lay within kCodeTieDistance (in code units) of the rounding boundary: float
//    rounding of the pre-activation decided it, and the layers after it only carry it on;
//  * other: the codes part for another reason (a checkpoint trained without
//    --int8-full-precision: the stem, shortcuts and FC are float there, 8-bit in the engine), or
//    all codes agree and the logits are no tie (the head).
// Trained with --int8-full-precision every disagreement should be a tie.
inline constexpr double kTieLogitGap = 1e-3;
inline constexpr double kCodeTieDistance = 1e-3;
struct Agreement {
  int images = 0;
  int equal = 0;             // same top-1 class (first maximum on both sides)
  int logit_ties = 0;        // disagreements that are float ties in the logits
  int code_ties = 0;         // disagreements that start at a float tie in a code
  int other = 0;             // the rest
  double float_top1 = 0.0;   // percent, counted as nn::evaluate counts
  std::vector<int> disagreeing;  // the first 20 images that part, by index
};

struct InferResult {
  std::string kernel;  // the kernel that ran
  int images = 0;
  double top1 = 0.0, top5 = 0.0;  // percent
  double seconds = 0.0;           // inference only (no loading)
  std::vector<int> predictions;   // argmax per image (first maximum)
  bool compared = false;          // InferConfig::compare_checkpoint was given
  Agreement agreement;
};

// Runs the engine over `data` in batches. Throws std::invalid_argument naming `model_source` (the
// model's file) and the data set when the image shape or the number of classes differs from the
// model's.
InferResult infer_dataset(IntEngine& engine, const nn::Dataset& data, int batch,
                          const std::string& model_source);

// The trainer's eval of `checkpoint` (the network of nn::network_from_checkpoint, normalized as
// the integer model folded it in: `model`'s stored normalization) on `data` against
// `predictions` (one per image). Throws std::runtime_error naming `checkpoint_path` when it is
// unreadable or is not the model's network (model, widths, bits or quantizer differ).
Agreement compare_with_trainer(const IntModel& model, const std::vector<int>& predictions,
                               const std::string& checkpoint_path, const nn::Dataset& data,
                               int batch);

// Reads the model and the test set and runs. Throws std::runtime_error naming the file for an
// unreadable model, std::invalid_argument for a bad config.
InferResult run_infer(const InferConfig& config);

}  // namespace nce::deploy
