// libFuzzer target: the checkpoint reader (nn/checkpoint.h read_checkpoint) and the readers of what
// a checkpoint carries: the trainer's history (nn/trainer.h history_from_text), the search's
// history block (search/search_checkpoint.h read_search_history) and the optimizer state
// (Optimizer::load_state). Byte 0 of an input holds flags; with bit 0 set the rest is a payload
// that the target wraps in a valid header (magic, version, length, crc32), so mutations reach the
// payload's fields past the checksum; without it the rest is the whole file. The file is written
// to a scratch directory of this process. Invariants checked on every input:
//   * a bad file is std::runtime_error naming it (never another exception, a crash, UB or an
//     allocation larger than the file holds data for), whichever of the readers rejects it;
//   * an accepted trainer history numbers its epochs 1, 2, ...; an accepted search history has
//     one consistent entry per layer of the network it is restored into.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_files.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/tensor.h"
#include "nce/nn/trainer.h"
#include "nce/search/arch_optimizer.h"
#include "nce/search/arch_params.h"
#include "nce/search/search_checkpoint.h"

namespace {

std::string g_path;

// Two small parameters for Optimizer::load_state (the seeds' optimizer states are theirs).
struct Params {
  nce::nn::Tensor w{2, 3}, w_grad{2, 3}, b{1, 3}, b_grad{1, 3};
  std::vector<nce::nn::Parameter> list() {
    return {{"fc.weight", &w, &w_grad, true, 0.0f}, {"fc.bias", &b, &b_grad, false, 0.0f}};
  }
};

// A rejection must be a std::runtime_error that names the file.
template <typename Fn>
bool accepted(Fn fn) {
  try {
    fn();
    return true;
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(g_path) == std::string::npos) __builtin_trap();
    return false;
  }
}

void check_trainer_history(const nce::nn::Checkpoint& ck) {
  std::vector<nce::nn::EpochStats> history;
  if (!accepted([&] { history = nce::nn::history_from_text(ck.history, g_path); })) return;
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (history[i].epoch != static_cast<int>(i) + 1) __builtin_trap();
  }
}

void check_search_history(const nce::nn::Checkpoint& ck) {
  // The network the search resumes: the checkpoint's own widths when they could be a network's
  // (models::kMaxWidth), else a small one.
  std::vector<int> base = {3, 16, 16, 32};
  if (ck.widths.size() >= 2 && ck.widths.size() <= 64 &&
      std::all_of(ck.widths.begin(), ck.widths.end(), [](int w) { return w >= 1 && w <= 16384; })) {
    base = ck.widths;
  }
  std::mt19937_64 rng(1);
  nce::search::ArchParams arch(base, rng);
  nce::search::ArchOptimizer adam(0.01, 0.5, 0.999, 1e-3);
  adam.fit(arch);
  std::vector<nce::search::SearchEpoch> epochs;
  std::vector<nce::search::Candidate> candidates;
  if (!accepted([&] {
        nce::search::read_search_history(ck.history, g_path, arch, adam, epochs, candidates, 16);
      })) {
    return;
  }
  const std::size_t layers = base.size() - 1;
  if (static_cast<std::size_t>(arch.num_layers()) != layers || adam.m.size() != layers ||
      adam.v.size() != layers || adam.steps < 0) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < layers; ++i) {
    const nce::search::LayerChoice& l = arch.layers()[i];
    if (l.base_channels != base[i + 1] || l.candidates.empty() ||
        l.alpha.size() != l.candidates.size() || adam.m[i].size() != l.candidates.size() ||
        adam.v[i].size() != l.candidates.size() || l.candidates.size() > 16) {
      __builtin_trap();
    }
    for (std::size_t c = 1; c < l.candidates.size(); ++c) {
      if (l.candidates[c] <= l.candidates[c - 1]) __builtin_trap();
    }
    // What the search does next with them: probabilities, a draw, the derived widths.
    arch.probabilities(static_cast<int>(i) + 1);
    nce::search::gumbel_draw(l.alpha, 1.0, rng);
  }
  arch.derive(base[0]);
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    const auto& rec = epochs[e];
    if (rec.epoch != static_cast<int>(e) + 1 || rec.probabilities.size() != layers ||
        rec.ce_alpha_grad.size() != layers || rec.kendall.size() != layers) {
      __builtin_trap();
    }
    for (std::size_t w = 0; w < layers; ++w) {
      if (rec.ce_alpha_grad[w].size() != rec.probabilities[w].size()) __builtin_trap();
    }
    for (int x : rec.expanded) {
      if (x < 1 || x > static_cast<int>(layers)) __builtin_trap();
    }
  }
}

void check_optimizer_state(const nce::nn::Checkpoint& ck) {
  Params p;
  nce::nn::Sgd sgd(p.list(), nce::nn::SgdOptions{});
  nce::nn::Adam adam(p.list(), nce::nn::AdamOptions{});
  for (nce::nn::Optimizer* o :
       {static_cast<nce::nn::Optimizer*>(&sgd), static_cast<nce::nn::Optimizer*>(&adam)}) {
    try {
      o->load_state(ck.optimizer);
    } catch (const std::invalid_argument&) {
      continue;
    }
    if (o->steps() != ck.optimizer.steps) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_path = nce::fuzz::make_scratch_dir("checkpoint", {"run.ckpt"}) + "/run.ckpt";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::uint8_t> file;
  if (data[0] & 1) {
    // A valid header around the fuzzed payload: version 1 (stored as is) or, with bit 1 set,
    // version 2 (deflated here, so the fuzzer drives the planar tensor reader).
    std::vector<std::uint8_t> stored;
    std::uint32_t version = 1;
    if (data[0] & 2) {
      version = 2;
      uLongf packed = compressBound(static_cast<uLong>(size - 1));
      std::vector<std::uint8_t> deflated(packed);
      if (compress2(deflated.data(), &packed, data + 1, static_cast<uLong>(size - 1), 1) != Z_OK) {
        return 0;
      }
      nce::fuzz::put<std::uint64_t>(stored, size - 1);
      stored.insert(stored.end(), deflated.begin(), deflated.begin() + packed);
    } else {
      stored.assign(data + 1, data + size);
    }
    const char magic[8] = {'N', 'C', 'E', 'C', 'K', 'P', 'T', '\0'};
    nce::fuzz::append_with_header(file, magic, version, stored.data(), stored.size());
  } else {
    file.insert(file.end(), data + 1, data + size);
  }
  nce::fuzz::write_file(g_path, file.data(), file.size());

  nce::nn::Checkpoint ck;
  if (!accepted([&] { ck = nce::nn::read_checkpoint(g_path); })) return 0;
  if (ck.epochs_done < 0) __builtin_trap();
  accepted([&] {
    nce::nn::check_checkpoint_matches(ck, g_path, "resnet20", {3, 16, 16, 32}, {{"bits", "2"}});
  });
  check_trainer_history(ck);
  check_search_history(ck);
  check_optimizer_state(ck);
  return 0;
}
