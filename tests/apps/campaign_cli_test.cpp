// nce campaign end to end: the command line, --list, and the MPI run against the serial one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "cli_test.h"
#include "nce/results/database.h"
#include "support/scratch_dir.h"

namespace nce {
namespace {

namespace fs = std::filesystem;
using testing::run_nce;

class CampaignCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "plan.cfg") << "[campaign]\nname = tiny\nmodel = resnet8\n"
                                        "dataset = fashion-mnist\nseeds = 1, 2\nsubset = 10\n"
                                        "test-subset = 5\nhw = " NCE_SOURCE_DIR
                                        "/hw_configs/edge-16x16-ws-2b.cfg\n"
                                        "[protocol]\nwarmup-epochs = 1\nsearch-epochs = 1\n"
                                        "retrain-epochs = 1\npact-init = 3\nbatch = 16\n"
                                        "[arm original]\nmethod = none\n[arm tas]\nmethod = tas\n";
  }
  std::string path(const std::string& name) const { return scratch_.file(name); }
  const testing::ScratchDir scratch_{"nce_campaign_cli_" + testing::current_test_name()};
  const fs::path dir_ = scratch_.root();
};

std::string rows(const std::string& db_path) {
  results::OpenOptions ro;
  ro.mode = results::OpenMode::kReadOnly;
  results::Database db(db_path, ro);
  auto q = db.prepare(
      "SELECT r.arm, r.seed, r.status, r.final_top1, c.phase, c.epoch, c.widths, c.macs, "
      "c.latency_cycles, c.top1 FROM candidates c JOIN runs r ON r.id = c.run_id ORDER BY r.arm, "
      "r.seed, c.phase, c.epoch, c.widths");
  std::string text;
  while (q.step()) {
    for (int i = 0; i < 10; ++i) text += (q.is_null(i) ? "NULL" : q.column_text(i)) + "|";
    text += "\n";
  }
  return text;
}

