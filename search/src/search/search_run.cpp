#include "nce/search/search_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "nce/nn/checkpoint.h"
#include "nce/nn/loss.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/schedule.h"
#include "nce/search/kendall.h"

namespace nce::search {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void validate(const SearchConfig& c) {
  static const char* const kMethods[] = {"nce", "tas", "wrpn", "random", "none"};
  require(std::find(std::begin(kMethods), std::end(kMethods), c.method) != std::end(kMethods),
          "unknown --method '" + c.method + "' (known: nce, tas, wrpn, random, none)");
  require(c.threshold > 0 && c.threshold < 1,
          "--threshold must be in (0, 1), got " + num(c.threshold));
  for (const auto& [name, term] :
       {std::pair{"flops", c.flops}, std::pair{"params", c.params}, std::pair{"latency", c.latency},
        std::pair{"energy", c.energy}}) {
    require(term.lambda >= 0 && std::isfinite(term.lambda),
            std::string("--lambda-") + name + " must be >= 0, got " + num(term.lambda));
    require(
        term.target_ratio > 0 && std::isfinite(term.target_ratio),
        std::string("the ") + name + " target ratio must be > 0, got " + num(term.target_ratio));
  }
  require(c.warmup_epochs >= 0, "--warmup-epochs must be >= 0, got " + num(c.warmup_epochs));
  require(c.search_epochs >= 0, "--search-epochs must be >= 0, got " + num(c.search_epochs));
  if (c.method == "nce" || c.method == "tas") {
    require(models::is_cifar_model(c.model),
            "the width search supports the CIFAR ResNets and vgg16; model '" + c.model +
                "' is not one of them");
    require(c.warmup_epochs + c.search_epochs >= 1,
            "a " + c.method + " search needs at least one warm-up or search epoch");
  }
  require(c.retrain_epochs >= 1 || !c.retrain,
          "--retrain-epochs must be >= 1, got " + num(c.retrain_epochs));
  require(c.batch_size >= 2, "--batch must be >= 2, got " + num(c.batch_size));
  require(c.max_candidates >= 8 && c.max_candidates <= 16,
          "--max-candidates must be in 8..16, got " + num(c.max_candidates));
  require(c.base_multiplier > 0, "the base width multiplier must be > 0");
  require(c.lr > 0 && c.arch_lr > 0, "learning rates must be > 0");
  require(c.tau_max >= c.tau_min && c.tau_min > 0, "tau must satisfy 0 < tau_min <= tau_max");
  require(c.random_samples >= 1, "--random-samples must be >= 1");
  require(!c.wrpn_multipliers.empty(), "--wrpn needs at least one multiplier");
  for (double m : c.wrpn_multipliers) require(m > 0, "WRPN multipliers must be > 0, got " + num(m));
  require(!c.distill || c.method != "none",
          "--distill needs a method that changes the widths (the original would teach itself)");
  require(c.distill_teacher_bits == 0 || nn::is_supported_bits(c.distill_teacher_bits),
          "--distill-teacher-bits must be 2, 3, 4, 8 or 32 (0: the search's), got " +
              num(c.distill_teacher_bits));
  require(c.distill_temperature > 0 && std::isfinite(c.distill_temperature),
          "--distill-temperature must be > 0, got " + num(c.distill_temperature));
  require(c.distill_weight >= 0 && c.distill_weight <= 1,
          "--distill-weight must be in [0, 1], got " + num(c.distill_weight));
  require(!(c.distill || c.activation_analysis) || c.retrain,
          "distillation and the activation analysis need the retrain");
  require(c.probe_images >= 1, "--probe-images must be >= 1, got " + num(c.probe_images));
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

// Adam on the architecture logits (doubles), with L2 weight decay as torch.optim.Adam.
struct ArchAdam {
  double lr, beta1, beta2, eps = 1e-8, weight_decay;
  std::int64_t steps = 0;
  std::vector<std::vector<double>> m, v;

