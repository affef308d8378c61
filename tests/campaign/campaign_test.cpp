#include "nce/campaign/campaign.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nce/campaign/plan.h"
#include "nce/common/interrupted.h"
#include "nce/results/database.h"
#include "support/scratch_dir.h"

namespace nce::campaign {
namespace {

namespace fs = std::filesystem;

// A tiny plan on Fashion-MNIST: 3 jobs of a few seconds together.
const char* kPlan = R"(
[campaign]
name = tiny
model = resnet8
dataset = fashion-mnist
seeds = 1
subset = 12
test-subset = 6
hw = edge-16x16-ws-2b.cfg
[protocol]
bits = 2
warmup-epochs = 1
search-epochs = 2
retrain-epochs = 1
pact-init = 3
batch = 16
[arm original]
method = none
[arm nce]
method = nce
seeds = 1, 2
)";

// kPlan with its first `from` replaced by `to`, read as the file `name`.
Plan edited_plan(const std::string& from, const std::string& to,
                 const std::string& name = "tiny.cfg") {
  std::string text = kPlan;
  if (!from.empty()) text.replace(text.find(from), from.size(), to);
  return parse_plan(text, name, std::string(NCE_SOURCE_DIR) + "/hw_configs");
}

Plan tiny_plan() {
  return edited_plan("", "");
}

class Campaign : public ::testing::Test {
 protected:
  CampaignOptions options(const std::string& name) const {
    CampaignOptions o;
    o.db_path = (dir_ / (name + ".db")).string();
    return o;
  }
  // The campaign `name` run until a "signal" in its second job, nce-s1, once that job's first
  // epoch's checkpoint is written (the options returned poll nothing).
  CampaignOptions interrupted_in_nce_s1(const Plan& plan, const std::string& name) const {
    CampaignOptions cut = options(name);
    const fs::path ckpt = fs::path(work_dir(cut)) / "nce-s1.ckpt";
    cut.interrupt_signal = [ckpt] { return fs::exists(ckpt) ? SIGINT : 0; };
    EXPECT_THROW(run_campaign(plan, cut), common::Interrupted);
    EXPECT_TRUE(fs::exists(ckpt));
    cut.interrupt_signal = nullptr;
    return cut;
  }
  const nce::testing::ScratchDir scratch_{"nce_campaign_" + nce::testing::current_test_name()};
  const fs::path dir_ = scratch_.root();
};

// The first column of every row `sql` returns from the database at `db_path`.
std::vector<std::string> column(const std::string& db_path, const std::string& sql) {
  results::OpenOptions ro;
  ro.mode = results::OpenMode::kReadOnly;
  results::Database db(db_path, ro);
  auto q = db.prepare(sql);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.column_text(0));
  return out;
}

// Every candidate row of the campaign's database that does not depend on the wall clock, in a
// canonical order.
std::vector<std::string> rows(const std::string& db_path) {
  return column(
      db_path,
      "SELECT r.arm || '|' || r.seed || '|' || r.status || '|' || ifnull(r.final_top1, '') || '|' "
      "|| ifnull(c.epoch, '') || '|' || c.phase || '|' || c.widths || '|' || c.macs || '|' || "
      "c.params || '|' || ifnull(c.latency_cycles, '') || '|' || ifnull(c.energy_pj, '') || '|' "
      "|| ifnull(c.top1, '') FROM candidates c JOIN runs r ON r.id = c.run_id ORDER BY r.arm, "
      "r.seed, c.phase, c.epoch, c.widths");
}

std::int64_t count_runs(const std::string& db_path) {
  results::OpenOptions ro;
  ro.mode = results::OpenMode::kReadOnly;
  return *results::Database(db_path, ro).query_int("SELECT count(*) FROM runs");
}

