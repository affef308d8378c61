#include "nce/search/search_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "nce/common/text.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/loss.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/schedule.h"
#include "nce/search/methods.h"
#include "nce/search/search_checkpoint.h"
#include "nce/search/supernet_search.h"

namespace nce::search {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

}  // namespace

void validate(const SearchConfig& c) {
  const std::unique_ptr<Method> method = make_method(c.method);  // throws for an unknown name
  require(c.threshold > 0 && c.threshold < 1,
          "--threshold must be in (0, 1), got " + common::number_text(c.threshold));
  for (const auto& [name, term] :
       {std::pair{"flops", c.flops}, std::pair{"params", c.params}, std::pair{"latency", c.latency},
        std::pair{"energy", c.energy}}) {
    require(term.lambda >= 0 && std::isfinite(term.lambda),
            std::string("--lambda-") + name + " must be >= 0, got " + common::number_text(term.lambda));
    require(term.target_ratio > 0 && std::isfinite(term.target_ratio),
            std::string("the ") + name + " target ratio must be > 0, got " +
                common::number_text(term.target_ratio));
  }
  require(c.warmup_epochs >= 0,
          "--warmup-epochs must be >= 0, got " + common::number_text(c.warmup_epochs));
  require(c.search_epochs >= 0,
          "--search-epochs must be >= 0, got " + common::number_text(c.search_epochs));
  if (method->searches_supernet()) {
    require(models::is_cifar_model(c.model),
            "the width search supports the CIFAR ResNets and vgg16; model '" + c.model +
                "' is not one of them");
    require(c.warmup_epochs + c.search_epochs >= 1,
            "a " + c.method + " search needs at least one warm-up or search epoch");
  }
  require(c.retrain_epochs >= 1 || !c.retrain,
          "--retrain-epochs must be >= 1, got " + common::number_text(c.retrain_epochs));
  require(c.batch_size >= 2, "--batch must be >= 2, got " + common::number_text(c.batch_size));
  require(c.max_candidates >= 8 && c.max_candidates <= 16,
          "--max-candidates must be in 8..16, got " + common::number_text(c.max_candidates));
  require(c.base_multiplier > 0, "the base width multiplier must be > 0");
  require(c.lr > 0 && c.arch_lr > 0, "learning rates must be > 0");
  require(c.tau_max >= c.tau_min && c.tau_min > 0, "tau must satisfy 0 < tau_min <= tau_max");
  require(c.random_samples >= 1, "--random-samples must be >= 1");
  require(!c.wrpn_multipliers.empty(), "--wrpn needs at least one multiplier");
  for (double m : c.wrpn_multipliers)
    require(m > 0, "WRPN multipliers must be > 0, got " + common::number_text(m));
  require(!c.distill || c.method != "none",
          "--distill needs a method that changes the widths (the original would teach itself)");
  require(c.distill_teacher_bits == 0 || nn::is_supported_bits(c.distill_teacher_bits),
          "--distill-teacher-bits must be 2, 3, 4, 8 or 32 (0: the search's), got " +
              common::number_text(c.distill_teacher_bits));
  require(c.distill_temperature > 0 && std::isfinite(c.distill_temperature),
          "--distill-temperature must be > 0, got " + common::number_text(c.distill_temperature));
  require(c.distill_weight >= 0 && c.distill_weight <= 1,
          "--distill-weight must be in [0, 1], got " + common::number_text(c.distill_weight));
  require(!(c.distill || c.activation_analysis) || c.retrain,
          "distillation and the activation analysis need the retrain");
  require(c.probe_images >= 1, "--probe-images must be >= 1, got " + common::number_text(c.probe_images));
  require(!c.resume || !c.checkpoint_path.empty(), "--resume needs --checkpoint PATH");
}

Candidate cost_candidate(const models::Network& net, const HardwareCosts& hw) {
  Candidate c;
  c.widths = net.widths;
  c.macs = net.macs();
  c.params = net.params();
  if (hw.latency_cycles) {
    c.latency_cycles = 0;
    for (const auto& l : net.layers) c.latency_cycles += hw.latency_cycles(l, l.c_in, l.c_out);
  }
  if (hw.energy_pj) {
    c.energy_pj = 0;
    for (const auto& l : net.layers) c.energy_pj += hw.energy_pj(l, l.c_in, l.c_out);
  }
  return c;
}

namespace {

models::InputShape input_of(const nn::Dataset& d) {
  return models::InputShape{d.channels, d.height, d.width, d.num_classes};
}

// Forwards the trainer's epochs to the search observer.
class RetrainObserver : public nn::TrainObserver {
 public:
  RetrainObserver(SearchObserver* target, std::string tag, std::vector<int> widths)
      : target_(target), tag_(std::move(tag)), widths_(std::move(widths)) {}
  void on_epoch(const nn::EpochStats& stats, int epochs, double) override {
    if (target_) target_->on_retrain_epoch(tag_, widths_, stats, epochs);
  }
  void on_batch(int epoch, int batch, int num_batches, double) override {
    if (target_) target_->on_retrain_batch(epoch, batch, num_batches);
  }