  void fit(const ArchParams& arch) {
    m.resize(arch.num_layers());
    v.resize(arch.num_layers());
    for (int w = 1; w <= arch.num_layers(); ++w) {
      m[w - 1].resize(arch.layer(w).alpha.size(), 0.0);
      v[w - 1].resize(arch.layer(w).alpha.size(), 0.0);
    }
  }
  void step(ArchParams& arch, const std::vector<std::vector<double>>& grad) {
    fit(arch);
    ++steps;
    const double c1 = 1 - std::pow(beta1, static_cast<double>(steps));
    const double c2 = 1 - std::pow(beta2, static_cast<double>(steps));
    for (int w = 1; w <= arch.num_layers(); ++w) {
      auto& alpha = arch.layer(w).alpha;
      for (size_t i = 0; i < alpha.size(); ++i) {
        const double g = grad[w - 1][i] + weight_decay * alpha[i];
        m[w - 1][i] = beta1 * m[w - 1][i] + (1 - beta1) * g;
        v[w - 1][i] = beta2 * v[w - 1][i] + (1 - beta2) * g * g;
        alpha[i] -= lr * (m[w - 1][i] / c1) / (std::sqrt(v[w - 1][i] / c2) + eps);
      }
    }
  }
};

// --- Checkpoint text blocks (exact: doubles in hexfloat) -------------------------------------

void write_vec(std::ostream& out, const std::vector<double>& v) {
  out << v.size();
  for (double x : v) out << ' ' << std::hexfloat << x << std::defaultfloat;
  out << '\n';
}

std::vector<double> read_vec(std::istream& in) {
  size_t n = 0;
  in >> n;
  std::vector<double> v(n);
  for (auto& x : v) {
    std::string token;
    in >> token;
    x = std::strtod(token.c_str(), nullptr);
  }
  return v;
}

std::string save_search_state(const ArchParams& arch, const ArchAdam& adam,
                              const std::vector<SearchEpoch>& epochs,
                              const std::vector<Candidate>& candidates) {
  std::ostringstream out;
  out << "arch " << arch.num_layers() << '\n';
  for (const auto& l : arch.layers()) {
    out << l.base_channels << ' ' << l.expansions << ' ' << l.candidates.size();
    for (int c : l.candidates) out << ' ' << c;
    out << '\n';
    write_vec(out, l.alpha);
  }
  out << "adam " << adam.steps << '\n';
  for (size_t i = 0; i < adam.m.size(); ++i) {
    write_vec(out, adam.m[i]);
    write_vec(out, adam.v[i]);
  }
  out << "epochs " << epochs.size() << '\n';
  for (const auto& e : epochs) {
    out << e.epoch << ' ' << e.phase << '\n';
    write_vec(out, {e.tau, e.lr, e.loss, e.top1, e.arch_loss, e.seconds});
    out << e.probabilities.size() << '\n';
    for (size_t i = 0; i < e.probabilities.size(); ++i) {
      write_vec(out, e.probabilities[i]);
      write_vec(out, e.ce_alpha_grad[i]);
    }
    write_vec(out, e.kendall);
    out << e.expanded.size();
    for (int x : e.expanded) out << ' ' << x;
    out << '\n';
  }
  out << "candidates " << candidates.size() << '\n';
  for (const auto& c : candidates) {
    out << c.method << ' ' << c.epoch << ' ' << c.phase << ' ' << c.widths.size();
    for (int w : c.widths) out << ' ' << w;
    out << ' ' << c.macs << ' ' << c.params << '\n';
    write_vec(out, {c.latency_cycles, c.energy_pj, c.top1});
  }
  return out.str();
}

void load_search_state(const std::string& text, const std::string& path, ArchParams& arch,
                       ArchAdam& adam, std::vector<SearchEpoch>& epochs,
                       std::vector<Candidate>& candidates) {
  std::istringstream in(text);
  std::string tag;
  auto expect = [&](const char* what) {
    in >> tag;
    if (!in || tag != what) {
      throw std::runtime_error(path + ": malformed search state (expected '" + what + "')");
    }
  };
  int layers = 0;
  expect("arch");
  in >> layers;
  if (layers != arch.num_layers()) {
    throw std::runtime_error(path + ": the checkpoint's search has " + std::to_string(layers) +
                             " layers, this model has " + std::to_string(arch.num_layers()));
  }
  for (auto& l : arch.layers()) {
    size_t n = 0;
    in >> l.base_channels >> l.expansions >> n;
    l.candidates.resize(n);
    for (auto& c : l.candidates) in >> c;
    l.alpha = read_vec(in);
  }
  expect("adam");
  in >> adam.steps;
  adam.m.assign(layers, {});
  adam.v.assign(layers, {});
  for (int i = 0; i < layers; ++i) {
    adam.m[i] = read_vec(in);
    adam.v[i] = read_vec(in);
  }
  size_t n = 0;
  expect("epochs");
  in >> n;
  epochs.assign(n, {});
  for (auto& e : epochs) {
    in >> e.epoch >> e.phase;
    const std::vector<double> s = read_vec(in);
    if (s.size() != 6) throw std::runtime_error(path + ": malformed epoch record");
    e.tau = s[0], e.lr = s[1], e.loss = s[2], e.top1 = s[3], e.arch_loss = s[4], e.seconds = s[5];
    size_t np = 0;
    in >> np;
    e.probabilities.resize(np);
    e.ce_alpha_grad.resize(np);
    for (size_t i = 0; i < np; ++i) {
      e.probabilities[i] = read_vec(in);
      e.ce_alpha_grad[i] = read_vec(in);
    }
    e.kendall = read_vec(in);
    size_t ne = 0;
    in >> ne;
    e.expanded.resize(ne);
    for (auto& x : e.expanded) in >> x;
  }
  expect("candidates");
  in >> n;
  candidates.assign(n, {});
  for (auto& c : candidates) {
    size_t nw = 0;
    in >> c.method >> c.epoch >> c.phase >> nw;
    c.widths.resize(nw);
    for (auto& w : c.widths) in >> w;
    in >> c.macs >> c.params;
    const std::vector<double> s = read_vec(in);
    if (s.size() != 3) throw std::runtime_error(path + ": malformed candidate record");
    c.latency_cycles = s[0], c.energy_pj = s[1], c.top1 = s[2];
  }
  if (!in) throw std::runtime_error(path + ": malformed search state (truncated)");
}

std::vector<std::pair<std::string, std::string>> identity(const SearchConfig& c,
                                                          const nn::Dataset& train) {
  std::ostringstream s;
  auto kv = [&](const std::string& k, const std::string& v) {
    return std::pair<std::string, std::string>{k, v};
  };
  return {kv("method", c.method),
          kv("dataset", c.dataset),
          kv("train_images", std::to_string(train.size())),
          kv("bits", std::to_string(c.supernet.weight_bits) + "/" +
                         std::to_string(c.supernet.activation_bits)),
          kv("quantizer", nn::to_string(c.supernet.quantizer)),
          kv("warmup_epochs", std::to_string(c.warmup_epochs)),
          kv("search_epochs", std::to_string(c.search_epochs)),
          kv("batch", std::to_string(c.batch_size)),
          kv("max_batches", std::to_string(c.max_batches)),
          kv("lr", num(c.lr)),
          kv("arch_lr", num(c.arch_lr)),
          kv("threshold", num(c.threshold)),
          kv("max_candidates", std::to_string(c.max_candidates)),
          kv("lambdas", num(c.flops.lambda) + "," + num(c.params.lambda) + "," +
                            num(c.latency.lambda) + "," + num(c.energy.lambda)),
          kv("targets", num(c.flops.target_ratio) + "," + num(c.params.target_ratio) + "," +
                            num(c.latency.target_ratio) + "," + num(c.energy.target_ratio)),
          kv("seed", std::to_string(c.seed)),
          kv("base_multiplier", num(c.base_multiplier)),
          kv("count_width_shortcuts", c.count_width_shortcuts ? "1" : "0")};
}

// Forwards the trainer's epochs to the search observer.
class RetrainObserver : public nn::TrainObserver {
 public:
  RetrainObserver(SearchObserver* target, std::vector<int> widths)
      : target_(target), widths_(std::move(widths)) {}
  void on_epoch(const nn::EpochStats& stats, int epochs, double) override {
    if (target_) target_->on_retrain_epoch(widths_, stats, epochs);
  }

