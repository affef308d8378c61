#include "nce/campaign/plan.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nce/results/database.h"
#include "support/errors.h"

namespace nce::campaign {
namespace {

using nce::testing::what_thrown;

const char* kPlan = R"(
[campaign]
name = t
model = resnet8
dataset = fashion-mnist
seeds = 1, 2
[protocol]
bits = 2
warmup_epochs = 1
search-epochs = 2
[arm original]
method = none
[arm tas-2x]
method = tas
base-multiplier = 2
seeds = 7
)";

std::string error_of(const std::string& text) {
  return what_thrown<std::invalid_argument>([&] { parse_plan(text, "p.cfg", ""); });
}

// The canonical config of a job (its identity in the plan's fingerprint and what its run stores,
// record::config_json) must not drift: a committed campaign's jobs would turn stale. The golden
// string is what the code of issue 27 (before the settings moved to nce_record) wrote for this job.
const char* kGoldenPlan = R"([campaign]
name = golden
model = resnet8
dataset = fashion-mnist
subset = 20
test-subset = 10
seeds = 3

[protocol]
bits = 3
quantizer = lsq
pact-init = 3
warmup-epochs = 1
search-epochs = 2
retrain-epochs = 1
lambda-flops = 1.5
flops-target = 0.75
max-batches = 4
batch = 32
lr = 0.05
arch-lr = 0.002
threshold = 0.25

[arm tas-2x]
method = tas
base-multiplier = 2
tas-counting = yes
distill = yes
distill-temperature = 3.5
distill-weight = 0.8
distill-teacher-bits = 4
widths = 1,16,16,16,32,32,64,64
wrpn-multipliers = 1,1.5
random-samples = 5
augment = yes
retrain = yes
)";

TEST(Plan, AJobsConfigJsonKeepsItsCanonicalFormByteForByte) {
  const Plan p = parse_plan(kGoldenPlan, "golden.cfg", "");
  ASSERT_EQ(p.jobs.size(), 1u);
  EXPECT_EQ(
      p.jobs[0].config_json,
      R"({"arch_lr":0.002,"arm":"tas-2x","augment":true,"base_multiplier":2,"batch":32,"bits":3,"campaign":"golden","count_width_shortcuts":false,"dataset":"fashion-mnist","distill":true,"distill_teacher_bits":4,"distill_temperature":3.5,"distill_weight":0.8000000119,"energy":[0,1],"flops":[1.5,0.75],"hw":"","latency":[0,1],"lr":0.05,"max_batches":4,"max_candidates":16,"method":"tas","model":"resnet8","pact_init":3,"params":[2,1],"quantizer":"lsq","random_samples":5,"retrain":true,"retrain_epochs":1,"search_epochs":2,"seed":3,"subset":20,"test_subset":10,"threshold":0.25,"warmup_epochs":1,"widths":[1,16,16,16,32,32,64,64],"wrpn_multipliers":[1,1.5]})");
  EXPECT_EQ(p.fingerprint, "88a8a1fcc36258005454e70937a55210");
}

// The committed campaign's plan still describes the jobs its databases hold (no job turns stale):
// every job database in results/campaigns/<plan>.db.jobs stores exactly the job's config_json.
TEST(Plan, TheCommittedCampaignsJobsMatchTheirStoredConfigs) {
  const std::string dir = std::string(NCE_SOURCE_DIR) + "/results/campaigns/";
  const Plan p = load_plan(dir + "cifar10-resnet20-w2a2.cfg");
  int compared = 0;
  for (const Job& job : p.jobs) {
    const std::string committed = dir + "cifar10-resnet20-w2a2.db.jobs/" + job.id + ".db";
    if (!std::filesystem::exists(committed)) continue;
    // A copy: opening the committed file would leave -wal/-shm files in the source tree.
    const std::string db_path = (std::filesystem::temp_directory_path() /
                                 ("nce_plan_test_" + std::to_string(::getpid()) + ".db"))
                                    .string();
    std::filesystem::copy_file(committed, db_path,
                               std::filesystem::copy_options::overwrite_existing);
    std::string stored;
    {
      results::Database db(db_path);
      auto q = db.prepare("SELECT config FROM runs ORDER BY id DESC LIMIT 1");
      if (q.step()) stored = q.column_text(0);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path + suffix);
    EXPECT_EQ(stored, job.config_json) << committed;
    ++compared;
  }
  EXPECT_GE(compared, 2);  // tas-s1 and nce-s1 are committed
}

