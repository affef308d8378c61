// The SQLite sink: what producers write comes back through the stable views; concurrent writer
// processes lose nothing; a writer killed mid-transaction leaves a consistent database.
#include "nce/results/sqlite_sink.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include "nce/results/candidates.h"
#include "nce/results/query.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::ScratchFile;

// The first column of the first row of `sql`, as text ("" when there is no row).
std::string first_text(const Database& db, const std::string& sql) {
  const QueryResult r = run_query(db, sql);
  return r.rows.empty() ? std::string() : r.rows[0][0].text;
}

RunInfo search_run() {
  RunInfo info = testing::run_info("nce", "resnet20", "cifar10");
  info.bits = 2;
  info.hw = "mid-32x32-os-2b";
  info.config_json = R"({"threshold":0.3,"lambda_flops":2})";
  info.git_commit = "0123456789ab";
  info.seed = 42;
  return info;
}

TEST(SqliteSink, RunEpochsAndCandidatesRoundTrip) {
  ScratchFile file;
  SqliteSink sink(file.path());
  RunId run = sink.begin_run(search_run());
  EpochRecord e;
  e.epoch = 3;
  e.phase = "search";
  e.loss = 1.25;
  e.test_top1 = 61.5;
  e.seconds = 2.5;
  sink.record_epoch(run, e);
  CandidateRecord c;
  c.epoch = 3;
  c.phase = "search";
  c.widths = {3, 16, 8, 16};
  c.macs = 1000;
  c.params = 200;
  c.latency_cycles = 5000;
  c.stall_cycles = 10;
  c.energy_pj = 123.5;
  sink.record_candidate(run, c);
  sink.finish_run(run, RunStatus::kFinished, 91.25);

  Database& db = sink.database();
  auto runs = run_query(db,
                        "SELECT method, model, dataset, bits, hw, status, final_top1, config, "
                        "finished_at IS NOT NULL FROM v_runs");
  ASSERT_EQ(runs.rows.size(), 1u);
  EXPECT_EQ(runs.rows[0][0].text, "nce");
  EXPECT_EQ(runs.rows[0][3].integer, 2);
  EXPECT_EQ(runs.rows[0][5].text, "finished");
  EXPECT_DOUBLE_EQ(runs.rows[0][6].real, 91.25);
  EXPECT_EQ(runs.rows[0][7].text, R"({"threshold":0.3,"lambda_flops":2})");
  EXPECT_EQ(runs.rows[0][8].integer, 1);
  EXPECT_EQ(db.query_int("SELECT seed FROM runs"), 42);
  EXPECT_EQ(run_query(db, "SELECT git_commit FROM runs").rows[0][0].text, "0123456789ab");
  EXPECT_EQ(db.query_int("SELECT wall_seconds >= 0 FROM runs"), 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs WHERE test_top1 = 61.5"), 1);

  auto rows = load_candidates(db, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].widths, "[3,16,8,16]");
  EXPECT_EQ(rows[0].method, "nce");  // inherited from the run
  EXPECT_EQ(rows[0].hw, "mid-32x32-os-2b");
  EXPECT_EQ(rows[0].latency_cycles, 5000);
  EXPECT_FALSE(rows[0].top1.has_value());
}

TEST(SqliteSink, CandidateOverridesShowInView) {
  ScratchFile file;
  SqliteSink sink(file.path());
  RunInfo info;
  info.method = "sweep";
  RunId run = sink.begin_run(info);
  CandidateRecord c;
  c.widths = {3, 16};
  c.method = "wrpn";
  c.model = "resnet8";
  c.bits = 4;
  c.hw = "edge-16x16-ws-2b";
  sink.record_candidate(run, c);
  auto rows = load_candidates(sink.database(), {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].method, "wrpn");
  EXPECT_EQ(rows[0].model, "resnet8");
  EXPECT_EQ(rows[0].bits, 4);
  EXPECT_EQ(rows[0].hw, "edge-16x16-ws-2b");
  CandidateFilter only_wrpn;
  only_wrpn.method = "wrpn";
  EXPECT_EQ(load_candidates(sink.database(), only_wrpn).size(), 1u);
  only_wrpn.method = "sweep";
  EXPECT_EQ(load_candidates(sink.database(), only_wrpn).size(), 0u);
}

