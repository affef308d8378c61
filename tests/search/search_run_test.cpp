#include "nce/search/search_run.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "../nn/quadrant_data.h"
#include "short_search.h"

namespace nce::search {
namespace {

// A small learnable data set: 3x8x8 images whose class sets the brightness of one quadrant.
nn::Dataset synthetic(int per_class, std::uint64_t seed) {
  nn::Dataset d = nn::testing::quadrant_images(3, per_class, seed);
  d.source = "synthetic";
  return d;
}

SearchConfig tiny_config() {
  SearchConfig c = testing::short_search("nce", "synthetic", /*warmup_epochs=*/1,
                                         /*search_epochs=*/3, /*max_batches=*/4);
  c.retrain_epochs = 1;
  c.seed = 7;
  return c;
}

TEST(SearchRun, ValidateRejectsBadOptions) {
  SearchConfig c = tiny_config();
  c.threshold = 1.0;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = tiny_config();
  c.threshold = 0.0;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = tiny_config();
  c.latency.lambda = -1;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = tiny_config();
  c.method = "darts";
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = tiny_config();
  c.resume = true;
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(SearchRun, LatencyWithoutHardwareIsAnError) {
  const nn::Dataset data = synthetic(32, 1);
  SearchConfig c = tiny_config();
  c.latency.lambda = 1;
  EXPECT_THROW(run_search(c, data, data), std::invalid_argument);
}

TEST(SearchRun, NceSearchDerivesEveryEpochAndExpands) {
  const nn::Dataset data = synthetic(32, 2);
  SearchConfig c = tiny_config();
  c.threshold = 0.13;  // just above uniform (1/8): expansions fire once a layer leans to its widest
  const SearchResult r = run_search(c, data, data);
  ASSERT_EQ(r.epochs.size(), 4u);
  EXPECT_EQ(r.epochs[0].phase, "warmup");
  EXPECT_EQ(r.epochs[3].phase, "search");
  // One derived candidate per search epoch, with consistent widths and counts.
  ASSERT_EQ(r.candidates.size(), 3u);
  for (const Candidate& cand : r.candidates) {
    ASSERT_EQ(cand.widths.size(), 8u);
    EXPECT_EQ(cand.widths[0], 3);
    const models::Network net = models::build("resnet8", cand.widths, {3, 8, 8, 4});
    EXPECT_EQ(cand.macs, net.macs());
    EXPECT_EQ(cand.params, net.params());
  }
  EXPECT_EQ(r.final.widths, r.candidates.back().widths);
  int expansions = 0;
  for (const auto& e : r.epochs) expansions += static_cast<int>(e.expanded.size());
  EXPECT_GT(expansions, 0);
  // A width beyond the original can only come from an expansion.
  for (const auto& e : r.epochs) {
    for (const auto& p : e.probabilities)
      EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-9);
  }
}

TEST(SearchRun, InterruptedThenResumedEqualsUninterrupted) {
  const nn::Dataset data = synthetic(32, 3);
  const std::string path = ::testing::TempDir() + "nce_search_resume.ckpt";
  std::remove(path.c_str());
  SearchConfig c = tiny_config();
  c.threshold = 0.13;
  const SearchResult whole = run_search(c, data, data);

  c.checkpoint_path = path;
  c.stop_after_epoch = 2;
  const SearchResult first = run_search(c, data, data);
  EXPECT_TRUE(first.stopped_early);
  c.stop_after_epoch = 0;
  c.resume = true;
  const SearchResult rest = run_search(c, data, data);
  EXPECT_TRUE(rest.resumed);
  ASSERT_EQ(rest.epochs.size(), whole.epochs.size());
  for (size_t e = 0; e < whole.epochs.size(); ++e) {
    EXPECT_EQ(rest.epochs[e].loss, whole.epochs[e].loss) << e;
    EXPECT_EQ(rest.epochs[e].probabilities, whole.epochs[e].probabilities) << e;
    EXPECT_EQ(rest.epochs[e].expanded, whole.epochs[e].expanded) << e;
  }
  EXPECT_EQ(rest.final.widths, whole.final.widths);
  // A resume with other options is refused.
  c.threshold = 0.2;
  EXPECT_THROW(run_search(c, data, data), std::runtime_error);
  std::remove(path.c_str());
}

TEST(SearchRun, BaselinesRetrainTheirWidths) {
  const nn::Dataset data = synthetic(16, 4);
  SearchConfig c = tiny_config();
  c.retrain = true;
  c.max_batches = 2;
  c.method = "wrpn";
  c.wrpn_multipliers = {1.0, 2.0};
  SearchResult r = run_search(c, data, data);
  ASSERT_EQ(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[1].widths[1], 32);
  EXPECT_GE(r.candidates[0].top1, 0.0);
  c.method = "random";
  c.random_samples = 2;
  r = run_search(c, data, data);
  ASSERT_EQ(r.candidates.size(), 2u);
  for (const auto& cand : r.candidates) EXPECT_LE(cand.macs, r.original.macs);
  c.method = "none";
  r = run_search(c, data, data);
  EXPECT_EQ(r.final.widths, r.original.widths);
  EXPECT_EQ(r.final.method, "original");
}

TEST(SearchRun, DistilledRetrainAndActivationAnalysis) {
  const nn::Dataset data = synthetic(16, 5);
  SearchConfig c = tiny_config();
  c.search_epochs = 1;
  c.retrain = true;
  c.max_batches = 2;
  c.distill = true;
  c.activation_analysis = true;
  c.probe_images = 32;
  const SearchResult r = run_search(c, data, data);
  // The teacher (the original at the search's bits) was trained and recorded once, beside the
  // retrained design; the 32-bit original is only profiled.
  EXPECT_GE(r.original_retrained.top1, 0.0);
  EXPECT_EQ(r.original_retrained.widths, r.original.widths);
  int originals = 0;
  for (const auto& cand : r.candidates) originals += cand.method == "original";
  EXPECT_EQ(originals, 1);
  EXPECT_EQ(r.final.method, "nce");
  ASSERT_EQ(r.activations.size(), 3u);
  EXPECT_EQ(r.activations[0].network, "original W32A32");
  EXPECT_EQ(r.activations[1].network, "original W2A2");
  EXPECT_EQ(r.activations[2].network, "nce W2A2");
  EXPECT_EQ(r.activations[2].widths, r.final.widths);
  for (const auto& p : r.activations) {
    ASSERT_EQ(p.layers.size(), r.activations[0].layers.size());
    for (std::size_t i = 0; i < p.layers.size(); ++i) {
      EXPECT_EQ(p.layers[i].name, r.activations[0].layers[i].name);
      // A 32-bit network has ReLUs only: its SQNR is the reference quantizer's.
      if (p.bits == 32) {
        EXPECT_TRUE(p.layers[i].reference);
      }
    }
    EXPECT_GE(p.top1, 0.0);
  }
  EXPECT_EQ(r.activations[1].layers[0].bits, 2);
  EXPECT_FALSE(r.activations[1].layers[0].reference);

  SearchConfig bad = tiny_config();
  bad.distill = true;
  bad.method = "none";
  EXPECT_THROW(validate(bad), std::invalid_argument);
  bad = tiny_config();
  bad.distill_weight = 1.5f;
  EXPECT_THROW(validate(bad), std::invalid_argument);
  bad = tiny_config();
  bad.distill_teacher_bits = 5;
  EXPECT_THROW(validate(bad), std::invalid_argument);
}

}  // namespace
}  // namespace nce::search
