#include "nce/nn/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "nce/nn/checkpoint.h"
#include "nce/nn/loss.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/schedule.h"

namespace nce::nn {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The data generator is seeded apart from the network's initialization.
constexpr std::uint64_t kDataSeedSalt = 0x9e3779b97f4a7c15ULL;

double parse_double(const std::string& token, const std::string& path) {
  // strtod accepts "nan" as printed by %.17g.
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0') {
    throw std::runtime_error(path + ": malformed history entry '" + token + "' in checkpoint");
  }
  return v;
}

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& config, Network& net) {
  if (config.optimizer == "sgd") {
    SgdOptions o;
    o.momentum = config.momentum;
    o.nesterov = config.nesterov;
    o.weight_decay = config.weight_decay;
    return std::make_unique<Sgd>(net.parameters(), o);
  }
  AdamOptions o;
  o.beta1 = config.adam_beta1;
  o.beta2 = config.adam_beta2;
  o.eps = config.adam_eps;
  o.weight_decay = config.weight_decay;
  return std::make_unique<Adam>(net.parameters(), o);
}

std::vector<StateBuffer> save_network(Network& net) {
  std::vector<StateBuffer> out;
  for (const auto& named : net.state()) {
    const Tensor& t = *named.tensor;
    out.push_back({named.name, std::vector<float>(t.data(), t.data() + t.size())});
  }
  return out;
}

void load_network(Network& net, const std::vector<StateBuffer>& saved, const std::string& path) {
  auto state = net.state();
  if (state.size() != saved.size()) {
    throw std::runtime_error(path + ": checkpoint holds " + std::to_string(saved.size()) +
                             " network tensors, this network has " + std::to_string(state.size()));
  }
  for (std::size_t i = 0; i < state.size(); ++i) {
    Tensor& t = *state[i].tensor;
    if (saved[i].name != state[i].name) {
      throw std::runtime_error(path + ": checkpoint tensor " + std::to_string(i) + " is '" +
                               saved[i].name + "', this network has '" + state[i].name + "'");
    }
    if (saved[i].values.size() != t.size()) {
      throw std::runtime_error(path + ": checkpoint tensor '" + saved[i].name + "' has " +
                               std::to_string(saved[i].values.size()) + " values, want " +
                               std::to_string(t.size()));
    }
    std::copy(saved[i].values.begin(), saved[i].values.end(), t.data());
  }
}

std::vector<float> inverse(const std::vector<float>& stddev) {
  std::vector<float> out(stddev.size());
  for (std::size_t c = 0; c < out.size(); ++c) out[c] = 1.0f / stddev[c];
  return out;
}

}  // namespace

bool count_hits(const float* logits, int classes, int label, int* top1, int* top5) {
  for (int k = 0; k < classes; ++k) {
    if (!std::isfinite(logits[k])) return false;
  }
  const float target = logits[label];
  int rank = 0;
  for (int k = 0; k < classes; ++k) rank += k != label && logits[k] >= target;
  *top1 += rank == 0;
  *top5 += rank < 5;
  return true;
}

std::string history_to_text(const std::vector<EpochStats>& history) {
  std::ostringstream out;
  for (const auto& e : history) {
    char line[512];
    std::snprintf(line, sizeof line, "%d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n",
                  e.epoch, e.loss, e.top1, e.lr, e.seconds, e.images_per_s, e.test_loss,
                  e.test_top1, e.test_top5);
    out << line;
  }
  return out.str();
}

std::vector<EpochStats> history_from_text(const std::string& text, const std::string& path) {
  std::vector<EpochStats> history;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> tokens;
    for (std::string t; fields >> t;) tokens.push_back(t);
    if (tokens.size() != 9) {
      throw std::runtime_error(path + ": malformed history line '" + line + "' in checkpoint");
    }
    // Epochs are numbered 1, 2, ... in order (a number out of int's range would be undefined to
    // convert, a gap or a repeat is no history this trainer wrote).
    EpochStats e;
    e.epoch = static_cast<int>(history.size()) + 1;
    if (tokens[0] != std::to_string(e.epoch)) {
      throw std::runtime_error(path + ": history line " + std::to_string(e.epoch) +
                               " is of epoch '" + tokens[0] + "', want " + std::to_string(e.epoch) +
                               " (in checkpoint)");
    }
    double* fields_out[] = {&e.loss,         &e.top1,      &e.lr,        &e.seconds,
                            &e.images_per_s, &e.test_loss, &e.test_top1, &e.test_top5};
    for (int i = 0; i < 8; ++i) *fields_out[i] = parse_double(tokens[i + 1], path);
    history.push_back(e);
  }
  return history;
}

