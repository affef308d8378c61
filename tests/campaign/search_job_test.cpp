// The recorded search shared by nce search and nce campaign: the run it opens, what it records,
// and how it ends (finished, interrupted, diverged, failed).
#include "nce/campaign/search_job.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "../search/quadrant_data.h"
#include "nce/common/interrupted.h"
#include "nce/nn/trainer.h"
#include "nce/results/database.h"
#include "nce/results/sqlite_sink.h"
#include "nce/sim/hw_config.h"

namespace nce::campaign {
namespace {

namespace fs = std::filesystem;

search::SearchConfig tiny_search() {
  search::SearchConfig c;
  c.method = "tas";
  c.model = "resnet8";
  c.dataset = "quadrants";
  c.warmup_epochs = 1;
  c.search_epochs = 2;
  c.retrain_epochs = 1;
  c.batch_size = 16;
  c.max_batches = 2;
  c.augment = false;
  return c;
}

class SearchJob : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (fs::temp_directory_path() /
           ("nce_search_job_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()) + ".db"))
              .string();
    fs::remove(db_);
    data_.train = nn::testing::quadrant_images(3, 16, 1);
    data_.test = nn::testing::quadrant_images(3, 8, 2);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_ + suffix);
  }
  std::string status() {
    results::Database db(db_);
    auto q = db.prepare("SELECT status FROM runs");
    std::string s;
    while (q.step()) s += q.column_text(0) + ";";
    return s;
  }
  std::string db_;
  nn::DatasetPair data_;
};

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

class ThrowAtFirstBatch : public search::SearchObserver {
 public:
  explicit ThrowAtFirstBatch(bool diverge) : diverge_(diverge) {}
  void on_batch(int, int, int) override {
    if (diverge_) throw nn::DivergedError("loss is nan");
    throw Interrupted(2);
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
          Interrupted);
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
}  // namespace nce::campaign