 private:
  SearchObserver* target_;
  std::string tag_;
  std::vector<int> widths_;
};

}  // namespace

LayerCostFn CostAccounting::gate(LayerCostFn cost) const {
  return [this, cost](int l, int ci, int co) {
    return width_shortcut[l] && ci == co ? 0.0 : cost(l, ci, co);
  };
}

CostAccounting cost_accounting(const models::Network& base, bool count_width_shortcuts) {
  CostAccounting acc;
  acc.net = base;
  acc.width_shortcut.assign(base.layers.size(), false);
  if (!count_width_shortcuts) return acc;
  for (const models::Block& b : base.blocks) {
    if (b.shortcut >= 0) continue;
    const models::Layer& a = base.layers[b.conv_a];
    const models::Layer& last = base.layers[b.last()];
    if (a.stride != 1) continue;
    const models::Layer sc = models::width_shortcut(a, last);
    acc.net.layers.push_back(sc);
    acc.width_shortcut.push_back(true);
  }
  return acc;
}

namespace {

class Search : public MethodRun {
 public:
  Search(const SearchConfig& config, const nn::Dataset& train, const nn::Dataset& test,
         const HardwareCosts& hw, SearchObserver* observer)
      : c_(config), train_(train), test_(test), hw_(hw), obs_(observer) {}

  SearchResult run();

  // MethodRun.
  const SearchConfig& config() const override { return c_; }
  const models::Network& base() const override { return *base_; }
  std::vector<int> supernet_search() override;
  Candidate retrain(const std::vector<int>& widths, const std::string& method,
                    const std::string& tag) override;
  Candidate costed(const std::vector<int>& widths, int epoch) override {
    return derive_candidate(widths, epoch);
  }
  Candidate original_at(int bits) override { return trained_original(bits).cand; }
  bool stopped_early() const override { return result_.stopped_early; }

 private:
  struct Trained {
    Candidate cand;
    std::shared_ptr<nn::Network> net;
  };
  // Trains `widths` at `bits` (with the distillation teacher when `teacher` is set) and evaluates.
  Trained train_widths(const std::vector<int>& widths, const std::string& method,
                       const std::string& tag, int bits, const Trained* teacher);
  // The original network trained at `bits` (once; cached).
  const Trained& trained_original(int bits);
  void write_final_checkpoint(const Trained& t, const std::vector<int>& widths);
  bool saved_final_ = false;
  double saved_final_top1_ = 0.0;
  void profile(const std::string& network, const Trained& t, int bits);
  // Probes the chosen design for the analysis (the run's retrain of `cand`).
  void keep_for_analysis(const Trained& t);
  Candidate derive_candidate(const std::vector<int>& widths, int epoch);
  void note(const std::string& what) {
    if (obs_) obs_->on_phase(what);
  }