void validate(const TrainConfig& c) {
  auto bad = [](const std::string& field, const std::string& value, const std::string& why) {
    throw std::invalid_argument("train: " + field + " = " + value + ": " + why);
  };
  if (c.epochs < 1) bad("epochs", std::to_string(c.epochs), "must be >= 1");
  if (c.batch_size < 1) bad("batch", std::to_string(c.batch_size), "must be >= 1");
  if (c.optimizer != "sgd" && c.optimizer != "adam")
    bad("optimizer", c.optimizer, "want sgd or adam");
  if (!(c.lr > 0.0) || !std::isfinite(c.lr)) bad("lr", num(c.lr), "must be > 0");
  if (!(c.final_lr >= 0.0) || c.final_lr > c.lr)
    bad("final_lr", num(c.final_lr), "must be in [0, lr]");
  if (c.warmup_epochs < 0 || c.warmup_epochs > c.epochs) {
    bad("warmup_epochs", std::to_string(c.warmup_epochs), "must be in [0, epochs]");
  }
  if (c.momentum < 0.0f || c.momentum >= 1.0f)
    bad("momentum", num(c.momentum), "must be in [0, 1)");
  if (c.weight_decay < 0.0f) bad("weight_decay", num(c.weight_decay), "must be >= 0");
  if (c.max_batches < 0) bad("max_batches", std::to_string(c.max_batches), "must be >= 0");
  if (c.eval_batch_size < 1)
    bad("eval_batch_size", std::to_string(c.eval_batch_size), "must be >= 1");
  if (c.stop_after_epoch < 0)
    bad("stop_after_epoch", std::to_string(c.stop_after_epoch), "must be >= 0");
  if (c.resume && c.checkpoint_path.empty()) bad("resume", "true", "needs a checkpoint path");
  if (c.teacher) {
    if (!(c.distill_temperature > 0.0f))
      bad("distill_temperature", num(c.distill_temperature), "must be > 0");
    if (!(c.distill_weight >= 0.0f && c.distill_weight <= 1.0f))
      bad("distill_weight", num(c.distill_weight), "must be in [0, 1]");
  }
  nce::nn::validate(c.network);
}

std::vector<std::pair<std::string, std::string>> checkpoint_identity(const TrainConfig& c,
                                                                     const Dataset& train_set) {
  const NetworkOptions& n = c.network;
  std::vector<std::pair<std::string, std::string>> id = {
      {"dataset", c.dataset},
      {"train_images", std::to_string(train_set.size())},
      {"input", std::to_string(train_set.channels) + "x" + std::to_string(train_set.height) + "x" +
                    std::to_string(train_set.width)},
      {"weight_bits", std::to_string(n.weight_bits)},
      {"activation_bits", std::to_string(n.activation_bits)},
      {"quantizer", to_string(n.quantizer)},
      {"pact_init_clip", num(n.pact_init_clip)},
      {"pact_clip_l2", num(n.pact_clip_l2)},
      {"bn_momentum", num(n.bn_momentum)},
      {"bn_eps", num(n.bn_eps)},
      {"quantize_all_layers", n.quantize_all_layers ? "1" : "0"},
      {"epochs", std::to_string(c.epochs)},
      {"batch", std::to_string(c.batch_size)},
      {"optimizer", c.optimizer},
      {"lr", num(c.lr)},
      {"final_lr", num(c.final_lr)},
      {"warmup_epochs", std::to_string(c.warmup_epochs)},
      {"momentum", num(c.momentum)},
      {"nesterov", c.nesterov ? "1" : "0"},
      {"weight_decay", num(c.weight_decay)},
      {"adam", num(c.adam_beta1) + "," + num(c.adam_beta2) + "," + num(c.adam_eps)},
      {"augment", c.augment ? "1" : "0"},
      {"seed", std::to_string(c.seed)},
      {"max_batches", std::to_string(c.max_batches)},
  };
  // Only when set, so that the checkpoints of earlier runs keep their identity.
  if (n.int8_full_precision) id.emplace_back("int8_full_precision", "1");
  if (c.teacher) {
    id.emplace_back("distill", c.teacher_label + " T=" + num(c.distill_temperature) +
                                   " weight=" + num(c.distill_weight));
  }
  return id;
}

