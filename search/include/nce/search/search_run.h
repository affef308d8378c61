// The width searches behind `nce search` (docs/algorithm.md §3-6): NCE, TAS, WRPN, random search
// and the unadapted network, each ending in a retrain of its chosen width vector(s) from scratch.
//
// NCE / TAS (Algorithm 1): the training set is split 50/50 per class into D_w (weights) and D_a
// (architecture). Warm-up epochs train the supernet's weights with uniformly drawn candidates;
// search epochs alternate a weight step (SGD, lr cosine to 0, Nesterov, wd) on a D_w batch and an
// architecture step (Adam on alpha) on a D_a batch whose loss is
//   CE + lambda_flops*L_flops + lambda_params*L_params + lambda_latency*L_latency
//      + lambda_energy*L_energy
// with TAS's +-log E[cost] terms (expected_cost.h). Latency and energy come from per-layer cost
// functions the caller supplies (the simulated array's cost table; search/ never sees hardware).
// Every epoch derives the argmax architecture and reports it; NCE then expands every layer whose
// largest candidate reached the threshold. The last epoch's architecture is retrained on the whole
// training set and evaluated on the test set.
// TAS "2x" starts from doubled base widths (SearchConfig::base_multiplier = 2).
// WRPN retrains the base widths times each multiplier; random search retrains K width vectors
// drawn uniformly from the TAS candidates whose MACs fit the target; "none" retrains the base.
//
// Interruption: with a checkpoint path, the search state (supernet weights, BN statistics, alpha
// and candidates, both optimizers, the generator, the epoch and the records) is written after
// every epoch; resume=true continues exactly, and refuses a checkpoint of other options.
// Units: accuracies in percent, costs as in models:: (MACs, PARAMs) and the cost functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nce/nn/dataset.h"
#include "nce/nn/trainer.h"
#include "nce/search/expected_cost.h"
#include "nce/search/supernet.h"