  const SearchConfig& c_;
  const nn::Dataset& train_;
  const nn::Dataset& test_;
  const HardwareCosts& hw_;
  SearchObserver* obs_;
  const models::Network* base_ = nullptr;
  SearchResult result_;
  std::map<int, Trained> originals_;
  std::vector<int> base_widths_;
  double best_top1_ = -1;  // of the designs probed so far (WRPN and random keep their best)
  std::vector<ActivationProfile> final_profile_;
};

Candidate Search::derive_candidate(const std::vector<int>& widths, int epoch) {
  const models::Network net = models::build(c_.model, widths, input_of(train_));
  Candidate cand = cost_candidate(net, hw_);
  cand.method = c_.method;
  cand.epoch = epoch;
  cand.phase = "search";
  return cand;
}

Search::Trained Search::train_widths(const std::vector<int>& widths, const std::string& method,
                                     const std::string& tag, int bits, const Trained* teacher) {
  nn::TrainConfig t;
  t.model = c_.model;
  t.widths = widths;
  t.dataset = c_.dataset;
  t.network.weight_bits = bits;
  t.network.activation_bits = bits;
  t.network.quantizer = c_.supernet.quantizer;
  t.network.pact_init_clip = c_.supernet.pact_init_clip;
  t.network.pact_clip_l2 = c_.supernet.pact_clip_l2;
  t.network.int8_full_precision = c_.retrain_int8_full_precision;
  t.epochs = c_.retrain_epochs;
  t.batch_size = c_.batch_size;
  t.lr = c_.lr;
  t.momentum = c_.momentum;
  t.nesterov = c_.nesterov;
  t.weight_decay = c_.weight_decay;
  t.augment = c_.augment;
  t.seed = c_.seed;
  t.max_batches = c_.max_batches;
  // Every retrain epoch's test top-1 is recorded (a curve per result; about a tenth of an epoch).
  t.test_each_epoch = true;
  if (teacher) {
    t.teacher = teacher->net.get();
    t.teacher_label = "original W" + std::to_string(teacher->net->options().weight_bits) + " " +
                      models::format_widths(teacher->cand.widths);
    t.distill_temperature = c_.distill_temperature;
    t.distill_weight = c_.distill_weight;
  }
  if (!c_.checkpoint_path.empty()) {
    t.checkpoint_path = c_.checkpoint_path + ".retrain-" + tag;
    std::ifstream exists(t.checkpoint_path);
    t.resume = c_.resume && exists.good();
  }
  note("retrain " + method + " " + models::format_widths(widths) +
       (bits != c_.supernet.weight_bits
            ? " at W" + std::to_string(bits) + "A" + std::to_string(bits)
            : std::string()) +
       (teacher ? ", distilled from the " + t.teacher_label : std::string()));
  RetrainObserver forward(obs_, tag, widths);
  nn::TrainResult r = nn::train(t, train_, test_, &forward);
  const models::Network net = models::build(c_.model, widths, input_of(train_));
  Trained out;
  out.cand = cost_candidate(net, hw_);
  out.cand.method = method;
  out.cand.phase = "final";
  out.cand.top1 = r.test.top1;
  out.net = std::move(r.network);
  return out;
}

Candidate Search::retrain(const std::vector<int>& widths, const std::string& method,
                          const std::string& tag) {
  const Trained* teacher = nullptr;
  if (c_.distill) {
    teacher = &trained_original(c_.distill_teacher_bits ? c_.distill_teacher_bits
                                                        : c_.supernet.weight_bits);
  }
  if (c_.activation_analysis) {
    trained_original(32);
    trained_original(c_.supernet.weight_bits);
  }
  Trained t = train_widths(widths, method, tag, c_.supernet.weight_bits, teacher);
  if (!c_.final_checkpoint_path.empty() && (!saved_final_ || t.cand.top1 > saved_final_top1_)) {
    write_final_checkpoint(t, widths);
    saved_final_ = true;
    saved_final_top1_ = t.cand.top1;
  }
  if (obs_) obs_->on_candidate(t.cand);
  result_.candidates.push_back(t.cand);
  if (c_.activation_analysis) keep_for_analysis(t);
  return t.cand;
}

void Search::write_final_checkpoint(const Trained& t, const std::vector<int>& widths) {
  nn::Checkpoint ck;
  ck.model = c_.model;
  ck.widths = widths;
  const nn::NetworkOptions& o = t.net->options();
  const models::InputShape in = input_of(train_);
  auto num = [](double v) {
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
  };
  ck.options = {{"dataset", c_.dataset},
                {"train_images", std::to_string(train_.size())},
                {"input", std::to_string(in.channels) + "x" + std::to_string(in.height) + "x" +
                              std::to_string(in.width)},
                {"weight_bits", std::to_string(o.weight_bits)},
                {"activation_bits", std::to_string(o.activation_bits)},
                {"quantizer", nn::to_string(o.quantizer)},
                {"pact_init_clip", num(o.pact_init_clip)},
                {"bn_momentum", num(o.bn_momentum)},
                {"bn_eps", num(o.bn_eps)},
                {"quantize_all_layers", o.quantize_all_layers ? "1" : "0"},
                {"written_by", "nce search --save-checkpoint (final retrained design)"}};
  if (o.int8_full_precision) ck.options.emplace_back("int8_full_precision", "1");
  ck.epochs_done = c_.retrain_epochs;
  for (const nn::NamedTensor& nt : t.net->state())
    ck.network.push_back(nn::StateBuffer{
        nt.name, std::vector<float>(nt.tensor->data(), nt.tensor->data() + nt.tensor->size())});
  ck.optimizer.kind = "none";
  nn::write_checkpoint(c_.final_checkpoint_path, ck);
}

const Search::Trained& Search::trained_original(int bits) {
  auto it = originals_.find(bits);
  if (it != originals_.end()) return it->second;
  const bool run_bits = bits == c_.supernet.weight_bits;
  Trained t =
      train_widths(base_widths_, "original", "original-w" + std::to_string(bits), bits, nullptr);
  if (run_bits) {
    // A design of this run's precision: recorded like the others.
    if (obs_) obs_->on_candidate(t.cand);
    result_.candidates.push_back(t.cand);
    result_.original_retrained = t.cand;
  }
  if (c_.activation_analysis) profile("original", t, bits);
  return originals_.emplace(bits, std::move(t)).first->second;
}

void Search::profile(const std::string& network, const Trained& t, int bits) {
  nn::BatchOptions bo;
  bo.batch_size = std::min(c_.probe_images, test_.size());
  bo.shuffle = false;
  nn::Batcher batcher(test_, nn::compute_normalization(train_), bo);
  std::mt19937_64 unused(0);
  batcher.start_epoch(unused);
  nn::Tensor images;
  std::vector<int> labels;
  if (!batcher.next(images, labels)) return;
  ActivationProfile p;
  p.method = network;
  p.network = network + " W" + std::to_string(bits) + "A" + std::to_string(bits);
  p.bits = bits;
  p.widths = t.cand.widths;
  p.top1 = t.cand.top1;
  p.layers = t.net->probe_activations(images, std::clamp(c_.supernet.activation_bits, 2, 8));
  if (network == "original") {
    result_.activations.push_back(std::move(p));
  } else {
    final_profile_.assign(1, std::move(p));
  }
}

void Search::keep_for_analysis(const Trained& t) {
  // WRPN and random search retrain several designs; the analysis shows the best.
  if (t.cand.top1 < best_top1_ && !final_profile_.empty()) return;
  best_top1_ = t.cand.top1;
  profile(t.cand.method, t, c_.supernet.weight_bits);
}

std::vector<int> Search::supernet_search() {
  SupernetSearch search(c_, *base_, train_, hw_, obs_);
  return search.run(result_);
}

std::vector<int> base_widths_of(const SearchConfig& c, const models::InputShape& input) {
  std::vector<int> widths =
      c.widths.empty() ? models::default_widths(c.model, input.channels) : c.widths;
  if (c.base_multiplier != 1.0) widths = models::scale_widths(widths, c.base_multiplier);
  return widths;
}

SearchResult Search::run() {
  validate(c_);
  if (c_.resume) check_resume(c_, train_);
  const auto t0 = Clock::now();
  const models::InputShape input = input_of(train_);
  const models::Network base = models::build(c_.model, base_widths_of(c_, input), input);
  if (c_.latency.lambda > 0 && !hw_.latency_cycles) {
    throw std::invalid_argument("--lambda-latency > 0 needs a hardware config (--hw)");
  }
  if (c_.energy.lambda > 0 && !hw_.energy_pj) {
    throw std::invalid_argument("--lambda-energy > 0 needs a hardware config (--hw)");
  }
  base_widths_ = base.widths;
  result_.original = cost_candidate(base, hw_);
  result_.original.method = "original";
  result_.original.phase = "final";

  const std::unique_ptr<Method> method = make_method(c_.method);
  if (method->searches_supernet()) {
    note(c_.method + " search: " + std::to_string(c_.warmup_epochs) + " warm-up + " +
         std::to_string(c_.search_epochs) + " search epochs");
  }
  base_ = &base;
  result_.final = method->run(*this);
  base_ = nullptr;
  for (auto& p : final_profile_) result_.activations.push_back(std::move(p));
  std::sort(result_.activations.begin(), result_.activations.end(),
            [](const ActivationProfile& a, const ActivationProfile& b) {
              return std::make_pair(a.method != "original", -a.bits) <
                     std::make_pair(b.method != "original", -b.bits);
            });
  result_.seconds = seconds_since(t0);
  return result_;
}

}  // namespace