std::unique_ptr<Network> network_from_checkpoint(const Checkpoint& ck, const std::string& path,
                                                 const Normalization& norm) {
  std::map<std::string, std::string> opt(ck.options.begin(), ck.options.end());
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = opt.find(key);
    if (it == opt.end()) throw std::runtime_error(path + ": checkpoint has no option '" + key + "'");
    return it->second;
  };
  auto number = [&](const std::string& key) {
    const std::string& v = get(key);
    try {
      std::size_t used = 0;
      const double x = std::stod(v, &used);
      if (used == v.size()) return x;
    } catch (const std::exception&) {
    }
    throw std::runtime_error(path + ": checkpoint option '" + key + "' = '" + v +
                             "' is not a number");
  };
  NetworkOptions o;
  o.weight_bits = static_cast<int>(number("weight_bits"));
  o.activation_bits = static_cast<int>(number("activation_bits"));
  o.bn_eps = static_cast<float>(number("bn_eps"));
  o.quantize_all_layers = get("quantize_all_layers") == "1";
  o.int8_full_precision = opt.count("int8_full_precision") && opt["int8_full_precision"] == "1";
  models::InputShape input;
  input.num_classes = 10;  // the data sets nce trains on (the exporter assumes the same)
  char x1 = 0, x2 = 0;
  std::istringstream in(get("input"));
  if (!(in >> input.channels >> x1 >> input.height >> x2 >> input.width) || x1 != 'x' || x2 != 'x')
    throw std::runtime_error(path + ": checkpoint option 'input' = '" + get("input") +
                             "' is not CxHxW");
  std::unique_ptr<Network> net;
  try {
    o.quantizer = parse_quantizer(get("quantizer"));
    const models::Network desc = models::build(ck.model, ck.widths, input);
    net = std::make_unique<Network>(desc, o, 0);
    net->set_input_scale(inverse(norm.stddev));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  load_network(*net, ck.network, path);
  return net;
}

EvalStats evaluate(Network& net, const Dataset& data, const Normalization& norm, int batch_size) {
  Batcher batcher(data, norm, BatchOptions{batch_size, false, false, 0, false});
  std::mt19937_64 unused(0);
  batcher.start_epoch(unused);
  Tensor images;
  std::vector<int> labels;
  double loss_sum = 0.0;
  int top1 = 0, top5 = 0, count = 0;
  while (batcher.next(images, labels)) {
    const Tensor& logits = net.forward(images, Mode::kEval);
    const float loss = softmax_cross_entropy(logits, labels.data(), nullptr);
    loss_sum += static_cast<double>(loss) * images.n();
    bool finite = std::isfinite(loss);
    for (int i = 0; i < images.n(); ++i) {
      finite &= count_hits(logits.data() + static_cast<std::size_t>(i) * logits.c(), logits.c(),
                           labels[i], &top1, &top5);
    }
    if (!finite) {
      throw DivergedError(data.source + ": evaluation loss is " + num(loss) +
                          " (non-finite logits: the network diverged; try a lower --lr)");
    }
    count += images.n();
  }
  EvalStats stats;
  stats.images = count;
  if (count > 0) {
    stats.loss = loss_sum / count;
    stats.top1 = 100.0 * top1 / count;
    stats.top5 = 100.0 * top5 / count;
  }
  return stats;
}