 private:
  SearchObserver* target_;
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
    models::Layer sc = last;
    sc.name = a.name.substr(0, a.name.find('.')) + ".shortcut";
    sc.k = 1;
    sc.stride = 1;
    sc.pad = 0;
    sc.h_in = a.h_in;
    sc.w_in = a.w_in;
    sc.h_out = last.h_out;
    sc.w_out = last.w_out;
    sc.in_width_index = a.in_width_index;
    sc.c_in = a.c_in;
    sc.batch_norm = true;
    sc.relu = false;
    sc.quantized = false;
    sc.in_pool = models::Pool{};
    sc.out_pool = models::Pool{};
    acc.net.layers.push_back(sc);
    acc.width_shortcut.push_back(true);
  }
  return acc;
}

namespace {

class Search {
 public:
  Search(const SearchConfig& config, const nn::Dataset& train, const nn::Dataset& test,
         const HardwareCosts& hw, SearchObserver* observer)
      : c_(config), train_(train), test_(test), hw_(hw), obs_(observer) {}

  SearchResult run();

 private:
  struct Trained {
    Candidate cand;
    std::shared_ptr<nn::Network> net;
  };
  void supernet_search(const models::Network& base);
  // Trains `widths` at `bits` (with the distillation teacher when `teacher` is set) and evaluates.
  Trained train_widths(const std::vector<int>& widths, const std::string& method,
                       const std::string& tag, int bits, const Trained* teacher);
  Candidate retrain(const std::vector<int>& widths, const std::string& method,
                    const std::string& tag);
  // The original network trained at `bits` (once; cached).
  const Trained& original_at(int bits);
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
  SearchResult result_;
  std::vector<int> derived_;
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
  t.epochs = c_.retrain_epochs;
  t.batch_size = c_.batch_size;
  t.lr = c_.lr;
  t.momentum = c_.momentum;
  t.nesterov = c_.nesterov;
  t.weight_decay = c_.weight_decay;
  t.augment = c_.augment;
  t.seed = c_.seed;
  t.max_batches = c_.max_batches;
  t.test_each_epoch = false;
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
       (bits != c_.supernet.weight_bits ? " at W" + std::to_string(bits) + "A" +
                                              std::to_string(bits)
                                        : std::string()) +
       (teacher ? ", distilled from the " + t.teacher_label : std::string()));
  RetrainObserver forward(obs_, widths);
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
    teacher = &original_at(c_.distill_teacher_bits ? c_.distill_teacher_bits
                                                   : c_.supernet.weight_bits);
  }
  if (c_.activation_analysis) {
    original_at(32);
    original_at(c_.supernet.weight_bits);
  }
  Trained t = train_widths(widths, method, tag, c_.supernet.weight_bits, teacher);
  if (obs_) obs_->on_candidate(t.cand);
  result_.candidates.push_back(t.cand);
  if (c_.activation_analysis) keep_for_analysis(t);
  return t.cand;
}