TEST(Plan, JobsAreArmsTimesSeedsSeedMajorWithTheArmsOverrides) {
  const Plan p = parse_plan(kPlan, "p.cfg", "");
  ASSERT_EQ(p.jobs.size(), 3u);
  EXPECT_EQ(p.jobs[0].id, "original-s1");
  EXPECT_EQ(p.jobs[1].id, "original-s2");
  EXPECT_EQ(p.jobs[2].id, "tas-2x-s7");
  EXPECT_EQ(p.jobs[2].config.method, "tas");
  EXPECT_EQ(p.jobs[2].config.base_multiplier, 2.0);
  EXPECT_EQ(p.jobs[2].config.seed, 7u);
  EXPECT_EQ(p.jobs[0].config.warmup_epochs, 1);  // '_' and '-' spell the same key
  EXPECT_EQ(p.jobs[0].config.search_epochs, 2);
  EXPECT_EQ(p.jobs[0].config.model, "resnet8");
  EXPECT_FALSE(p.jobs[0].config.augment);  // Fashion-MNIST: no crop/flip by default
  // The identity of a job is every setting: seeds and overrides change it, nothing else does.
  EXPECT_NE(p.jobs[0].config_json, p.jobs[1].config_json);
  EXPECT_EQ(parse_plan(kPlan, "other.cfg", "").jobs[1].config_json, p.jobs[1].config_json);
}

// Each plan text is refused with an error that holds the text given with it.
void expect_refused(const std::vector<std::pair<std::string, std::string>>& plans) {
  for (const auto& [text, needle] : plans) {
    const std::string e = error_of(text);
    EXPECT_NE(e.find(needle), std::string::npos) << e;
  }
}

TEST(Plan, UnknownKeysSectionsAndBadValuesAreRefusedWithTheLine) {
  expect_refused({
      {std::string(kPlan) + "[arm x]\nmethod = nce\nlamda-flops = 2\n",
       "p.cfg:19: unknown key 'lamda-flops' in [arm x]"},
      {std::string(kPlan) + "[arms]\n", "p.cfg:17: unknown section [arms]"},
      {std::string(kPlan) + "[arms]\nk = v\n", "p.cfg:17: unknown section [arms]"},
      {"[campaign]\nname = t\n[protocol]\nlr = fast\n[arm a]\nmethod = none\n",
       "p.cfg:4: 'lr' must be a finite number, got 'fast'"},
      {"[campaign]\nname = t\nseeds = 1, 1\n[arm a]\nmethod = none\n", "lists seed 1 twice"},
      {"[campaign]\nname = t\n[arm a]\nmethod = none\nmethod = tas\n",
       "p.cfg:5: key 'method' given twice"},
  });
}

TEST(Plan, NoArmNoMethodNoNameOrAnImpossibleProtocolIsRefused) {
  EXPECT_NE(error_of("[campaign]\nname = t\n[protocol]\nbits = 2\n").find("the plan has no arm"),
            std::string::npos);
  EXPECT_NE(error_of("[campaign]\nname = t\n[arm a]\nseeds = 1\n").find("arm 'a' needs a method"),
            std::string::npos);
  EXPECT_NE(error_of("[arm a]\nmethod = none\n").find("needs a name"), std::string::npos);
  expect_refused({
      {"[campaign]\nname = t\n[protocol]\nthreshold = 1.5\n[arm a]\nmethod = nce\n",
       "arm 'a': --threshold must be in (0, 1), got 1.5"},
      {"[campaign]\nname = t\n[arm a]\nmethod = nce\nwarmup-epochs = 0\nsearch-epochs = 0\n",
       "needs at least one warm-up or search epoch"},
      {"[campaign]\nname = t\n[arm a]\nmethod = genetic\n", "genetic"},
      {"[campaign]\nname = t\n[protocol]\nlambda-latency = 1\n[arm a]\nmethod = tas\n",
       "needs a hardware config"},
      {"[campaign]\nname = t\nhw = /no/such.cfg\n[arm a]\nmethod = tas\n", "/no/such.cfg"},
  });
}

TEST(Plan, HwPathsAreRelativeToThePlanAndEveryJobRunsOnEach) {
  const std::string text =
      "[campaign]\nname = t\nmodel = resnet8\ndataset = fashion-mnist\nhw = "
      "edge-16x16-ws-2b.cfg, mid-32x32-os-2b.cfg\n[arm a]\nmethod = none\n";
  const Plan p = parse_plan(text, "p.cfg", std::string(NCE_SOURCE_DIR) + "/hw_configs");
  ASSERT_EQ(p.jobs.size(), 2u);
  EXPECT_EQ(p.jobs[0].id, "a@edge-16x16-ws-2b-s1");
  EXPECT_EQ(p.jobs[1].id, "a@mid-32x32-os-2b-s1");
  EXPECT_NE(p.jobs[0].config_json, p.jobs[1].config_json);  // the hw fingerprint is in it
}

TEST(Plan, EmptyAndRepeatedSectionsAreRefusedWithTheirLines) {
  std::string e = error_of(std::string(kPlan) + "[arm x]\n");
  EXPECT_NE(e.find("p.cfg:17: section [arm x] is empty (an arm needs method = ...)"),
            std::string::npos)
      << e;
  e = error_of("[campaign]\nname = t\n[protocol]\n[arm a]\nmethod = none\n");
  EXPECT_NE(e.find("p.cfg:3: section [protocol] is empty"), std::string::npos) << e;
  // A second [campaign] would silently merge its keys into the first.
  e = error_of("[campaign]\nname = t\n[arm a]\nmethod = none\n[campaign]\nseeds = 4\n");
  EXPECT_NE(e.find("p.cfg:5: section [campaign] given twice (first at line 1)"), std::string::npos)
      << e;
  e = error_of("[campaign]\nname = t\n[arm a]\nmethod = none\n[arm  a]\nmethod = tas\n");
  EXPECT_NE(e.find("p.cfg:5: section [arm a] given twice (first at line 3)"), std::string::npos)
      << e;
}