namespace {

// The configuration and the data sets fit together (before anything is built).
void check_train_inputs(const TrainConfig& config, const Dataset& train_set,
                        const Dataset& test_set) {
  validate(config);
  if (train_set.size() == 0) throw std::invalid_argument(train_set.source + ": no training images");
  if (test_set.channels != train_set.channels || test_set.height != train_set.height ||
      test_set.width != train_set.width || test_set.num_classes != train_set.num_classes) {
    throw std::invalid_argument(test_set.source + ": test images differ in shape or classes from " +
                                train_set.source);
  }
}

void check_teacher(const TrainConfig& config, const models::InputShape& input) {
  if (!config.teacher) return;
  const models::InputShape& t = config.teacher->description().input;
  if (t.channels != input.channels || t.height != input.height || t.width != input.width ||
      t.num_classes != input.num_classes) {
    throw std::invalid_argument("train: the distillation teacher (" + config.teacher_label +
                                ") takes other images or classes than the data");
  }
}

// Loads the network, optimizer, generator and history of a run's checkpoint; returns its epochs.
int resume_training(const TrainConfig& config, const std::vector<int>& widths,
                    const std::vector<std::pair<std::string, std::string>>& identity, Network& net,
                    Optimizer& optimizer, std::mt19937_64& rng, TrainResult& result) {
  const Checkpoint ck = read_checkpoint(config.checkpoint_path);
  check_checkpoint_matches(ck, config.checkpoint_path, config.model, widths, identity);
  if (ck.epochs_done > config.epochs) {
    throw std::runtime_error(config.checkpoint_path + ": checkpoint is at epoch " +
                             std::to_string(ck.epochs_done) + " of a run of " +
                             std::to_string(config.epochs));
  }
  load_network(net, ck.network, config.checkpoint_path);
  try {
    optimizer.load_state(ck.optimizer);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(config.checkpoint_path + ": " + e.what());
  }
  std::istringstream rng_text(ck.rng_state);
  rng_text >> rng;
  if (!rng_text) throw std::runtime_error(config.checkpoint_path + ": malformed generator state");
  result.history = history_from_text(ck.history, config.checkpoint_path);
  if (static_cast<int>(result.history.size()) != ck.epochs_done) {
    throw std::runtime_error(config.checkpoint_path + ": history has " +
                             std::to_string(result.history.size()) + " epochs, checkpoint says " +
                             std::to_string(ck.epochs_done));
  }
  return ck.epochs_done;
}

void save_training(const TrainConfig& config, const std::vector<int>& widths,
                   const std::vector<std::pair<std::string, std::string>>& identity,
                   int epochs_done, const std::mt19937_64& rng, const TrainResult& result,
                   Network& net, const Optimizer& optimizer) {
  Checkpoint ck;
  ck.model = config.model;
  ck.widths = widths;
  ck.options = identity;
  ck.epochs_done = epochs_done;
  std::ostringstream rng_text;
  rng_text << rng;
  ck.rng_state = rng_text.str();
  ck.history = history_to_text(result.history);
  ck.network = save_network(net);
  ck.optimizer = optimizer.state();
  write_checkpoint(config.checkpoint_path, ck);
}

// The test of a finished run: its last epoch's, or a new evaluation when that epoch ran no test
// (or ran before a resume).
EvalStats final_test(const TrainConfig& config, int start_epoch, const TrainResult& result,
                     Network& net, const Dataset& test_set, const Normalization& norm) {
  const bool have_last = !result.history.empty() && result.history.back().epoch == config.epochs &&
                         !std::isnan(result.history.back().test_top1) &&
                         start_epoch < config.epochs;
  if (!have_last) return evaluate(net, test_set, norm, config.eval_batch_size);
  const auto& last = result.history.back();
  return EvalStats{last.test_loss, last.test_top1, last.test_top5, test_set.size()};
}

}  // namespace

