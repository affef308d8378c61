// nce campaign end to end: the command line, --list, and the MPI run against the serial one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli_test.h"
#include "nce/results/database.h"

namespace nce {
namespace {

namespace fs = std::filesystem;
using testing::run_nce;

class CampaignCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nce_campaign_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "plan.cfg") << "[campaign]\nname = tiny\nmodel = resnet8\n"
                                        "dataset = fashion-mnist\nseeds = 1, 2\nsubset = 10\n"
                                        "test-subset = 5\nhw = " NCE_SOURCE_DIR
                                        "/hw_configs/edge-16x16-ws-2b.cfg\n"
                                        "[protocol]\nwarmup-epochs = 1\nsearch-epochs = 1\n"
                                        "retrain-epochs = 1\npact-init = 3\nbatch = 16\n"
                                        "[arm original]\nmethod = none\n[arm tas]\nmethod = tas\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
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
  EXPECT_NE(out.find("ran 4, skipped 0, failed 0"), std::string::npos) << out;
  EXPECT_EQ(rows(path("m.db")), rows(path("s.db")));
  EXPECT_FALSE(rows(path("s.db")).empty());
}

}  // namespace
}  // namespace nce