namespace nce::search {

struct CostTerm {
  double lambda = 0;        // 0: term off
  double target_ratio = 1;  // R = ratio * the base network's cost
};

struct SearchConfig {
  std::string method = "nce";  // nce | tas | wrpn | random | none
  std::string model = "resnet20";
  std::string dataset = "cifar10";
  std::vector<int> widths;     // base widths; empty = the model's default for the data
  double base_multiplier = 1;  // TAS "2X": start from doubled widths
  SupernetOptions supernet;    // bits, quantizer, PACT (max_candidates set from the method)
  int warmup_epochs = 1;
  int search_epochs = 2;
  int retrain_epochs = 2;
  int batch_size = 128;
  int max_batches = 0;  // per epoch (search and retrain); 0 = all (smoke runs)
  // The retrains run their stem, 1x1 shortcuts and FC on the array's 8-bit rule
  // (nn::NetworkOptions::int8_full_precision), so the exported integer model predicts what the
  // final top-1 counted. The search's supernet is unchanged.
  bool retrain_int8_full_precision = false;
  double lr = 0.1;      // weights: SGD, cosine to 0 over warm-up + search
  float momentum = 0.9f;
  bool nesterov = true;
  float weight_decay = 5e-4f;
  double arch_lr = 1e-3;  // alpha: Adam (beta1 0.5, beta2 0.999), weight decay 1e-3
  double arch_beta1 = 0.5;
  double arch_beta2 = 0.999;
  double arch_weight_decay = 1e-3;
  double tau_max = 5.0;
  double tau_min = 0.1;
  double threshold = 0.3;   // NCE expansion threshold T, in (0, 1)
  int max_candidates = 16;  // NCE: candidates per layer after expansions (8..16)
  double tolerance = 0.05;  // TAS cost band t
  // CHOICE: the cost terms also count the 1x1 conv shortcut that a stride-1 block gets in the
  // derived network when its input and output widths differ (so the search sees what the derived
  // network costs; on a 2-bit array such a full-precision shortcut runs bit-serially). TAS's
  // counting leaves it out (false).
  bool count_width_shortcuts = true;
  CostTerm flops{2.0, 1.0};
  CostTerm params{2.0, 1.0};
  CostTerm latency{0.0, 1.0};
  CostTerm energy{0.0, 1.0};
  std::vector<double> wrpn_multipliers = {1.0, 1.25, 1.5, 2.0};
  int random_samples = 3;
  bool augment = true;  // CIFAR-style augmentation (off for Fashion-MNIST by the CLI)
  // Distillation in the retrain (TAS): the original (unpruned) network at distill_teacher_bits
  // (0: the search's bits) is trained first with the retrain budget, then every retrained design
  // learns from it: (1 - weight) * CE + weight * T^2 * KL at temperature T (nn::distillation_loss).
  bool distill = false;
  int distill_teacher_bits = 0;
  float distill_temperature = 4.0f;
  float distill_weight = 0.9f;
  // The paper's Fig. 1: also retrain the original network at the search's bits and at 32 bits, and
  // probe the activations of these two and of the chosen design on the first probe_images test
  // images (SearchResult::activations).
  bool activation_analysis = false;
  int probe_images = 256;
  std::uint64_t seed = 1;
  std::string checkpoint_path;
  // "" = none; else the final retrained network (the method's chosen design: for wrpn/random the
  // best retrain so far) is written here as an nn::Checkpoint that `nce export` reads (its options:
  // bits, quantizer, BN eps, input, data set, training images; not meant for nce train --resume).
  std::string final_checkpoint_path;
  bool resume =
      false;  // checkpoint_path (or, for a retrain method, one of its retrains) must exist
  // The identity of the hardware the cost functions model (sim::HwConfig::fingerprint(); "" =
  // none): part of the checkpoint's identity, so a resume against another array is refused.
  std::string hw_fingerprint;
  bool retrain = true;       // false: stop after the search (tests, quick looks)
  int stop_after_epoch = 0;  // > 0: stop the search after this many epochs (an interruption)
};

// Throws std::invalid_argument naming the option and value (threshold outside (0,1), negative
// lambdas, unknown method, ...).
void validate(const SearchConfig& config);

// Hardware costs the caller may supply: cost(layer, c_in, c_out) of a layer of that shape (kind,
// kernel, stride, maps, quantized) reading c_in and writing c_out channels. Empty functions: the
// term is unavailable (its lambda must be 0). A network's cost is the sum over its layers.
using HwLayerCostFn = std::function<double(const models::Layer& layer, int c_in, int c_out)>;
struct HardwareCosts {
  HwLayerCostFn latency_cycles;
  HwLayerCostFn energy_pj;
  std::string name;  // hw config name, for records
};

// The network the cost terms are computed on: the base network, plus (count_width_shortcuts) one
// 1x1 conv + BN shortcut per stride-1 identity block, reading the block's input width and writing
// its output width; width_shortcut[l] marks those layers, which cost nothing when c_in == c_out.
// concrete_cost() on it equals the derived network's cost as models::build() lays it out.
struct CostAccounting {
  models::Network net;
  std::vector<bool> width_shortcut;
  // `cost` with the width shortcuts' zero at c_in == c_out. The result refers to *this.
  LayerCostFn gate(LayerCostFn cost) const;
};
CostAccounting cost_accounting(const models::Network& base, bool count_width_shortcuts);

// One evaluated design.
struct Candidate {
  std::string method;
  int epoch = 0;      // search epoch (1-based); 0 for retrain-only methods
  std::string phase;  // "search" (derived during the search) or "final" (retrained)
  std::vector<int> widths;
  std::int64_t macs = 0;
  std::int64_t params = 0;
  double latency_cycles = -1;  // -1: not available
  double energy_pj = -1;
  double top1 = -1;  // percent; -1: not measured
};

// What one search epoch did, for progress and analysis.
struct SearchEpoch {
  int epoch = 0;      // 1-based over warm-up + search
  std::string phase;  // "warmup" or "search"
  double tau = 0;
  double lr = 0;
  double loss = 0;       // mean weight-step CE
  double top1 = 0;       // weight-step training accuracy, percent
  double arch_loss = 0;  // mean architecture-step CE (search epochs)
  double seconds = 0;
  std::vector<std::vector<double>> probabilities;  // softmax(alpha) per layer at epoch end
  std::vector<std::vector<double>> ce_alpha_grad;  // mean dCE/dalpha per layer over the epoch
  std::vector<double> kendall;  // per layer: tau-b(candidate widths, -mean dCE/dalpha)
  std::vector<int> expanded;    // width indices expanded at the end of this epoch
};

class SearchObserver {
 public:
  virtual ~SearchObserver() = default;
  virtual void on_phase(const std::string& what) {}
  virtual void on_batch(int epoch, int batch, int num_batches) {}
  virtual void on_epoch(const SearchEpoch& epoch, int epochs) {}
  virtual void on_candidate(const Candidate& candidate) {}
  // `tag` names the retrain within the run: "final" (the searched design), "original",
  // "original-w<bits>" (the unadapted network at those bits), "wrpn-<m>", "random-<k>".
  virtual void on_retrain_epoch(const std::string& tag, const std::vector<int>& widths,
                                const nn::EpochStats& stats, int epochs) {}
  // After each batch of a retrain (its last epoch's checkpoint is complete then).
  virtual void on_retrain_batch(int epoch, int batch, int num_batches) {}
};

// One trained network's activation statistics (nn::Network::probe_activations).
struct ActivationProfile {
  std::string network;  // "original W32A32", "original W2A2", "nce W2A2", ...
  std::string method;   // "original" or the method of the chosen design
  int bits = 32;
  std::vector<int> widths;
  double top1 = -1;  // test accuracy of that network, percent
  std::vector<nn::ActivationStats> layers;
};

struct SearchResult {
  std::vector<SearchEpoch> epochs;
  // activation_analysis: W32A32 original, W<b>A<b> original, the chosen design (W<b>A<b>).
  std::vector<ActivationProfile> activations;
  // The original network retrained at the search's bits, when the run trained it (as the
  // distillation teacher or for the analysis); top1 < 0 otherwise.
  Candidate original_retrained;
  std::vector<Candidate> candidates;  // every derived and every retrained design
  Candidate final;                    // the method's chosen design, retrained (if retrain)
  Candidate original;                 // the base network's costs (top1 only for "none")
  double seconds = 0;
  bool resumed = false;
  bool stopped_early = false;  // stop_after_epoch ended the search; nothing was retrained
};

// Costs of one width vector (MACs/PARAMs of the network as built; latency/energy through `hw`).
Candidate cost_candidate(const models::Network& net, const HardwareCosts& hw);

// Whether `config` has state to resume from: its checkpoint (a supernet method) or a checkpoint of
// one of its retrains (checkpoint_path + ".retrain-*"; wrpn, random, none).
bool has_resume_state(const SearchConfig& config);

// With config.resume, throws std::runtime_error naming the checkpoint when there is nothing to
// resume (has_resume_state) or when the search checkpoint is of another model, widths or options
// (search_identity: method, data, bits, schedule, lambdas, targets, hw, ...). run_search calls it;
// callers may call it first to refuse before they record anything.
void check_resume(const SearchConfig& config, const nn::Dataset& train);

// Runs the configured method. `train`/`test` are the full sets (the split happens inside).
SearchResult run_search(const SearchConfig& config, const nn::Dataset& train,
                        const nn::Dataset& test, const HardwareCosts& hw = {},
                        SearchObserver* observer = nullptr);

}  // namespace nce::search