TrainResult train(const TrainConfig& config, const Dataset& train_set, const Dataset& test_set,
                  TrainObserver* observer) {
  const auto started = Clock::now();
  check_train_inputs(config, train_set, test_set);

  models::InputShape input{train_set.channels, train_set.height, train_set.width,
                           train_set.num_classes};
  const std::vector<int> widths = config.widths.empty()
                                      ? models::default_widths(config.model, train_set.channels)
                                      : config.widths;
  const models::Network description = models::build(config.model, widths, input);
  check_teacher(config, input);
  auto net_ptr = std::make_shared<Network>(description, config.network, config.seed);
  Network& net = *net_ptr;
  auto optimizer = make_optimizer(config, net);

  const Normalization norm = compute_normalization(train_set);
  net.set_input_scale(inverse(norm.stddev));  // the stem's 8-bit rule: normalization folded in
  BatchOptions batch_options;
  batch_options.batch_size = config.batch_size;
  batch_options.shuffle = true;
  batch_options.augment = config.augment;
  Batcher batcher(train_set, norm, batch_options);
  const int steps_per_epoch = config.max_batches > 0
                                  ? std::min(config.max_batches, batcher.num_batches())
                                  : batcher.num_batches();
  const CosineSchedule schedule(
      config.lr, static_cast<std::int64_t>(steps_per_epoch) * config.epochs,
      static_cast<std::int64_t>(steps_per_epoch) * config.warmup_epochs, config.final_lr);
  std::mt19937_64 rng(config.seed ^ kDataSeedSalt);

  TrainResult result;
  result.widths = widths;
  result.macs = description.macs();
  for (const auto& p : net.parameters())
    result.parameters += static_cast<std::int64_t>(p.value->size());

  const auto identity = checkpoint_identity(config, train_set);
  int start_epoch = 0;
  if (config.resume)
    start_epoch = resume_training(config, widths, identity, net, *optimizer, rng, result);
  result.resumed_from = start_epoch;
  if (observer) observer->on_start(config, description, start_epoch);

  const int last_epoch = config.stop_after_epoch > 0
                             ? std::min(config.stop_after_epoch, config.epochs)
                             : config.epochs;
  Tensor images, grad_logits;
  std::vector<int> labels;
  double epoch_seconds_sum = 0.0;
  int epochs_timed = 0;
  for (int epoch = start_epoch; epoch < last_epoch; ++epoch) {
    const auto epoch_start = Clock::now();
    batcher.start_epoch(rng);
    double loss_sum = 0.0;
    int correct = 0, seen = 0, top5_unused = 0;
    double lr = 0.0;
    for (int b = 0; b < steps_per_epoch; ++b) {
      if (!batcher.next(images, labels)) break;
      const std::int64_t step = static_cast<std::int64_t>(epoch) * steps_per_epoch + b;
      lr = schedule.at(step);
      optimizer->zero_grad();
      const Tensor* teacher_logits =
          config.teacher ? &config.teacher->forward(images, Mode::kEval) : nullptr;
      const Tensor& logits = net.forward(images, Mode::kTrain);
      float loss = 0.0f;
      if (teacher_logits) {
        distillation_loss(logits, *teacher_logits, labels.data(), config.distill_temperature,
                          config.distill_weight, &grad_logits, &loss);
      } else {
        loss = softmax_cross_entropy(logits, labels.data(), &grad_logits);
      }
      if (!std::isfinite(loss)) {
        throw DivergedError("train: loss is " + num(loss) + " at epoch " +
                            std::to_string(epoch + 1) + " batch " + std::to_string(b + 1) +
                            " (diverged; try a lower --lr)");
      }
      for (int i = 0; i < images.n(); ++i) {
        count_hits(logits.data() + static_cast<std::size_t>(i) * logits.c(), logits.c(), labels[i],
                   &correct, &top5_unused);
      }
      loss_sum += static_cast<double>(loss) * images.n();
      seen += images.n();
      net.backward(grad_logits);
      optimizer->step(static_cast<float>(lr));
      if (observer) observer->on_batch(epoch + 1, b + 1, steps_per_epoch, loss_sum / seen);
    }
    EpochStats stats;
    stats.epoch = epoch + 1;
    stats.seconds = seconds_since(epoch_start);
    stats.loss = loss_sum / std::max(seen, 1);
    stats.top1 = 100.0 * correct / std::max(seen, 1);
    stats.lr = lr;
    stats.images_per_s = seen / std::max(stats.seconds, 1e-9);
    if (config.test_each_epoch && test_set.size() > 0) {
      const EvalStats test = evaluate(net, test_set, norm, config.eval_batch_size);
      stats.test_loss = test.loss;
      stats.test_top1 = test.top1;
      stats.test_top5 = test.top5;
    }
    result.history.push_back(stats);

    if (!config.checkpoint_path.empty())
      save_training(config, widths, identity, epoch + 1, rng, result, net, *optimizer);
    epoch_seconds_sum += seconds_since(epoch_start);
    ++epochs_timed;
    if (observer) {
      const double eta = epoch_seconds_sum / epochs_timed * (last_epoch - epoch - 1);
      observer->on_epoch(stats, config.epochs, eta);
    }
  }

  result.stopped_early = last_epoch < config.epochs;
  if (!result.stopped_early && test_set.size() > 0)
    result.test = final_test(config, start_epoch, result, net, test_set, norm);
  result.seconds = seconds_since(started);
  result.network = std::move(net_ptr);
  return result;
}

}  // namespace nce::nn
