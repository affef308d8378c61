// The recorded training of nce train (nce_record): the run it opens, what it records, how it ends.
#include "nce/record/recorded_train.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "nce/common/interrupted.h"
#include "nce/results/database.h"
#include "nce/results/sqlite_sink.h"
#include "run_test_fixture.h"

namespace nce::record {
namespace {

// nn::train's counterpart of tiny_search(): the same network, data, batches and bits.
nn::TrainConfig tiny_training() {
  const search::SearchConfig s = testing::tiny_search();
  nn::TrainConfig c;
  c.model = s.model;
  c.dataset = s.dataset;
  c.epochs = 2;
  c.batch_size = s.batch_size;
  c.max_batches = s.max_batches;
  c.network.weight_bits = c.network.activation_bits = s.supernet.weight_bits;
  return c;
}

class RecordedTrain : public testing::RecordedRunTest {};

TEST(RecordedTrainRunInfo, NamesTheRunAsTheDatabaseKeepsIt) {
  nn::TrainConfig c = tiny_training();
  c.seed = 5;
  c.checkpoint_path = "a/../t.ckpt";
  results::RunInfo info = train_run_info(c, "{\"x\":1}", "abc");
  EXPECT_EQ(info.method, "train");
  EXPECT_EQ(info.model, "resnet8");
  EXPECT_EQ(info.dataset, "quadrants");
  EXPECT_EQ(info.bits, 2);
  EXPECT_EQ(info.seed, 5u);
  EXPECT_EQ(info.config_json, "{\"x\":1}");
  EXPECT_EQ(info.git_commit, "abc");
  EXPECT_EQ(info.resume_key, "train " + (std::filesystem::current_path() / "t.ckpt").string());
  c.network.activation_bits = 4;
  c.checkpoint_path.clear();
  info = train_run_info(c, "{}", "");
  EXPECT_EQ(info.bits, 0);  // mixed: no single bit width
  EXPECT_TRUE(info.resume_key.empty());
}

TEST_F(RecordedTrain, AFinishedTrainingRecordsEveryEpochAndItsFinalNetwork) {
  const nn::TrainConfig c = tiny_training();
  const nn::TrainResult r = [&] {
    results::SqliteSink sink(db_);
    return run_recorded_training(c, data_, &sink, train_run_info(c, "{}", ""), nullptr);
  }();
  ASSERT_FALSE(r.stopped_early);
  results::Database db(db_);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs WHERE status = 'finished' AND method = "
                         "'train' AND final_top1 IS NOT NULL"),
            1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs WHERE phase = 'train' AND loss > 0 AND "
                         "seconds >= 0 AND json_extract(extra, '$.images_per_s') > 0"),
            c.epochs);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates WHERE phase = 'final' AND macs > 0 "
                         "AND params > 0 AND top1 IS NOT NULL"),
            1);
}

TEST_F(RecordedTrain, AStoppedTrainingIsInterruptedAndASignalOrDivergenceEndsTheRunSo) {
  nn::TrainConfig c = tiny_training();
  c.stop_after_epoch = 1;
  {
    results::SqliteSink sink(db_);
    EXPECT_TRUE(
        run_recorded_training(c, data_, &sink, train_run_info(c, "{}", ""), nullptr).stopped_early);
  }
  {
    results::Database db(db_);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 0);
  }
  struct Thrower : nn::TrainObserver {
    bool diverge = false;
    void on_batch(int, int, int, double) override {
      if (diverge) throw nn::DivergedError("loss is nan");
      throw common::Interrupted(15);
    }
  };
  c.stop_after_epoch = 0;
  for (const bool diverge : {false, true}) {
    TearDown();
    Thrower printer;
    printer.diverge = diverge;
    {
      results::SqliteSink sink(db_);
      const results::RunInfo info = train_run_info(c, "{}", "");
      if (diverge) {
        EXPECT_THROW(run_recorded_training(c, data_, &sink, info, &printer), nn::DivergedError);
      } else {
        EXPECT_THROW(run_recorded_training(c, data_, &sink, info, &printer), common::Interrupted);
      }
    }
    results::Database db(db_);
    EXPECT_EQ(db.query_int(std::string("SELECT count(*) FROM runs WHERE status = '") +
                           (diverge ? "diverged" : "interrupted") + "'"),
              1);
  }
}

}  // namespace
}  // namespace nce::record
