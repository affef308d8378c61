#include "nce/search/supernet_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "nce/nn/checkpoint.h"
#include "nce/nn/loss.h"
#include "nce/nn/trainer.h"
#include "nce/search/kendall.h"
#include "nce/search/search_checkpoint.h"

namespace nce::search {

namespace {

using Clock = std::chrono::steady_clock;

models::InputShape input_of(const nn::Dataset& d) {
  return models::InputShape{d.channels, d.height, d.width, d.num_classes};
}

}  // namespace

struct SupernetSearch::CostTermFn {
  CostTerm cfg;
  LayerCostFn fn;
};

SupernetSearch::SupernetSearch(const SearchConfig& config, const models::Network& base,
                               const nn::Dataset& train, const HardwareCosts& hw,
                               SearchObserver* observer)
    : c_(config),
      base_(base),
      train_(train),
      hw_(hw),
      obs_(observer),
      nce_(config.method == "nce"),
      rng_(config.seed),
      arch_(base.widths, rng_),
      sopt_(config.supernet),
      adam_(config.arch_lr, config.arch_beta1, config.arch_beta2, config.arch_weight_decay),
      acc_(cost_accounting(base, config.count_width_shortcuts)) {
  sopt_.max_candidates = nce_ ? c_.max_candidates : 8;
  net_ = std::make_unique<Supernet>(base, arch_, sopt_, c_.seed + 1);
  nn::SgdOptions so;
  so.momentum = c_.momentum;
  so.nesterov = c_.nesterov;
  so.weight_decay = c_.weight_decay;
  sgd_ = std::make_unique<nn::Sgd>(net_->parameters(), so);
  adam_.fit(arch_);
  // Cost terms. The accounting network is the base network plus, when count_width_shortcuts is
  // on, the 1x1 conv shortcut a stride-1 identity block gets in the derived network when its input
  // and output widths differ (models::width_shortcut); that layer costs nothing when they agree.
  const models::Network& cnet = acc_.net;
  auto gate = [this](LayerCostFn f) { return acc_.gate(std::move(f)); };
  auto hw_fn = [&cnet](const HwLayerCostFn& f) -> LayerCostFn {
    return [&cnet, f](int l, int ci, int co) { return f(cnet.layers[l], ci, co); };
  };
  if (c_.flops.lambda > 0) terms_.push_back({c_.flops, gate(macs_cost(cnet))});
  if (c_.params.lambda > 0) terms_.push_back({c_.params, gate(params_cost(cnet))});
  if (c_.latency.lambda > 0) terms_.push_back({c_.latency, gate(hw_fn(hw_.latency_cycles))});
  if (c_.energy.lambda > 0) terms_.push_back({c_.energy, gate(hw_fn(hw_.energy_pj))});
  for (const auto& t : terms_) {
    targets_.push_back(t.cfg.target_ratio * concrete_cost(cnet, base.widths, t.fn));
  }
}

SupernetSearch::~SupernetSearch() = default;

int SupernetSearch::resume(SearchResult& result) {
  if (!c_.resume) return 0;
  std::ifstream exists(c_.checkpoint_path);
  if (!exists.good()) return 0;
  const nn::Checkpoint ck = nn::read_checkpoint(c_.checkpoint_path);
  nn::check_checkpoint_matches(ck, c_.checkpoint_path, c_.model, base_.widths,
                               search_identity(c_, train_));
  read_search_history(ck.history, c_.checkpoint_path, arch_, adam_, result.epochs,
                      result.candidates, sopt_.max_candidates);
  // The supernet's state: parameters and BN statistics by name.
  std::map<std::string, const nn::StateBuffer*> saved;
  for (const auto& b : ck.network) saved[b.name] = &b;
  for (auto& t : net_->state()) {
    auto it = saved.find(t.name);
    if (it == saved.end() || it->second->values.size() != t.tensor->size()) {
      throw std::runtime_error(c_.checkpoint_path + ": supernet tensor '" + t.name +
                               "' missing or of another size");
    }
    std::copy(it->second->values.begin(), it->second->values.end(), t.tensor->data());
  }
  sgd_->load_state(ck.optimizer);
  std::istringstream rs(ck.rng_state);
  rs >> rng_;
  result.resumed = true;
  if (obs_) obs_->on_phase("resumed after epoch " + std::to_string(ck.epochs_done));
  return ck.epochs_done;
}

void SupernetSearch::weight_step(const nn::Tensor& images, const std::vector<int>& labels,
                                 double tau, bool warmup, float lr, double& loss,
                                 std::int64_t& correct) {
  std::vector<GumbelDraw> draws;
  for (int w = 1; w <= arch_.num_layers(); ++w) {
    draws.push_back(
        warmup ? uniform_draw(static_cast<int>(arch_.layer(w).candidates.size()), tau, rng_)
               : gumbel_draw(arch_.layer(w).alpha, tau, rng_));
  }
  net_->set_draws(draws);
  const nn::Tensor& logits = net_->forward(images, nn::Mode::kTrain);
  loss = nn::softmax_cross_entropy(logits, labels.data(), &grad_, &probs_);
  if (!std::isfinite(loss)) {
    throw nn::DivergedError("the search diverged (non-finite loss)");
  }
  for (int i = 0; i < probs_.n(); ++i) {
    const float* row = probs_.data() + static_cast<std::size_t>(i) * probs_.c();
    correct += std::max_element(row, row + probs_.c()) - row == labels[i];
  }
  net_->zero_grad();
  net_->backward(grad_, true);
  sgd_->step(lr);
}

double SupernetSearch::arch_step(const nn::Tensor& images, const std::vector<int>& labels,
                                 double tau, std::vector<std::vector<double>>& ce_grad_sum) {
  std::vector<GumbelDraw> draws;
  for (int w = 1; w <= arch_.num_layers(); ++w) {
    draws.push_back(gumbel_draw(arch_.layer(w).alpha, tau, rng_));
  }
  net_->set_draws(draws);
  const nn::Tensor& logits = net_->forward(images, nn::Mode::kTrain);
  const double loss = nn::softmax_cross_entropy(logits, labels.data(), &grad_);
  net_->backward(grad_, false);
  std::vector<std::vector<double>> agrad = net_->alpha_grads();
  for (int w = 0; w < arch_.num_layers(); ++w) {
    for (size_t i = 0; i < agrad[w].size(); ++i) ce_grad_sum[w][i] += agrad[w][i];
  }
  if (!terms_.empty()) {
    const models::Network& cnet = acc_.net;
    const std::vector<int> argmax = arch_.derive(base_.widths[0]);
    const std::vector<int> widest = arch_.max_widths(base_.widths[0]);
    for (size_t t = 0; t < terms_.size(); ++t) {
      const ExpectedCost e = expected_cost(cnet, arch_, terms_[t].fn);
      const double f = concrete_cost(cnet, argmax, terms_[t].fn);
      const double rmax = concrete_cost(cnet, widest, terms_[t].fn);
      const CostLoss cl = tas_cost_loss(e.value, f, targets_[t], rmax, c_.tolerance);
      if (cl.direction == 0) continue;
      const double scale = terms_[t].cfg.lambda * cl.grad_expected;
      for (int w = 0; w < arch_.num_layers(); ++w) {
        for (size_t i = 0; i < agrad[w].size(); ++i) agrad[w][i] += scale * e.grad_alpha[w][i];
      }
    }
  }
  adam_.step(arch_, agrad);
  return loss;
}

void SupernetSearch::end_of_search_epoch(int epoch, SearchEpoch& rec, SearchResult& result) {
  derived_ = arch_.derive(base_.widths[0]);
  const models::Network net = models::build(c_.model, derived_, input_of(train_));
  Candidate cand = cost_candidate(net, hw_);
  cand.method = c_.method;
  cand.epoch = epoch + 1;
  cand.phase = "search";
  result.candidates.push_back(cand);
  if (!nce_) return;
  nn::OptimizerState state = sgd_->state();
  bool grown = false;
  for (int w = 1; w <= arch_.num_layers(); ++w) {
    const int old_max = arch_.layer(w).candidates.back();
    if (arch_.maybe_expand(w, c_.threshold, sopt_.max_candidates)) {
      net_->on_expanded(w, old_max, rng_, &state);
      rec.expanded.push_back(w);
      grown = true;
    }
  }
  if (grown) {
    sgd_->load_state(state);
    adam_.fit(arch_);
  }
}

void SupernetSearch::save(int epochs_done, const SearchResult& result) {
  nn::Checkpoint ck;
  ck.model = c_.model;
  ck.widths = base_.widths;
  ck.options = search_identity(c_, train_);
  ck.epochs_done = epochs_done;
  std::ostringstream rs;
  rs << rng_;
  ck.rng_state = rs.str();
  ck.history = write_search_history(arch_, adam_, result.epochs, result.candidates);
  for (auto& t : net_->state()) {
    ck.network.push_back(
        {t.name, std::vector<float>(t.tensor->data(), t.tensor->data() + t.tensor->size())});
  }
  ck.optimizer = sgd_->state();
  // Only the part of the allocation in use is kept (the rest deflates to nothing).
  net_->zero_unused(ck.network);
  net_->zero_unused(ck.optimizer.buffers);
  nn::write_checkpoint(c_.checkpoint_path, ck);
}

std::vector<int> SupernetSearch::run(SearchResult& result) {
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
  const int start_epoch = resume(result);

  nn::Tensor images;
  std::vector<int> labels;
  for (int epoch = start_epoch; epoch < total_epochs; ++epoch) {
    if (c_.stop_after_epoch > 0 && epoch >= c_.stop_after_epoch) {
      result.stopped_early = true;
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
    std::vector<std::vector<double>> ce_grad_sum(arch_.num_layers());
    for (int w = 1; w <= arch_.num_layers(); ++w) {
      ce_grad_sum[w - 1].assign(arch_.layer(w).candidates.size(), 0.0);
    }
    weights_batches.start_epoch(rng_);
    arch_batches.start_epoch(rng_);
    double loss_sum = 0, arch_loss_sum = 0;
    std::int64_t correct = 0, seen = 0;
    for (int step = 0; step < steps; ++step) {
      weights_batches.next(images, labels);
      rec.lr = schedule.at(static_cast<std::int64_t>(epoch) * steps + step);
      double loss = 0;
      try {
        weight_step(images, labels, rec.tau, warmup, static_cast<float>(rec.lr), loss, correct);
      } catch (const nn::DivergedError& e) {
        throw nn::DivergedError(std::string(e.what()) + " in epoch " + std::to_string(epoch + 1));
      }
      seen += static_cast<std::int64_t>(labels.size());
      loss_sum += loss;
      if (obs_) obs_->on_batch(epoch + 1, step + 1, steps);
      if (warmup) continue;
      arch_batches.next(images, labels);
      arch_loss_sum += arch_step(images, labels, rec.tau, ce_grad_sum);
    }
    rec.loss = loss_sum / steps;
    rec.top1 =
        100.0 * static_cast<double>(correct) / static_cast<double>(std::max<std::int64_t>(seen, 1));
    rec.arch_loss = warmup ? 0 : arch_loss_sum / steps;
    for (int w = 1; w <= arch_.num_layers(); ++w) {
      rec.probabilities.push_back(arch_.probabilities(w));
      std::vector<double> mean = ce_grad_sum[w - 1];
      for (double& g : mean) g /= steps;
      std::vector<double> widths(arch_.layer(w).candidates.begin(),
                                 arch_.layer(w).candidates.end());
      std::vector<double> pull(mean.size());
      for (size_t i = 0; i < mean.size(); ++i) pull[i] = -mean[i];
      rec.kendall.push_back(warmup ? 0.0 : kendall_tau(widths, pull));
      rec.ce_alpha_grad.push_back(std::move(mean));
    }
    if (!warmup) end_of_search_epoch(epoch, rec, result);
    rec.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    result.epochs.push_back(rec);
    if (obs_) {
      obs_->on_epoch(rec, total_epochs);
      if (!warmup) obs_->on_candidate(result.candidates.back());
    }
    if (!c_.checkpoint_path.empty()) save(epoch + 1, result);
  }
  if (derived_.empty()) derived_ = arch_.derive(base_.widths[0]);
  return derived_;
}

}  // namespace nce::search