const Search::Trained& Search::original_at(int bits) {
  auto it = originals_.find(bits);
  if (it != originals_.end()) return it->second;
  const bool run_bits = bits == c_.supernet.weight_bits;
  Trained t = train_widths(base_widths_, "original", "original-w" + std::to_string(bits), bits,
                           nullptr);
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

void Search::supernet_search(const models::Network& base) {
  const bool nce = c_.method == "nce";
  std::mt19937_64 rng(c_.seed);
  ArchParams arch(base.widths, rng);
  SupernetOptions sopt = c_.supernet;
  sopt.max_candidates = nce ? c_.max_candidates : 8;
  Supernet net(base, arch, sopt, c_.seed + 1);
  nn::SgdOptions so;
  so.momentum = c_.momentum;
  so.nesterov = c_.nesterov;
  so.weight_decay = c_.weight_decay;
  nn::Sgd sgd(net.parameters(), so);
  ArchAdam adam{c_.arch_lr, c_.arch_beta1, c_.arch_beta2, 1e-8, c_.arch_weight_decay, 0, {}, {}};
  adam.fit(arch);

  const nn::DatasetSplit split = nn::split_per_class(train_, c_.seed);
  const nn::Normalization norm = nn::compute_normalization(train_);
  nn::BatchOptions bo;
  bo.batch_size = c_.batch_size;
  bo.augment = c_.augment;
  bo.drop_last = true;
  nn::Batcher weights_batches(split.first, norm, bo);
  nn::Batcher arch_batches(split.second, norm, bo);
  int steps = std::min(weights_batches.num_batches(), arch_batches.num_batches());
  if (c_.max_batches > 0) steps = std::min(steps, c_.max_batches);
  if (steps < 1) {
    throw std::invalid_argument("the training set is too small for --batch " +
                                std::to_string(c_.batch_size) + " after the 50/50 split");
  }
  const int total_epochs = c_.warmup_epochs + c_.search_epochs;
  const nn::CosineSchedule schedule(c_.lr, static_cast<std::int64_t>(total_epochs) * steps);

  // Cost terms. The accounting network is the base network plus, when count_width_shortcuts is
  // on, the 1x1 conv shortcut a stride-1 identity block gets in the derived network when its input
  // and output widths differ (models::build's rule); that layer costs nothing when they agree.
  const CostAccounting acc = cost_accounting(base, c_.count_width_shortcuts);
  const models::Network& cnet = acc.net;
  auto gate = [&acc](LayerCostFn f) { return acc.gate(std::move(f)); };
  struct Term {
    CostTerm cfg;
    LayerCostFn fn;
  };
  std::vector<Term> terms;
  if (c_.flops.lambda > 0) terms.push_back({c_.flops, gate(macs_cost(cnet))});
  if (c_.params.lambda > 0) terms.push_back({c_.params, gate(params_cost(cnet))});
  auto hw_fn = [&cnet](const HwLayerCostFn& f) -> LayerCostFn {
    return [&cnet, f](int l, int ci, int co) { return f(cnet.layers[l], ci, co); };
  };
  if (c_.latency.lambda > 0) terms.push_back({c_.latency, gate(hw_fn(hw_.latency_cycles))});
  if (c_.energy.lambda > 0) terms.push_back({c_.energy, gate(hw_fn(hw_.energy_pj))});
  std::vector<double> targets;
  for (const auto& t : terms) {
    targets.push_back(t.cfg.target_ratio * concrete_cost(cnet, base.widths, t.fn));
  }

  // Resume.
  int start_epoch = 0;
  const auto ident = identity(c_, train_);
  if (c_.resume) {
    std::ifstream exists(c_.checkpoint_path);
    if (exists.good()) {
      const nn::Checkpoint ck = nn::read_checkpoint(c_.checkpoint_path);
      nn::check_checkpoint_matches(ck, c_.checkpoint_path, c_.model, base.widths, ident);
      load_search_state(ck.history, c_.checkpoint_path, arch, adam, result_.epochs,
                        result_.candidates);
      // The supernet's state: parameters and BN statistics by name.
      std::map<std::string, const nn::StateBuffer*> saved;
      for (const auto& b : ck.network) saved[b.name] = &b;
      for (auto& t : net.state()) {
        auto it = saved.find(t.name);
        if (it == saved.end() || it->second->values.size() != t.tensor->size()) {
          throw std::runtime_error(c_.checkpoint_path + ": supernet tensor '" + t.name +
                                   "' missing or of another size");
        }
        std::copy(it->second->values.begin(), it->second->values.end(), t.tensor->data());
      }
      sgd.load_state(ck.optimizer);
      std::istringstream rs(ck.rng_state);
      rs >> rng;
      start_epoch = ck.epochs_done;
      result_.resumed = true;
      note("resumed after epoch " + std::to_string(start_epoch));
    }
  }

  nn::Tensor images, grad;
  std::vector<int> labels;
  for (int epoch = start_epoch; epoch < total_epochs; ++epoch) {
    if (c_.stop_after_epoch > 0 && epoch >= c_.stop_after_epoch) {
      result_.stopped_early = true;
      break;
    }
    const auto t0 = Clock::now();
    const bool warmup = epoch < c_.warmup_epochs;
    SearchEpoch rec;
    rec.epoch = epoch + 1;
    rec.phase = warmup ? "warmup" : "search";
    rec.tau =
        warmup ? c_.tau_max
               : tau_schedule(epoch - c_.warmup_epochs, c_.search_epochs, c_.tau_max, c_.tau_min);
    std::vector<std::vector<double>> ce_grad_sum(arch.num_layers());
    for (int w = 1; w <= arch.num_layers(); ++w) {
      ce_grad_sum[w - 1].assign(arch.layer(w).candidates.size(), 0.0);
    }
    weights_batches.start_epoch(rng);
    arch_batches.start_epoch(rng);
    double loss_sum = 0, arch_loss_sum = 0;
    std::int64_t correct = 0, seen = 0;
    for (int step = 0; step < steps; ++step) {
      // Weight step on D_w.
      std::vector<GumbelDraw> draws;
      for (int w = 1; w <= arch.num_layers(); ++w) {
        draws.push_back(
            warmup ? uniform_draw(static_cast<int>(arch.layer(w).candidates.size()), rec.tau, rng)
                   : gumbel_draw(arch.layer(w).alpha, rec.tau, rng));
      }
      weights_batches.next(images, labels);
      net.set_draws(draws);
      nn::Tensor probs;
      const nn::Tensor& logits = net.forward(images, nn::Mode::kTrain);
      const double loss = nn::softmax_cross_entropy(logits, labels.data(), &grad, &probs);
      if (!std::isfinite(loss)) {
        throw std::runtime_error("the search diverged (non-finite loss) in epoch " +
                                 std::to_string(epoch + 1));
      }
      for (int i = 0; i < probs.n(); ++i) {
        const float* row = probs.data() + static_cast<std::size_t>(i) * probs.c();
        correct += std::max_element(row, row + probs.c()) - row == labels[i];
      }
      seen += probs.n();
      loss_sum += loss;
      net.zero_grad();
      net.backward(grad, true);
      rec.lr = schedule.at(static_cast<std::int64_t>(epoch) * steps + step);
      sgd.step(static_cast<float>(rec.lr));
      if (obs_) obs_->on_batch(epoch + 1, step + 1, steps);
      if (warmup) continue;
      // Architecture step on D_a.
      draws.clear();
      for (int w = 1; w <= arch.num_layers(); ++w) {
        draws.push_back(gumbel_draw(arch.layer(w).alpha, rec.tau, rng));
      }
      arch_batches.next(images, labels);
      net.set_draws(draws);
      const nn::Tensor& alogits = net.forward(images, nn::Mode::kTrain);
      arch_loss_sum += nn::softmax_cross_entropy(alogits, labels.data(), &grad);
      net.backward(grad, false);
      std::vector<std::vector<double>> agrad = net.alpha_grads();
      for (int w = 0; w < arch.num_layers(); ++w) {
        for (size_t i = 0; i < agrad[w].size(); ++i) ce_grad_sum[w][i] += agrad[w][i];
      }
      if (!terms.empty()) {
        const std::vector<int> argmax = arch.derive(base.widths[0]);
        const std::vector<int> widest = arch.max_widths(base.widths[0]);
        for (size_t t = 0; t < terms.size(); ++t) {
          const ExpectedCost e = expected_cost(cnet, arch, terms[t].fn);
          const double f = concrete_cost(cnet, argmax, terms[t].fn);
          const double rmax = concrete_cost(cnet, widest, terms[t].fn);
          const CostLoss cl = tas_cost_loss(e.value, f, targets[t], rmax, c_.tolerance);
          if (cl.direction == 0) continue;
          const double scale = terms[t].cfg.lambda * cl.grad_expected;
          for (int w = 0; w < arch.num_layers(); ++w) {
            for (size_t i = 0; i < agrad[w].size(); ++i) agrad[w][i] += scale * e.grad_alpha[w][i];
          }
        }
      }
      adam.step(arch, agrad);
    }
    rec.loss = loss_sum / steps;
    rec.top1 =
        100.0 * static_cast<double>(correct) / static_cast<double>(std::max<std::int64_t>(seen, 1));
    rec.arch_loss = warmup ? 0 : arch_loss_sum / steps;
    for (int w = 1; w <= arch.num_layers(); ++w) {
      rec.probabilities.push_back(arch.probabilities(w));
      std::vector<double> mean = ce_grad_sum[w - 1];
      for (double& g : mean) g /= steps;
      std::vector<double> widths(arch.layer(w).candidates.begin(), arch.layer(w).candidates.end());
      std::vector<double> pull(mean.size());
      for (size_t i = 0; i < mean.size(); ++i) pull[i] = -mean[i];
      rec.kendall.push_back(warmup ? 0.0 : kendall_tau(widths, pull));
      rec.ce_alpha_grad.push_back(std::move(mean));
    }
    if (!warmup) {
      derived_ = arch.derive(base.widths[0]);
      result_.candidates.push_back(derive_candidate(derived_, epoch + 1));
      if (nce) {
        nn::OptimizerState state = sgd.state();
        bool grown = false;
        for (int w = 1; w <= arch.num_layers(); ++w) {
          const int old_max = arch.layer(w).candidates.back();
          if (arch.maybe_expand(w, c_.threshold, sopt.max_candidates)) {
            net.on_expanded(w, old_max, rng, &state);
            rec.expanded.push_back(w);
            grown = true;
          }
        }
        if (grown) {
          sgd.load_state(state);
          adam.fit(arch);
        }
      }
    }
    rec.seconds = seconds_since(t0);
    result_.epochs.push_back(rec);
    if (obs_) {
      obs_->on_epoch(rec, total_epochs);
      if (!warmup) obs_->on_candidate(result_.candidates.back());
    }
    if (!c_.checkpoint_path.empty()) {
      nn::Checkpoint ck;
      ck.model = c_.model;
      ck.widths = base.widths;
      ck.options = ident;
      ck.epochs_done = epoch + 1;
      std::ostringstream rs;
      rs << rng;
      ck.rng_state = rs.str();
      ck.history = save_search_state(arch, adam, result_.epochs, result_.candidates);
      for (auto& t : net.state()) {
        ck.network.push_back(
            {t.name, std::vector<float>(t.tensor->data(), t.tensor->data() + t.tensor->size())});
      }
      ck.optimizer = sgd.state();
      nn::write_checkpoint(c_.checkpoint_path, ck);
    }
  }
  if (derived_.empty()) derived_ = arch.derive(base.widths[0]);
}

SearchResult Search::run() {
  validate(c_);
  const auto t0 = Clock::now();
  const models::InputShape input = input_of(train_);
  std::vector<int> base_widths =
      c_.widths.empty() ? models::default_widths(c_.model, input.channels) : c_.widths;
  if (c_.base_multiplier != 1.0)
    base_widths = models::scale_widths(base_widths, c_.base_multiplier);
  const models::Network base = models::build(c_.model, base_widths, input);
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

  if (c_.method == "nce" || c_.method == "tas") {
    note(c_.method + " search: " + std::to_string(c_.warmup_epochs) + " warm-up + " +
         std::to_string(c_.search_epochs) + " search epochs");
    supernet_search(base);
    result_.final = derive_candidate(derived_, c_.warmup_epochs + c_.search_epochs);
    result_.final.phase = "final";
    if (c_.retrain && !result_.stopped_early) result_.final = retrain(derived_, c_.method, "final");
  } else if (c_.method == "none" && c_.activation_analysis) {
    original_at(32);
    result_.final = original_at(c_.supernet.weight_bits).cand;
  } else if (c_.method == "none") {
    result_.final = c_.retrain ? retrain(base.widths, "original", "original") : result_.original;
  } else if (c_.method == "wrpn") {
    for (double m : c_.wrpn_multipliers) {
      const std::vector<int> widths = models::scale_widths(base.widths, m);
      Candidate cand =
          c_.retrain ? retrain(widths, "wrpn", "wrpn-" + num(m)) : derive_candidate(widths, 0);
      if (result_.final.widths.empty() || cand.top1 > result_.final.top1) result_.final = cand;
    }
  } else {  // random
    std::mt19937_64 rng(c_.seed);
    std::mt19937_64 arch_rng(c_.seed);
    const ArchParams arch(base.widths, arch_rng);
    const double budget = static_cast<double>(base.macs()) * c_.flops.target_ratio;
    for (int k = 0; k < c_.random_samples; ++k) {
      std::vector<int> widths;
      for (int attempt = 0; attempt < 1000; ++attempt) {
        widths = {base.widths[0]};
        for (const auto& l : arch.layers()) {
          widths.push_back(l.candidates[nn::uniform_below(rng, l.candidates.size())]);
        }
        if (models::build(c_.model, widths, input).macs() <= budget) break;
      }
      Candidate cand = c_.retrain ? retrain(widths, "random", "random-" + std::to_string(k + 1))
                                  : derive_candidate(widths, 0);
      if (result_.final.widths.empty() || cand.top1 > result_.final.top1) result_.final = cand;
    }
  }
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

SearchResult run_search(const SearchConfig& config, const nn::Dataset& train,
                        const nn::Dataset& test, const HardwareCosts& hw,
                        SearchObserver* observer) {
  Search search(config, train, test, hw, observer);
  return search.run();
}

}  // namespace nce::search
