// Merging shard databases: every run, candidate and epoch arrives once, run ids are renumbered,
// merging again adds nothing, and a bad input leaves the output unchanged.
#include "nce/results/merge.h"

#include <gtest/gtest.h>

#include "nce/results/query.h"
#include "nce/results/sqlite_sink.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::ScratchFile;

void fill_shard(const std::string& path, const std::string& method, int candidates) {
  SqliteSink sink(path);
  RunInfo info;
  info.method = method;
  RunId run = sink.begin_run(info);
  EpochRecord e;
  e.epoch = 0;
  e.phase = "search";
  e.loss = 1.0;
  sink.record_epoch(run, e);
  sink.record_hw_config("fp-" + method, "hw-" + method, "");
  std::vector<CandidateRecord> rows(candidates);
  for (int i = 0; i < candidates; ++i) {
    rows[i].widths = {3, i};
    rows[i].macs = i;
    rows[i].hw_fingerprint = "fp-" + method;
  }
  sink.record_candidates(run, rows);
  sink.finish_run(run, RunStatus::kFinished, std::nullopt);
}

TEST(Merge, JoinsShardsOnceWithRenumberedRuns) {
  ScratchFile a(".a.db"), b(".b.db"), out(".out.db");
  fill_shard(a.path(), "nce", 5);
  fill_shard(b.path(), "tas", 7);
  Database db(out.path());
  MergeStats first = merge_database(db, a.path());
  MergeStats second = merge_database(db, b.path());
  EXPECT_EQ(first.runs_added, 1);
  EXPECT_EQ(first.candidates_added, 5);
  EXPECT_EQ(second.candidates_added, 7);
  EXPECT_EQ(second.epochs_added, 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 12);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates WHERE method = 'tas'"), 7);
  EXPECT_EQ(db.query_int("SELECT count(DISTINCT run_id) FROM v_candidates"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM epochs"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM hw_configs"), 2);
  // Both shards had run id 1; the merged candidates point at their own run.
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates c JOIN runs r ON r.id = c.run_id WHERE "
                         "c.hw_fingerprint <> 'fp-' || r.method"),
            0);

  MergeStats again = merge_database(db, a.path());
  EXPECT_EQ(again.runs_added, 0);
  EXPECT_EQ(again.runs_skipped, 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 12);
}

TEST(Merge, BadInputLeavesOutputUnchanged) {
  ScratchFile a(".a.db"), junk(".junk.db"), out(".out.db");
  fill_shard(a.path(), "nce", 3);
  testing::write_file(junk.path(), std::string(5000, 'j'));
  Database db(out.path());
  merge_database(db, a.path());
  EXPECT_THROW(merge_database(db, junk.path()), DatabaseError);
  EXPECT_THROW(merge_database(db, out.path()), DatabaseError);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 3);
  EXPECT_EQ(db.integrity_check(), "ok");
}

}  // namespace
}  // namespace nce::results