TEST_F(Campaign, ASecondRunOfAFinishedPlanDoesNothing) {
  const Plan plan = tiny_plan();
  const CampaignOptions o = options("c");
  const CampaignSummary first = run_campaign(plan, o);
  EXPECT_EQ(first.ran, 3);
  EXPECT_EQ(first.failed, 0);
  EXPECT_EQ(first.merged.runs_added, 3);
  for (const JobStatus& s : first.states) EXPECT_EQ(s.state, JobState::kFinished);
  const std::vector<std::string> before = rows(o.db_path);
  EXPECT_GT(before.size(), 6u);
  const CampaignSummary second = run_campaign(plan, o);
  EXPECT_EQ(second.ran, 0);
  EXPECT_EQ(second.skipped, 3);
  EXPECT_EQ(second.merged.runs_added, 0);
  EXPECT_EQ(second.merged.runs_unchanged, 3);
  EXPECT_EQ(rows(o.db_path), before);
  EXPECT_EQ(count_runs(o.db_path), 3);
}

TEST_F(Campaign, APlanInterruptedMidJobAndRerunGivesTheRowsOfAnUninterruptedRun) {
  const Plan plan = tiny_plan();
  const CampaignOptions whole = options("whole");
  run_campaign(plan, whole);

  CampaignOptions cut = interrupted_in_nce_s1(plan, "cut");
  const std::vector<JobStatus> states = job_states(plan, cut);
  EXPECT_EQ(states[0].state, JobState::kFinished);
  EXPECT_EQ(states[1].state, JobState::kResumable);
  EXPECT_EQ(states[2].state, JobState::kPending);
  const CampaignSummary rest = run_campaign(plan, cut);
  EXPECT_EQ(rest.ran, 2);
  EXPECT_EQ(rest.skipped, 1);
  EXPECT_EQ(count_runs(cut.db_path), 3);  // the resumed job is still one run
  EXPECT_EQ(rows(cut.db_path), rows(whole.db_path));
}

TEST_F(Campaign, ShardsMergedEqualTheSerialRun) {
  const Plan plan = tiny_plan();
  const CampaignOptions serial = options("serial");
  run_campaign(plan, serial);
  CampaignOptions a = options("a"), b = options("b");
  a.work_dir = b.work_dir = (dir_ / "shared.jobs").string();
  a.shard = {0, 2};
  b.shard = {1, 2};
  EXPECT_EQ(run_campaign(plan, a).ran, 2);  // jobs 0 and 2
  EXPECT_EQ(run_campaign(plan, b).ran, 1);
  // The collect step: the unsharded command over the shared work directory runs nothing.
  CampaignOptions all = options("all");
  all.work_dir = a.work_dir;
  const CampaignSummary collected = run_campaign(plan, all);
  EXPECT_EQ(collected.ran, 0);
  EXPECT_EQ(collected.merged.runs_added, 3);
  EXPECT_EQ(rows(all.db_path), rows(serial.db_path));
}

TEST_F(Campaign, AnEditedPlanIsRefusedBeforeAnyJobRunsNamingTheFile) {
  const CampaignOptions o = options("c");
  run_campaign(tiny_plan(), o);
  const Plan changed = edited_plan("retrain-epochs = 1", "retrain-epochs = 2");
  try {
    run_campaign(changed, o);
    FAIL() << "an edited plan ran";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("original-s1.db holds a run of other settings"),
              std::string::npos)
        << e.what();
  }
}

// Every epoch row (search and retrain) of the database, without wall-clock columns.
std::vector<std::string> epoch_rows(const std::string& db_path) {
  return column(
      db_path,
      "SELECT r.arm || '|' || r.seed || '|' || e.epoch || '|' || e.phase || '|' || e.loss || '|' "
      "|| e.top1 || '|' || ifnull(e.test_top1, '') FROM epochs e JOIN runs r ON r.id = e.run_id "
      "ORDER BY r.arm, r.seed, e.phase, e.epoch");
}