bool has_resume_state(const SearchConfig& c) {
  namespace fs = std::filesystem;
  if (c.checkpoint_path.empty()) return false;
  std::error_code ec;
  if (make_method(c.method)->searches_supernet()) return fs::is_regular_file(c.checkpoint_path, ec);
  const fs::path path(c.checkpoint_path);
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string prefix = path.filename().string() + ".retrain-";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void check_resume(const SearchConfig& c, const nn::Dataset& train) {
  if (!c.resume) return;
  if (!has_resume_state(c)) {
    throw std::runtime_error(
        c.checkpoint_path + ": no checkpoint to resume from (--resume" +
        (make_method(c.method)->searches_supernet()
             ? std::string(" needs the search's checkpoint)")
             : " needs a checkpoint of one of its retrains, " + c.checkpoint_path + ".retrain-*)"));
  }
  if (!make_method(c.method)->searches_supernet()) return;  // each retrain checks its own
  const nn::Checkpoint ck = nn::read_checkpoint(c.checkpoint_path);
  nn::check_checkpoint_matches(
      ck, c.checkpoint_path, c.model,
      models::build(c.model, base_widths_of(c, input_of(train)), input_of(train)).widths,
      search_identity(c, train));
}

SearchResult run_search(const SearchConfig& config, const nn::Dataset& train,
                        const nn::Dataset& test, const HardwareCosts& hw,
                        SearchObserver* observer) {
  Search search(config, train, test, hw, observer);
  return search.run();
}

}  // namespace nce::search