TEST_F(CampaignCli, ListsRunsAndSkipsWhatIsDone) {
  const std::string args = "campaign --plan " + path("plan.cfg") + " --db " + path("c.db");
  auto r = run_nce(args + " --list");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tas-s2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pending 4"), std::string::npos) << r.output;
  r = run_nce(args + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ran 4, skipped 0, failed 0"), std::string::npos) << r.output;
  r = run_nce(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ran 0, skipped 4"), std::string::npos) << r.output;
  r = run_nce(args + " --list");
  EXPECT_NE(r.output.find("finished 4"), std::string::npos) << r.output;
  r = run_nce("campaign --plan " + path("nope.cfg") + " --db " + path("c.db"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("nope.cfg"), std::string::npos) << r.output;
}

// One canonical config (nce/record/search_settings.h): `nce search` and a campaign job with the
// same settings store the same runs.config, but for the job's campaign and arm labels.
TEST_F(CampaignCli, SearchAndACampaignJobWithTheSameSettingsStoreTheSameConfig) {
  std::ofstream(dir_ / "same.cfg") << "[campaign]\nname = same\nmodel = resnet8\n"
                                      "dataset = fashion-mnist\nseeds = 4\nsubset = 10\n"
                                      "test-subset = 5\nhw = " NCE_SOURCE_DIR
                                      "/hw_configs/edge-16x16-ws-2b.cfg\n"
                                      "[protocol]\nwarmup-epochs = 1\nsearch-epochs = 1\n"
                                      "retrain = no\npact-init = 3\nbatch = 16\n"
                                      "max-batches = 2\ntas-counting = yes\n"
                                      "[arm tas]\nmethod = tas\nlambda-latency = 0.5\n";
  auto r = run_nce("campaign --quiet --plan " + path("same.cfg") + " --db " + path("c.db"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_nce(
      "search --quiet --method tas --model resnet8 --dataset fashion-mnist --seed 4 "
      "--subset 10 --test-subset 5 --hw " NCE_SOURCE_DIR
      "/hw_configs/edge-16x16-ws-2b.cfg --warmup-epochs 1 --search-epochs 1 "
      "--no-retrain --pact-init 3 --batch 16 --max-batches 2 --tas-counting "
      "--lambda-latency 0.5 --db " +
      path("s.db"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto config_of = [](const std::string& db_path) {
    results::OpenOptions ro;
    ro.mode = results::OpenMode::kReadOnly;
    results::Database db(db_path, ro);
    auto q = db.prepare("SELECT config FROM runs");
    EXPECT_TRUE(q.step()) << db_path;
    std::string config = q.column_text(0);
    EXPECT_FALSE(q.step()) << db_path;  // one run
    return config;
  };
  std::string job = config_of(path("c.db"));
  const std::string search = config_of(path("s.db"));
  const std::vector<std::pair<std::string, std::string>> labels = {
      {"\"arm\":\"tas\"", "\"arm\":\"\""}, {"\"campaign\":\"same\"", "\"campaign\":\"\""}};
  for (const auto& [label, none] : labels) {
    const auto at = job.find(label);
    ASSERT_NE(at, std::string::npos) << job;
    job.replace(at, label.size(), none);
  }
  EXPECT_EQ(job, search);
  EXPECT_NE(search.find("\"retrain\":false"), std::string::npos) << search;
  EXPECT_NE(search.find("\"count_width_shortcuts\":false"), std::string::npos) << search;
  EXPECT_NE(search.find("\"hw\":\"cost_model="), std::string::npos) << search;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Two campaigns started together on one plan and work directory: every job runs exactly once
// (the other process skips a job it finds locked) and both end cleanly.
TEST_F(CampaignCli, TwoConcurrentCampaignsOnOnePlanFinishEveryJobExactlyOnce) {
  const std::string args =
      "campaign --quiet --threads 1 --plan " + path("plan.cfg") + " --db " + path("c.db");
  const std::string both = NCE_BINARY " " + args + " > " + path("a.log") + " 2>&1 & p=$!; " +
                           NCE_BINARY " " + args + " > " + path("b.log") +
                           " 2>&1 & q=$!; wait $p; a=$?; wait $q; b=$?; exit $((a + b))";
  ASSERT_EQ(std::system(("bash -c '" + both + "'").c_str()), 0)
      << file_bytes(path("a.log")) << file_bytes(path("b.log"));
  const std::string a = file_bytes(path("a.log")), b = file_bytes(path("b.log"));
  EXPECT_EQ(a.find("no such table"), std::string::npos) << a;
  EXPECT_EQ(b.find("no such table"), std::string::npos) << b;
  // "ran N" of each process adds up to the plan's 4 jobs.
  auto ran = [](const std::string& log) {
    const auto at = log.find(": ran ");
    return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + 6);
  };
  EXPECT_EQ(ran(a) + ran(b), 4) << a << b;
  results::OpenOptions ro;
  ro.mode = results::OpenMode::kReadOnly;
  results::Database db(path("c.db"), ro);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 4);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs WHERE status = 'finished'"), 4);
  EXPECT_EQ(db.query_int("SELECT count(DISTINCT arm || seed) FROM runs"), 4);
  auto r = run_nce("campaign --plan " + path("plan.cfg") + " --db " + path("c.db") + " --list");
  EXPECT_NE(r.output.find("finished 4"), std::string::npos) << r.output;
}

// A database that belongs to another plan is refused before anything is written: it is left
// byte-identical, and the message names it.
TEST_F(CampaignCli, AForeignPlansDatabaseIsRefusedAndLeftByteIdentical) {
  auto r = run_nce("campaign --quiet --plan " + path("plan.cfg") + " --db " + path("c.db"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string other = file_bytes(path("plan.cfg"));
  other.replace(other.find("name = tiny"), 11, "name = other");
  std::ofstream(path("other.cfg")) << other;
  // The database and its write-ahead log (SQLite keeps it between connections).
  auto contents = [&] { return file_bytes(path("c.db")) + "|" + file_bytes(path("c.db-wal")); };
  const std::string before = contents();
  r = run_nce("campaign --quiet --plan " + path("other.cfg") + " --db " + path("c.db") +
              " --work " + path("other.jobs"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(path("c.db") + ": belongs to campaign 'tiny'"), std::string::npos)
      << r.output;
  EXPECT_EQ(contents(), before);
  EXPECT_FALSE(fs::exists(path("other.jobs")));
}

TEST_F(CampaignCli, ListReportsACorruptJobDatabaseOnItsOwnLine) {
  fs::create_directories(path("c.db.jobs"));
  std::ofstream(path("c.db.jobs/tas-s1.db"))
      << "garbage, not SQLite, long enough to be read as one";
  auto r = run_nce("campaign --plan " + path("plan.cfg") + " --db " + path("c.db") + " --list");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tas-s1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("corrupt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n      " + path("c.db.jobs/tas-s1.db")), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pending 3"), std::string::npos) << r.output;
}

// The MPI run (2 ranks on this machine) gives the rows of the serial run.
TEST_F(CampaignCli, MpirunWithTwoRanksEqualsTheSerialRun) {
  if (std::system("mpirun --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no mpirun (apt-get install openmpi-bin libopenmpi-dev)";
  }
  auto serial = run_nce("campaign --quiet --plan " + path("plan.cfg") + " --db " + path("s.db"));
  ASSERT_EQ(serial.exit_code, 0) << serial.output;
  // Root in CI containers: OpenMPI refuses root unless told; one thread per rank.
  const std::string mpirun =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "
      "mpirun -np 2 --oversubscribe " NCE_BINARY " campaign --threads 1 --plan " +
      path("plan.cfg") + " --db " + path("m.db") + " 2>&1";
  FILE* pipe = popen(mpirun.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  if (out.find("built without MPI") != std::string::npos) {
    GTEST_SKIP() << "nce was built without MPI";
  }
  ASSERT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("2 MPI ranks"), std::string::npos) << out;
  EXPECT_NE(out.find("[rank 1]"), std::string::npos) << out;  // rank 1 took jobs
  // Each rank counts its own jobs (it cannot know how many the others have left).
  EXPECT_NE(out.find("done by this rank"), std::string::npos) << out;
  EXPECT_EQ(out.find(" left"), std::string::npos) << out;
  EXPECT_NE(out.find("ran 4, skipped 0, failed 0"), std::string::npos) << out;
  EXPECT_EQ(rows(path("m.db")), rows(path("s.db")));
  EXPECT_FALSE(rows(path("s.db")).empty());
}

}  // namespace
}  // namespace nce
