// The recorded search shared by nce search and nce campaign (nce_record): the run it opens, what it
// records, and how it ends (finished, interrupted, diverged, failed).
#include "nce/record/recorded_search.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "nce/common/interrupted.h"
#include "nce/nn/trainer.h"
#include "nce/results/database.h"
#include "nce/results/sqlite_sink.h"
#include "nce/sim/hw_config.h"
#include "run_test_fixture.h"

namespace nce::record {
namespace {

namespace fs = std::filesystem;

using testing::tiny_search;

class SearchJob : public testing::RecordedRunTest {};

TEST(SearchJobRunInfo, NamesTheRunAsTheDatabaseKeepsIt) {
  search::SearchConfig c = tiny_search();
  c.method = "none";
  c.seed = 7;
  c.supernet.weight_bits = 3;
  c.checkpoint_path = "some/dir/../job.ckpt";
  const results::RunInfo info = run_info(c, "edge", "{}", "abc");
  EXPECT_EQ(info.method, "original");  // the unadapted network
  EXPECT_EQ(info.model, "resnet8");
  EXPECT_EQ(info.bits, 3);
  EXPECT_EQ(info.seed, 7u);
  EXPECT_EQ(info.hw, "edge");
  EXPECT_EQ(info.git_commit, "abc");
  const std::string key = "search " + (fs::current_path() / "some/job.ckpt").string();
  EXPECT_EQ(info.resume_key, key);
  c.checkpoint_path.clear();
  EXPECT_TRUE(run_info(c, "", "{}", "").resume_key.empty());
}

TEST_F(SearchJob, AFinishedSearchRecordsEveryEpochAndCandidateWithItsHwCosts) {
  sim::LayerCostService costs(
      sim::load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg"));
  const search::SearchConfig c = tiny_search();
  const search::SearchResult r = [&] {
    results::SqliteSink sink(db_);
    return run_recorded_search(c, data_, hardware_costs(costs), &sink,
                               run_info(c, costs.hw().name, "{}", ""), costs.fingerprint(),
                               nullptr);
  }();
  EXPECT_EQ(status(), "finished;");
  ASSERT_GE(r.final.top1, 0.0);
  results::Database db(db_);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs WHERE phase IN ('warmup', 'search')"),
            c.warmup_epochs + c.search_epochs);
  // The retrain's epochs are rows too (loss, train and test top-1, seconds), one curve per
  // retrained network ("retrain:final" = the searched design).
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs WHERE phase = 'retrain:final' AND loss > 0 "
                         "AND top1 >= 0 AND test_top1 >= 0 AND seconds >= 0"),
            c.retrain_epochs);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs"),
            c.warmup_epochs + c.search_epochs + c.retrain_epochs);
  // Each search epoch records every layer's largest and widest candidate probability.
  const std::int64_t layers = static_cast<std::int64_t>(r.final.widths.size()) - 1;
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs e, json_each(e.extra, '$.max_prob') m WHERE "
                         "e.phase = 'search' AND m.value > 0 AND m.value <= 1"),
            layers * c.search_epochs);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs e, json_each(e.extra, '$.widest_prob') m "
                         "WHERE e.phase = 'search' AND m.value > 0 AND m.value <= 1"),
            layers * c.search_epochs);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates WHERE phase = 'final'"), 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates WHERE hw_fingerprint <> '" +
                         costs.fingerprint() + "' OR latency_cycles IS NULL"),
            0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"),
            static_cast<std::int64_t>(r.candidates.size()));  // derived per epoch + the final
  EXPECT_GT(costs.computed(), 0);
}

// The set-up `nce search` and every campaign job share: the database's sink, its cost cache
// behind the array's cost service, and the hw config recorded; "" = none of either.
TEST_F(SearchJob, TheBackendOpensTheDatabaseAndTheArrayInOneCall) {
  const std::string hw_path = std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg";
  {
    SearchBackend none = open_search_backend("", "");
    EXPECT_FALSE(none.sink || none.cache || none.costs);
    EXPECT_FALSE(static_cast<bool>(none.hw.latency_cycles));
    EXPECT_TRUE(none.hw_fingerprint.empty());
    none.flush();
  }
  {
    SearchBackend hw_only = open_search_backend("", hw_path);
    EXPECT_FALSE(hw_only.sink || hw_only.cache);
    ASSERT_TRUE(hw_only.costs);
    EXPECT_EQ(hw_only.hw_fingerprint, sim::load_hw_config(hw_path).fingerprint());
    EXPECT_EQ(hw_only.hw.name, "edge-16x16-ws-2b");
  }
  EXPECT_FALSE(fs::exists(db_));
  {
    SearchBackend b = open_search_backend(db_, hw_path);
    ASSERT_TRUE(b.sink && b.cache && b.costs);
    const models::Network net = models::build("resnet8", {}, models::cifar_input());
    EXPECT_GT(b.hw.latency_cycles(net.layers[1], 16, 16), 0.0);
    b.flush();
  }
  results::Database db(db_);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM hw_configs WHERE name = 'edge-16x16-ws-2b' AND "
                         "fingerprint = '" +
                         sim::load_hw_config(hw_path).fingerprint() + "'"),
            1);
  EXPECT_GT(db.query_int("SELECT count(*) FROM cost_cache").value_or(0), 0);
  SearchBackend db_only = open_search_backend(db_, "");
  EXPECT_TRUE(db_only.sink && !db_only.cache && !db_only.costs);
}

class ThrowAtFirstBatch : public search::SearchObserver {
 public:
  explicit ThrowAtFirstBatch(bool diverge) : diverge_(diverge) {}
  void on_batch(int, int, int) override {
    if (diverge_) throw nn::DivergedError("loss is nan");
    throw common::Interrupted(2);
  }

 private:
  bool diverge_;
};

TEST_F(SearchJob, ASignalEndsTheRunInterruptedAndADivergedLossDiverged) {
  const search::SearchConfig c = tiny_search();
  for (const bool diverge : {false, true}) {
    TearDown();
    ThrowAtFirstBatch printer(diverge);
    results::SqliteSink sink(db_);
    if (diverge) {
      EXPECT_THROW(
          run_recorded_search(c, data_, {}, &sink, run_info(c, "", "{}", ""), "", &printer),
          nn::DivergedError);
    } else {
      EXPECT_THROW(
          run_recorded_search(c, data_, {}, &sink, run_info(c, "", "{}", ""), "", &printer),
          common::Interrupted);
    }
    EXPECT_EQ(status(), diverge ? "diverged;" : "interrupted;");
  }
}

TEST_F(SearchJob, AnyOtherErrorEndsTheRunFailed) {
  search::SearchConfig c = tiny_search();
  sim::HwConfig hw =
      sim::load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  hw.dram_bytes_per_cycle = 1e-20;  // every count overflows: the array cannot map the layers
  sim::LayerCostService costs(hw);
  c.latency = {1.0, 1.0};
  {
    results::SqliteSink sink(db_);
    EXPECT_THROW(run_recorded_search(c, data_, hardware_costs(costs), &sink,
                                     run_info(c, hw.name, "{}", ""), costs.fingerprint(), nullptr),
                 std::invalid_argument);
  }
  EXPECT_EQ(status(), "failed;");
}

}  // namespace
}  // namespace nce::record