TEST(SqliteSink, RunScopeMarksAnAbandonedRunFailed) {
  ScratchFile file;
  SqliteSink sink(file.path());
  try {
    RunScope run(sink, search_run());
    throw std::runtime_error("training diverged");
  } catch (const std::runtime_error&) {
  }
  {
    RunScope ok(sink, search_run());
    ok.finish(RunStatus::kFinished, 90.0);
  }
  auto status = run_query(sink.database(), "SELECT status FROM v_runs ORDER BY run_id");
  ASSERT_EQ(status.rows.size(), 2u);
  EXPECT_EQ(status.rows[0][0].text, "failed");
  EXPECT_EQ(status.rows[1][0].text, "finished");
}

TEST(SqliteSink, NumbersThatCannotBeMeasurementsAreRefused) {
  ScratchFile file;
  SqliteSink sink(file.path());
  RunId run = sink.begin_run(search_run());
  CandidateRecord good;
  good.widths = {3, 16};
  good.macs = 10;
  good.latency_cycles = 100;
  good.energy_pj = 5.0;
  good.top1 = 50.0;
  std::vector<CandidateRecord> bad(7, good);
  bad[0].latency_cycles = -5;  // an overflowed cost model (issue 13)
  bad[1].macs = -1;
  bad[2].energy_pj = std::nan("");
  bad[3].energy_pj = HUGE_VAL;
  bad[4].top1 = 100.5;
  bad[5].top1 = std::nan("");
  bad[6].stall_cycles = -1;
  for (const auto& b : bad) {
    EXPECT_THROW(sink.record_candidates(run, {good, b}), std::invalid_argument);
  }
  EpochRecord e;
  e.epoch = 1;
  e.phase = "train";
  e.loss = std::nan("");
  EXPECT_THROW(sink.record_epoch(run, e), std::invalid_argument);
  sink.record_candidates(run, {good});
  Database db(file.path());
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 1);  // all or none per call
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs"), 0);
}

TEST(SqliteSink, DivergedRunsAreOffTheViewsAndEveryFront) {
  ScratchFile file;
  {
    SqliteSink sink(file.path());
    CandidateRecord c;
    c.widths = {3, 16};
    c.macs = 10;
    c.top1 = 99.0;
    RunId good = sink.begin_run(search_run());
    sink.record_candidate(good, c);
    sink.finish_run(good, RunStatus::kFinished, 99.0);
    RunId diverged = sink.begin_run(search_run());
    c.macs = 5;  // would dominate the good one
    c.top1 = 100.0;
    sink.record_candidate(diverged, c);
    sink.finish_run(diverged, RunStatus::kDiverged, std::nullopt);
  }
  Database db(file.path());
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 2);  // kept for the record
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_runs WHERE status = 'diverged'"), 1);
  const auto rows = load_candidates(db, CandidateFilter{});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(*rows[0].top1, 99.0);
}

// Issue 13, finding 6: a resume continues the run of its key (one run, its history whole), and a
// design the run already recorded is not recorded twice.
TEST(SqliteSink, ResumeRunContinuesTheRunOfItsKeyAndRecordsEachDesignOnce) {
  ScratchFile file;
  SqliteSink sink(file.path());
  RunInfo info = search_run();
  info.resume_key = "search /runs/a.ckpt";
  CandidateRecord c;
  c.epoch = 1;
  c.phase = "search";
  c.widths = {3, 16};
  c.macs = 10;
  const RunId first = sink.begin_run(info);
  sink.record_candidate(first, c);
  sink.finish_run(first, RunStatus::kInterrupted, std::nullopt);
  RunInfo other = search_run();
  other.resume_key = "search /runs/b.ckpt";
  const RunId unrelated = sink.begin_run(other);
  sink.finish_run(unrelated, RunStatus::kInterrupted, std::nullopt);

  const RunId resumed = sink.resume_run(info);
  EXPECT_EQ(resumed, first);
  Database& db = sink.database();
  EXPECT_EQ(first_text(db, "SELECT status FROM runs WHERE id = " + std::to_string(first)),
            "running");
  EXPECT_EQ(
      db.query_int("SELECT finished_at IS NULL FROM runs WHERE id = " + std::to_string(first)), 1);
  sink.record_candidate(resumed, c);  // reported again: stays one row
  c.epoch = 2;
  sink.record_candidate(resumed, c);
  c.phase = "final";
  c.top1 = 50;
  sink.record_candidate(resumed, c);
  sink.finish_run(resumed, RunStatus::kFinished, 50.0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates WHERE run_id = " + std::to_string(first)),
            3);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates WHERE phase = 'final'"), 1);
  EXPECT_EQ(first_text(db, "SELECT status FROM v_runs WHERE run_id = " + std::to_string(first)),
            "finished");
  // A key this database has never seen (or none) starts a run.
  RunInfo fresh = search_run();
  fresh.resume_key = "search /runs/c.ckpt";
  EXPECT_GT(sink.resume_run(fresh), unrelated);
  EXPECT_GT(sink.resume_run(search_run()), unrelated + 1);
}