TEST(Plan, AnUnknownModelOrAWidthsListOfTheWrongLengthIsRefusedAtItsKey) {
  std::string e = error_of("[campaign]\nname = t\nmodel = resnet21\n[arm a]\nmethod = none\n");
  EXPECT_NE(e.find("p.cfg:3: 'model': unknown model 'resnet21' (searchable: "), std::string::npos)
      << e;
  e = error_of(
      "[campaign]\nname = t\nmodel = resnet8\ndataset = fashion-mnist\n[arm a]\nmethod = none\n"
      "widths = 1,16,16,16,32,32,64\n");
  EXPECT_NE(e.find("p.cfg:7: 'widths' (arm 'a'): model 'resnet8' takes 8 widths"),
            std::string::npos)
      << e;
  // In [protocol], it is named there (for the arm that uses it).
  e = error_of(
      "[campaign]\nname = t\nmodel = resnet8\n[protocol]\nwidths = 3,16\n[arm b]\nmethod = tas\n");
  EXPECT_NE(e.find("p.cfg:5: 'widths' (arm 'b'): model 'resnet8' takes 8 widths"),
            std::string::npos)
      << e;
  // The right length (the input's channels of the data set first) is taken.
  EXPECT_EQ(error_of("[campaign]\nname = t\nmodel = resnet8\ndataset = fashion-mnist\n[arm a]\n"
                     "method = none\nwidths = 1,16,16,16,32,32,64,64\n"),
            "");
}

TEST(Plan, JobIdsOfDifferentArmHwAndSeedNeverCollide) {
  // "a" on "b-c" and "a-b" on "c" were both "a-b-c-s1".
  EXPECT_NE(job_id("a", "b-c", 1), job_id("a-b", "c", 1));
  EXPECT_NE(job_id("a-s1", "", 2), job_id("a", "", 1));
  EXPECT_NE(job_id("a", "s1", 2), job_id("a", "", 1));
  EXPECT_EQ(job_id("nce", "", 3), "nce-s3");
  EXPECT_EQ(job_id("nce", "edge", 3), "nce@edge-s3");
  // Arms that differ only in case would be one file on a case-insensitive file system.
  const std::string e = error_of(
      "[campaign]\nname = t\n[arm Nce]\nmethod = nce\n[arm nce]\n"
      "method = nce\n");
  EXPECT_NE(e.find("jobs 'Nce-s1' and 'nce-s1' differ only in case"), std::string::npos) << e;
}

class PlanHw : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("nce_plan_hw_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    base_ = read(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // base_ with its name replaced (and its array's rows, if `rows` > 0), written to dir_/file.
  std::string write(const std::string& file, const std::string& name, int rows = 0) {
    std::string text;
    std::istringstream in(base_);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("name =", 0) == 0) line = "name = " + name;
      if (rows > 0 && line.rfind("rows =", 0) == 0) line = "rows = " + std::to_string(rows);
      text += line + "\n";
    }
    std::ofstream((dir_ / file).string()) << text;
    return file;
  }
  std::string plan_error(const std::string& hw_list) {
    try {
      parse_plan("[campaign]\nname = t\nhw = " + hw_list + "\n[arm a]\nmethod = none\n", "p.cfg",
                 dir_.string());
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  }
  std::filesystem::path dir_;
  std::string base_;
};

TEST_F(PlanHw, AnHwNameThatIsNotAPlainFileNameWordIsRefused) {
  for (const char* name : {"../escape", "a/b", "..", "x..y", ".hidden"}) {
    write("bad.cfg", name);
    const std::string e = plan_error("bad.cfg");
    EXPECT_NE(e.find("p.cfg:3: 'hw': "), std::string::npos) << name << ": " << e;
    EXPECT_NE(e.find("must be 1-64 letters, digits"), std::string::npos) << name << ": " << e;
  }
  write("ctl.cfg", "a\x1b[2Jb");
  const std::string e = plan_error("ctl.cfg");
  EXPECT_NE(e.find("'a\\x1b[2Jb'"), std::string::npos) << e;  // printed escaped
}

TEST_F(PlanHw, TwoArraysOfOneNameAreAnErrorNotOneJob) {
  write("one.cfg", "edge");
  write("two.cfg", "edge", 8);
  std::string e = plan_error("one.cfg, two.cfg");
  EXPECT_NE(e.find("two.cfg: names the hardware 'edge' like "), std::string::npos) << e;
  EXPECT_NE(e.find("describes another array"), std::string::npos) << e;
  e = plan_error("one.cfg, one.cfg");
  EXPECT_NE(e.find("the same array listed twice"), std::string::npos) << e;
  write("three.cfg", "mid");
  EXPECT_EQ(plan_error("one.cfg, three.cfg"), "");
}

}  // namespace
}  // namespace nce::campaign
