// The training loop behind `nce train`: builds a trainable Network (network.h) from a models::
// network for the data's input shape, trains it with SGD/Adam on a warm-up + cosine schedule
// (stepped every batch), checkpoints every epoch, resumes exactly, and evaluates top-1/top-5.
//
// Reproducibility: the network is initialized from `seed`; one std::mt19937_64 (seeded from
// `seed` too) draws every epoch's permutation and augmentation, in order. Its state is saved in
// each checkpoint with the network state (parameters + BN running statistics) and the optimizer
// buffers, so a run interrupted after epoch k and resumed ends bit-identical to an uninterrupted
// one (same thread count: OpenMP reductions are split per thread).
// Normalization: per-channel mean/std computed from the training set passed in (dataset.h).
// Accuracies are in percent (0..100), times in seconds of wall clock.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nce/nn/dataset.h"
#include "nce/nn/network.h"

namespace nce::nn {

struct Checkpoint;  // checkpoint.h

struct TrainConfig {
  std::string model = "resnet20";
  std::vector<int> widths;          // empty: the model's default widths for the data's channels
  std::string dataset = "cifar10";  // a label for checkpoints and summaries
  NetworkOptions network;           // bits, quantizer, PACT, BN
  int epochs = 1;
  int batch_size = 128;
  std::string optimizer = "sgd";  // "sgd" or "adam"
  double lr = 0.1;                // peak learning rate (after warm-up)
  double final_lr = 0.0;          // at the end of the cosine
  int warmup_epochs = 0;          // linear warm-up, in epochs (converted to steps)
  float momentum = 0.9f;          // SGD
  bool nesterov = true;           // SGD
  float weight_decay = 5e-4f;     // L2 on weights with Parameter::weight_decay
  float adam_beta1 = 0.9f;
  float adam_beta2 = 0.999f;
  float adam_eps = 1e-8f;
  bool augment = false;  // pad-4 random crop + horizontal flip (CIFAR)
  std::uint64_t seed = 1;
  int max_batches = 0;  // per epoch; 0 = every batch (> 0: quick smoke runs)
  bool test_each_epoch = true;
  int eval_batch_size = 500;
  std::string checkpoint_path;  // "" = no checkpoints; else written after every epoch
  bool resume = false;          // continue from checkpoint_path (it must exist and match)
  int stop_after_epoch = 0;     // > 0: stop once this many epochs are done; the schedule still
                                // spans `epochs` (an interruption, for tests and time boxes)
  // Knowledge distillation (TAS's retrain): with a teacher, each step's loss is
  // distillation_loss (loss.h) of the student's and the teacher's logits on the same augmented
  // batch; the teacher runs in eval mode and is not changed. EpochStats::loss stays the plain
  // cross-entropy. teacher_label names the teacher in checkpoints (a resume must use the same).
  Network* teacher = nullptr;
  std::string teacher_label;
  float distill_temperature = 4.0f;
  float distill_weight = 0.9f;  // of the T^2 * KL term; the cross-entropy gets 1 - weight
};

// Throws std::invalid_argument naming the field and value.
void validate(const TrainConfig& config);

// The settings a checkpoint must share with the run that resumes from it ("key", "value").
std::vector<std::pair<std::string, std::string>> checkpoint_identity(const TrainConfig& config,
                                                                     const Dataset& train_set);

constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

struct EpochStats {
  int epoch = 0;              // 1-based
  double loss = 0.0;          // mean training cross-entropy over the epoch's images
  double top1 = 0.0;          // training accuracy (augmented batches, train-mode BN), percent
  double lr = 0.0;            // learning rate of the epoch's last step
  double seconds = 0.0;       // training steps only (no test pass)
  double images_per_s = 0.0;  // training images / seconds
  double test_loss = kNotMeasured;
  double test_top1 = kNotMeasured;
  double test_top5 = kNotMeasured;
};

// The history as a checkpoint stores it (Checkpoint::history): one line per epoch, "epoch loss top1
// lr seconds images_per_s test_loss test_top1 test_top5", doubles round-trip exact (%.17g, "nan"
// for kNotMeasured).
std::string history_to_text(const std::vector<EpochStats>& history);
// Reads what history_to_text wrote. Throws std::runtime_error naming `path` and the line.
std::vector<EpochStats> history_from_text(const std::string& text, const std::string& path);

struct EvalStats {
  double loss = 0.0;
  double top1 = 0.0;
  double top5 = 0.0;  // 100 when there are at most 5 classes
  int images = 0;
};

struct TrainResult {
  std::vector<int> widths;          // the width vector trained
  std::int64_t macs = 0;            // of the network for this input (models::Network::macs)
  std::int64_t parameters = 0;      // learnable values in the trainable network
  std::vector<EpochStats> history;  // every epoch so far, including those before a resume
  int resumed_from = 0;             // epochs already done when this call started
  bool stopped_early = false;       // stop_after_epoch ended it before `epochs`
  EvalStats test;                   // final evaluation (eval-mode BN); images = 0 if stopped early
  double seconds = 0.0;             // wall time of this call
  std::shared_ptr<Network> network;  // the trained network (eval mode: probes, a teacher)
};

// The network diverged: a training loss, a test loss or a logit became NaN or infinite. Its
// accuracy means nothing; callers record the run as "diverged" (never as a result).
class DivergedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Progress callbacks (the CLI prints them; the results sink records them). Default: nothing.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_start(const TrainConfig& config, const models::Network& description,
                        int start_epoch) {}
  // After each training batch; running_loss = mean loss of the epoch so far.
  virtual void on_batch(int epoch, int batch, int num_batches, double running_loss) {}
  // After each epoch (and its test pass and checkpoint); eta = estimated seconds left.
  virtual void on_epoch(const EpochStats& stats, int epochs, double eta_seconds) {}
};

// Top-1 and top-5 hits of one row of logits: adds 1 to *top1 when the label ranks first, to *top5
// when it ranks among the first five. The label's rank = the number of other classes whose logit
// is at least the label's, so a tie is no hit (an all-zero head scores 0%, not 100%). A row with a
// NaN or infinite logit is no hit (every comparison with NaN is false, so it would otherwise rank
// first). Returns whether the row was finite.
bool count_hits(const float* logits, int classes, int label, int* top1, int* top5);

// Mean loss, top-1 and top-5 of `net` on `data` in eval mode, in file order. Throws DivergedError
// when a logit or the loss is not finite (NaN logits are never counted as hits).
EvalStats evaluate(Network& net, const Dataset& data, const Normalization& norm, int batch_size);

// The trained network of a checkpoint of `nce train` (`path` names it in errors): its model,
// widths and the network options among its identity (weight_bits, activation_bits, quantizer,
// bn_eps, quantize_all_layers, int8_full_precision), its parameters and running statistics, and
// the stem's input factors from `norm` (the training set's normalization). Throws
// std::runtime_error naming the file and the key that is missing or malformed.
std::unique_ptr<Network> network_from_checkpoint(const Checkpoint& checkpoint,
                                                 const std::string& path,
                                                 const Normalization& norm);

// Trains config.model on train_set and evaluates on test_set (both must have the same image
// shape and class count). Throws std::invalid_argument for a bad config, std::runtime_error for a
// checkpoint that is unreadable or of another model/configuration (naming the file and the
// difference), and DivergedError when a training or test loss becomes non-finite.
TrainResult train(const TrainConfig& config, const Dataset& train_set, const Dataset& test_set,
                  TrainObserver* observer = nullptr);

}  // namespace nce::nn
