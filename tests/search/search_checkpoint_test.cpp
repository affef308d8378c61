// The search's history block (search_checkpoint.h): it round-trips exactly, and a block that is
// not what a search of this network writes is refused naming the file and the field, leaving the
// state as it was (the hostile blocks are reductions of what checkpoint_fuzz found).
#include "nce/search/search_checkpoint.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace nce::search {
namespace {

const std::vector<int> kBase = {3, 16, 16, 32};

struct State {
  std::mt19937_64 rng{5};
  ArchParams arch{kBase, rng};
  ArchOptimizer adam{0.01, 0.5, 0.999, 1e-3};
  std::vector<SearchEpoch> epochs;
  std::vector<Candidate> candidates;
  State() { adam.fit(arch); }
};

// A search after two epochs: layer 1 expanded once, Adam stepped, one candidate derived.
std::string sample_history() {
  State s;
  std::vector<std::vector<double>> grads;
  for (const auto& l : s.arch.layers()) grads.emplace_back(l.candidates.size(), 0.125);
  s.adam.step(s.arch, grads);
  EXPECT_TRUE(s.arch.maybe_expand(1, 0.0, 16));
  s.adam.fit(s.arch);
  for (int e = 1; e <= 2; ++e) {
    SearchEpoch rec;
    rec.epoch = e;
    rec.phase = e == 1 ? "warmup" : "search";
    rec.tau = 5.0 / e, rec.lr = 0.1, rec.loss = 2.3, rec.top1 = 12.5, rec.seconds = 0.25;
    for (int w = 1; w <= s.arch.num_layers(); ++w) {
      rec.probabilities.push_back(s.arch.probabilities(w));
      rec.ce_alpha_grad.emplace_back(s.arch.layer(w).candidates.size(), -0.5);
      rec.kendall.push_back(0.25);
    }
    if (e == 2) rec.expanded = {1};
    s.epochs.push_back(rec);
  }
  Candidate c;
  c.method = "nce", c.epoch = 2, c.phase = "search", c.widths = s.arch.derive(3);
  c.macs = 1000, c.params = 100, c.latency_cycles = 500, c.energy_pj = 2.5, c.top1 = -1;
  return write_search_history(s.arch, s.adam, s.epochs, {c});
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

// Reads `text` into a fresh state; returns the error ("" if none) and checks the state is as the
// network's fresh one when it failed.
std::string error_of(const std::string& text) {
  State s;
  const std::vector<int> fresh_candidates = s.arch.layer(1).candidates;
  try {
    read_search_history(text, "search.ckpt", s.arch, s.adam, s.epochs, s.candidates, 16);
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(s.arch.layer(1).candidates, fresh_candidates);
    EXPECT_TRUE(s.epochs.empty());
    EXPECT_EQ(s.adam.steps, 0);
    return e.what();
  }
  return "";
}

TEST(SearchCheckpoint, HistoryRoundTripsExactly) {
  const std::string text = sample_history();
  State s;
  read_search_history(text, "search.ckpt", s.arch, s.adam, s.epochs, s.candidates, 16);
  EXPECT_EQ(s.arch.layer(1).expansions, 1);
  EXPECT_EQ(s.arch.layer(1).candidates.size(), 9u);
  EXPECT_EQ(s.adam.steps, 1);
  ASSERT_EQ(s.epochs.size(), 2u);
  EXPECT_EQ(s.epochs[1].expanded, std::vector<int>{1});
  ASSERT_EQ(s.candidates.size(), 1u);
  EXPECT_EQ(s.candidates[0].macs, 1000);
  EXPECT_EQ(write_search_history(s.arch, s.adam, s.epochs, s.candidates), text);
}

// Counts are bounded by the text left: "epochs 10^12" used to resize a vector to 10^12 records
// (std::length_error or bad_alloc, or gigabytes) before reading any of them.
TEST(SearchCheckpoint, CountsLargerThanTheTextAreRefused) {
  const std::string text = sample_history();
  for (const std::string& bad : {replaced(text, "epochs 2", "epochs 1000000000000"),
                                 replaced(text, "candidates 1", "candidates 18446744073709551615"),
                                 replaced(text, "\nadam 1\n", "\nadam 1\n4611686018427387904 ")}) {
    const std::string e = error_of(bad);
    EXPECT_NE(e.find("search.ckpt: malformed search state"), std::string::npos) << e;
  }
  EXPECT_NE(error_of(replaced(text, "epochs 2", "epochs -1")).find("epochs count '-1'"),
            std::string::npos);
}

// An edit of a saved search history (the first `from` replaced by `to`) and what the error says.
struct Edit {
  const char* from;
  const char* to;
  const char* needle;
};

// `text` with each edit is refused with an error that holds the edit's needle.
void expect_edits_refused(const std::string& text, const std::vector<Edit>& edits) {
  for (const Edit& e : edits) {
    const std::string error = error_of(replaced(text, e.from, e.to));
    EXPECT_NE(error.find(e.needle), std::string::npos) << e.to << ": " << error;
  }
}

// A layer's candidates, alpha and moments must be what the search makes of this network: the
// reader used to take any sizes, which the supernet then indexed out of bounds.
TEST(SearchCheckpoint, LayersOfAnotherShapeAreRefused) {
  const std::string text = sample_history();
  // Layer 1 (16 channels): 4 6 8 9 11 12 14 16, then its first expansion 17.
  expect_edits_refused(text, {{"16 1 9 4 6 8 9 11 12 14 16 17", "16 1 9 4 6 8 9 11 12 14 16 99",
                               "layer 1 candidates: not those of 16 channels after 1 expansions"},
                              {"16 1 9 4 6", "16 1 8 4 6", "layer 1: 8 candidates, want 9"},
                              {"16 1 9 4 6", "16 40 49 4 6", "layer 1 expansions 40"},
                              {"arch 3\n16", "arch 3\n15", "layer 1 base channels 15"},
                              {"arch 3", "arch 4", "this model has 3"}});
}

TEST(SearchCheckpoint, RecordsOfAnotherShapeAreRefused) {
  const std::string text = sample_history();
  expect_edits_refused(text, {{"\n2 search\n", "\n3 search\n", "epoch record 2: epoch 3"},
                              {"\n2 search\n", "\n2 serch\n", "phase 'serch'"},
                              {"1 1\ncandidates", "1 7\ncandidates", "expanded '7'"},
                              {"adam 1", "adam -3", "adam steps '-3'"}});
  EXPECT_NE(error_of(text + "junk\n").find("text after the candidates"), std::string::npos);
  EXPECT_NE(error_of(text.substr(0, text.size() / 2)).find("search.ckpt: malformed"),
            std::string::npos);
}

}  // namespace
}  // namespace nce::search