TEST(SqliteSink, FinishingAnUnknownRunIsAnError) {
  ScratchFile file;
  SqliteSink sink(file.path());
  EXPECT_THROW(sink.finish_run(77, RunStatus::kFinished, std::nullopt), DatabaseError);
}

// Two processes create the same (new) database at once and insert 1,000 candidates each, one
// transaction per candidate: every row arrives.
TEST(SqliteSink, TwoProcessesInsertingConcurrentlyLoseNothing) {
  ScratchFile file;
  constexpr int kPerProcess = 1000;
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(go[1]);
      char byte;
      if (read(go[0], &byte, 1) != 1) _exit(3);  // start together
      try {
        SqliteSink sink(file.path());
        RunInfo info;
        info.method = p == 0 ? "nce" : "tas";
        RunId run = sink.begin_run(info);
        for (int i = 0; i < kPerProcess; ++i) {
          CandidateRecord c;
          c.epoch = i;
          c.widths = {3, p, i};
          c.macs = i;
          sink.record_candidate(run, c);
        }
        sink.finish_run(run, RunStatus::kFinished, std::nullopt);
      } catch (const std::exception& e) {
        fprintf(stderr, "child %d: %s\n", p, e.what());
        _exit(1);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  close(go[0]);
  ASSERT_EQ(write(go[1], "gg", 2), 2);
  close(go[1]);
  ASSERT_NO_FATAL_FAILURE(testing::expect_children_exit_cleanly(children));
  Database db(file.path());
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 2 * kPerProcess);
  EXPECT_EQ(db.query_int("SELECT count(DISTINCT widths) FROM v_candidates"), 2 * kPerProcess);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_runs WHERE status = 'finished'"), 2);
  EXPECT_EQ(db.integrity_check(), "ok");
}

// A writer killed with SIGKILL while committing batches leaves a database that passes the
// integrity check and holds exactly the batches committed (whole batches only).
TEST(SqliteSink, WriterKilledMidWriteLeavesConsistentDatabase) {
  ScratchFile file;
  constexpr int kBatch = 25;
  { SqliteSink create(file.path()); }
  int done[2];
  ASSERT_EQ(pipe(done), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(done[0]);
    try {
      SqliteSink sink(file.path());
      RunId run = sink.begin_run(search_run());
      for (int b = 0;; ++b) {
        std::vector<CandidateRecord> batch(kBatch);
        for (int i = 0; i < kBatch; ++i) {
          batch[i].epoch = b;
          batch[i].widths = std::vector<int>(64, b + i);
          batch[i].macs = b;
        }
        sink.record_candidates(run, batch);
        if (write(done[1], "c", 1) != 1) _exit(2);  // one byte per committed batch
      }
    } catch (...) {
      _exit(1);
    }
  }
  close(done[1]);
  int committed = 0;
  char byte;
  while (committed < 40 && read(done[0], &byte, 1) == 1) ++committed;
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  while (read(done[0], &byte, 1) == 1) ++committed;
  close(done[0]);

  Database db(file.path());
  EXPECT_EQ(db.integrity_check(), "ok");
  std::int64_t rows = db.query_int("SELECT count(*) FROM candidates").value_or(-1);
  EXPECT_EQ(rows % kBatch, 0) << rows;
  // Committed batches are all there; at most one more committed before it could report.
  EXPECT_GE(rows / kBatch, committed);
  EXPECT_LE(rows / kBatch, committed + 1);
  // Every stored batch is complete.
  EXPECT_EQ(db.query_int("SELECT count(*) FROM (SELECT epoch FROM candidates GROUP BY epoch "
                         "HAVING count(*) <> " +
                         std::to_string(kBatch) + ")"),
            0);
  EXPECT_EQ(run_query(db, "SELECT status FROM v_runs").rows[0][0].text, "running");
}

}  // namespace
}  // namespace nce::results