TEST_F(Campaign, AHalfDoneJobMovedToAnotherDirectoryResumesToTheSameRows) {
  const Plan plan = tiny_plan();
  const CampaignOptions whole = options("whole");
  run_campaign(plan, whole);

  // Interrupted in the nce job once its first epoch's checkpoint is written ...
  CampaignOptions cut = interrupted_in_nce_s1(plan, "cut");
  // ... then the database and its jobs directory move (another machine, a git checkout).
  const fs::path moved = dir_ / "elsewhere";
  fs::create_directories(moved);
  fs::rename(cut.db_path, moved / "cut.db");
  fs::rename(work_dir(cut), moved / "cut.db.jobs");
  CampaignOptions there;
  there.db_path = (moved / "cut.db").string();
  EXPECT_EQ(job_states(plan, there)[1].state, JobState::kResumable);
  const CampaignSummary rest = run_campaign(plan, there);
  EXPECT_EQ(rest.ran, 2);
  EXPECT_EQ(count_runs(there.db_path), 3);  // the moved job continued its run
  EXPECT_EQ(rows(there.db_path), rows(whole.db_path));
  EXPECT_EQ(epoch_rows(there.db_path), epoch_rows(whole.db_path));
  // The retrain's epochs are rows of their own (loss, train and test top-1).
  const std::vector<std::string> epochs = epoch_rows(whole.db_path);
  EXPECT_EQ(std::count_if(epochs.begin(), epochs.end(),
                          [](const std::string& r) {
                            return r.find("|retrain:final|") != std::string::npos;
                          }),
            2);  // the nce jobs' searched designs
  EXPECT_EQ(std::count_if(epochs.begin(), epochs.end(),
                          [](const std::string& r) {
                            return r.find("|retrain:original|") != std::string::npos;
                          }),
            1);
  // A finished job keeps its database, not its checkpoints.
  for (const auto& entry : fs::directory_iterator(moved / "cut.db.jobs")) {
    EXPECT_EQ(entry.path().string().find(".ckpt"), std::string::npos) << entry.path();
  }
}

TEST_F(Campaign, ACorruptJobDatabaseIsReportedAndTheOthersRun) {
  const Plan plan = tiny_plan();
  const CampaignOptions o = options("c");
  fs::create_directories(work_dir(o));
  const std::string bad = (fs::path(work_dir(o)) / "nce-s1.db").string();
  std::ofstream(bad) << "this is not a database, it is a sentence long enough to be read";
  const std::vector<JobStatus> before = job_states(plan, o);
  EXPECT_EQ(before[1].state, JobState::kCorrupt);
  EXPECT_NE(before[1].detail.find(bad), std::string::npos) << before[1].detail;
  const CampaignSummary s = run_campaign(plan, o);
  EXPECT_EQ(s.ran, 2);
  EXPECT_EQ(s.states[0].state, JobState::kFinished);
  EXPECT_EQ(s.states[1].state, JobState::kCorrupt);
  EXPECT_EQ(s.states[2].state, JobState::kFinished);
}

TEST_F(Campaign, AnotherPlansDatabaseIsRefusedBeforeAnyWrite) {
  const CampaignOptions o = options("c");
  run_campaign(tiny_plan(), o);
  const Plan foreign = edited_plan("name = tiny", "name = other", "other.cfg");
  CampaignOptions f = o;
  f.work_dir = (dir_ / "other.jobs").string();  // its own jobs; only the database is shared
  try {
    run_campaign(foreign, f);
    FAIL() << "another plan merged into the database";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(o.db_path + ": belongs to campaign 'tiny' of plan tiny.cfg"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("this is campaign 'other' of plan other.cfg"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(f.work_dir));  // nothing ran
  // The same name with other settings is another plan too.
  EXPECT_THROW(run_campaign(edited_plan("seeds = 1, 2", "seeds = 1, 3"), f), std::invalid_argument);
  // A database path that is a directory fails at once.
  CampaignOptions d = o;
  d.db_path = dir_.string();
  EXPECT_THROW(check_database_owner(tiny_plan(), d), std::invalid_argument);
}

TEST(CampaignShard, ParsesAndRefuses) {
  EXPECT_EQ(common::parse_shard("1/3").index, 1);
  EXPECT_EQ(common::parse_shard("1/3").count, 3);
  for (const char* bad : {"3/3", "-1/2", "1", "1/0", "a/b", "1/2x"}) {
    EXPECT_THROW(common::parse_shard(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace nce::campaign
