// Writes checkpoint_fuzz's seed corpus with the real writers (write_checkpoint, history_to_text,
// write_search_history, Optimizer::state): a trainer checkpoint after two SGD epochs and one after
// two Adam epochs, both over the two parameters checkpoint_fuzz restores, and a search checkpoint
// after a warm-up and a search epoch with one NCE expansion, each as a payload (flag byte 1: the
// target adds the header) and as a whole file (flag byte 0). Usage: checkpoint_fuzz_seeds DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_files.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/dataset.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/tensor.h"
#include "nce/nn/trainer.h"
#include "nce/search/arch_optimizer.h"
#include "nce/search/arch_params.h"
#include "nce/search/kendall.h"
#include "nce/search/search_checkpoint.h"

namespace {

using namespace nce;

const std::vector<int> kWidths = {3, 16, 16, 32};

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// <dir>/<name>-file (flag 0 + the file) and <dir>/<name>-payload (flag 1 + the payload).
void write_seeds(const std::string& dir, const std::string& name, const nn::Checkpoint& ck) {
  const std::string tmp = dir + "/" + name + ".ckpt";
  nn::write_checkpoint(tmp, ck);
  const std::vector<char> file = read_all(tmp);
  std::remove(tmp.c_str());
  fuzz::write_seed_pair(dir, name, file);
}

std::string rng_text(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  rng.discard(1000);
  std::ostringstream out;
  out << rng;
  return out.str();
}

// A trainer checkpoint of `optimizer` after two steps over checkpoint_fuzz's two parameters.
nn::Checkpoint trainer_checkpoint(const std::string& optimizer) {
  nn::Tensor w(2, 3), w_grad(2, 3), b(1, 3), b_grad(1, 3);
  for (std::size_t i = 0; i < 6; ++i) w.data()[i] = 0.1f * static_cast<float>(i) - 0.2f;
  w_grad.array() = 0.5f;
  b_grad.array() = -0.25f;
  std::vector<nn::Parameter> params = {{"fc.weight", &w, &w_grad, true, 0.0f},
                                       {"fc.bias", &b, &b_grad, false, 0.0f}};
  std::unique_ptr<nn::Optimizer> opt;
  if (optimizer == "sgd") {
    opt = std::make_unique<nn::Sgd>(params, nn::SgdOptions{});
  } else {
    opt = std::make_unique<nn::Adam>(params, nn::AdamOptions{});
  }
  opt->step(0.1f);
  opt->step(0.05f);

  nn::TrainConfig config;
  config.model = "resnet8";
  config.dataset = "fashion-mnist";
  config.optimizer = optimizer;
  config.epochs = 4;
  nn::Dataset train;
  train.channels = 1, train.height = 28, train.width = 28, train.num_classes = 10;
  train.labels.assign(20, 0);
  nn::Checkpoint ck;
  ck.model = config.model;
  ck.widths = kWidths;
  ck.options = nn::checkpoint_identity(config, train);
  ck.epochs_done = 2;
  ck.rng_state = rng_text(7);
  std::vector<nn::EpochStats> history(2);
  history[0] = {1, 2.3, 11.5, 0.1, 0.8, 25.0, 2.2, 14.0, 55.0};
  history[1] = {2, 2.1, 19.0, 0.05, 0.7, 28.5};  // no test pass: kNotMeasured (nan)
  ck.history = nn::history_to_text(history);
  ck.network = {{"fc.weight", std::vector<float>(w.data(), w.data() + 6)},
                {"fc.bias", std::vector<float>(b.data(), b.data() + 3)},
                {"bn.num_batches_tracked", {}}};  // an empty tensor
  ck.optimizer = opt->state();
  return ck;
}

// A search checkpoint after one warm-up and one search epoch, with one expansion of layer 1.
nn::Checkpoint search_checkpoint() {
  std::mt19937_64 rng(3);
  search::ArchParams arch(kWidths, rng);
  search::ArchOptimizer adam(0.01, 0.5, 0.999, 1e-3);
  adam.fit(arch);
  std::vector<search::SearchEpoch> epochs;
  for (int e = 1; e <= 2; ++e) {
    search::SearchEpoch rec;
    rec.epoch = e;
    rec.phase = e == 1 ? "warmup" : "search";
    rec.tau = search::tau_schedule(e - 1, 2);
    rec.lr = 0.1 / e, rec.loss = 2.3 - 0.1 * e, rec.top1 = 10.0 * e, rec.seconds = 0.5;
    rec.arch_loss = e == 1 ? 0 : 2.25;
    std::vector<std::vector<double>> grads;
    for (int w = 1; w <= arch.num_layers(); ++w) {
      const auto& l = arch.layer(w);
      std::vector<double> g(l.candidates.size());
      for (std::size_t i = 0; i < g.size(); ++i) g[i] = 0.01 * (static_cast<double>(i) - 2.0);
      rec.probabilities.push_back(arch.probabilities(w));
      std::vector<double> widths(l.candidates.begin(), l.candidates.end()), pull;
      for (double x : g) pull.push_back(-x);
      rec.kendall.push_back(e == 1 ? 0.0 : search::kendall_tau(widths, pull));
      rec.ce_alpha_grad.push_back(g);
      grads.push_back(g);
    }
    if (e == 2) {
      adam.step(arch, grads);
      if (arch.maybe_expand(1, 0.0, 16)) rec.expanded.push_back(1);
      adam.fit(arch);
    }
    epochs.push_back(rec);
  }
  search::Candidate cand;
  cand.method = "nce";
  cand.epoch = 2;
  cand.phase = "search";
  cand.widths = arch.derive(kWidths[0]);
  cand.macs = 1234567, cand.params = 4321, cand.latency_cycles = 9876, cand.energy_pj = 5.5e6;

  search::SearchConfig config;
  nn::Dataset train;
  train.channels = 3, train.height = 32, train.width = 32, train.num_classes = 10;
  train.labels.assign(40, 0);
  nn::Checkpoint ck;
  ck.model = "resnet8";
  ck.widths = kWidths;
  ck.options = search::search_identity(config, train);
  ck.epochs_done = 2;
  ck.rng_state = rng_text(11);
  ck.history = search::write_search_history(arch, adam, epochs, {cand});
  ck.network = {{"stem.weight", std::vector<float>(27, 0.125f)}, {"stem.bn.running_var", {1.0f}}};
  ck.optimizer.kind = "sgd";
  ck.optimizer.steps = 8;
  ck.optimizer.buffers = {{"stem.weight.momentum", std::vector<float>(27, 0.0f)}};
  return ck;
}

}  // namespace

int main(int argc, char** argv) {
  const char* dir = fuzz::seed_dir_argument(argc, argv, "checkpoint_fuzz_seeds");
  if (dir == nullptr) return 2;
  write_seeds(dir, "trainer-sgd", trainer_checkpoint("sgd"));
  write_seeds(dir, "trainer-adam", trainer_checkpoint("adam"));
  write_seeds(dir, "search-nce", search_checkpoint());
  return 0;
}
