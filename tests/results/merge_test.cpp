// Merging shard databases: every run, candidate and epoch arrives once, run ids are renumbered,
// merging again adds nothing, and a bad input leaves the output unchanged.
#include "nce/results/merge.h"

#include <sys/stat.h>

#include <cstdint>
#include <initializer_list>
#include <utility>

#include <gtest/gtest.h>

#include "nce/results/query.h"
#include "nce/results/sqlite_sink.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::build_v1;
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

// Each query's count(*) in `db` is the number given with it.
void expect_counts(const Database& db,
                   std::initializer_list<std::pair<const char*, std::int64_t>> counts) {
  for (const auto& [sql, want] : counts) EXPECT_EQ(db.query_int(sql), want) << sql;
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
  expect_counts(db, {{"SELECT count(*) FROM v_candidates", 12},
                     {"SELECT count(*) FROM v_candidates WHERE method = 'tas'", 7},
                     {"SELECT count(DISTINCT run_id) FROM v_candidates", 2},
                     {"SELECT count(*) FROM epochs", 2},
                     {"SELECT count(*) FROM hw_configs", 2}});
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

TEST(Merge, OldInputIsReadNeverMigratedInPlace) {
  ScratchFile old_db(".v1.db"), out(".out.db");
  build_v1(old_db.path());
  ::chmod(old_db.path().c_str(), 0444);  // a read-only old input merges too
  const std::string before = testing::read_file(old_db.path());
  Database db(out.path());
  const MergeStats s = merge_database(db, old_db.path());
  EXPECT_EQ(s.runs_added, 2);
  EXPECT_EQ(s.candidates_added, 4);
  // On main the input was migrated in place: its bytes (and checksum) changed.
  EXPECT_EQ(testing::read_file(old_db.path()), before);
  EXPECT_FALSE(testing::file_exists(old_db.path() + "-wal"));
  OpenOptions ro;
  ro.mode = OpenMode::kReadOnly;
  EXPECT_EQ(Database(old_db.path(), ro).schema_version(), 1);
  ::chmod(old_db.path().c_str(), 0644);
}

TEST(Merge, TwoCopiesOfOneOldDatabaseMergeOnce) {
  ScratchFile a(".v1a.db"), b(".v1b.db"), out(".out.db");
  build_v1(a.path());
  testing::write_file(b.path(), testing::read_file(a.path()));
  Database db(out.path());
  EXPECT_EQ(merge_database(db, a.path()).runs_added, 2);
  const MergeStats second = merge_database(db, b.path());
  EXPECT_EQ(second.runs_added, 0);
  EXPECT_EQ(second.runs_skipped, 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 4);
  EXPECT_EQ(merge_database(db, a.path()).runs_added, 0);
}

TEST(Merge, AShardMergedWhileRunningIsCompletedByTheNextMerge) {
  ScratchFile shard(".shard.db"), out(".out.db");
  SqliteSink sink(shard.path());
  RunInfo info;
  info.method = "sweep";
  const RunId run = sink.begin_run(info);
  CandidateRecord c;
  c.widths = {3, 8};
  c.macs = 1;
  sink.record_candidate(run, c);
  Database db(out.path());
  const MergeStats partial = merge_database(db, shard.path());
  EXPECT_EQ(partial.runs_added, 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs WHERE status = 'running'"), 1);
  // The shard goes on and finishes.
  sink.record_candidate(run, c);
  sink.record_candidate(run, c);
  sink.finish_run(run, RunStatus::kFinished, std::nullopt);
  const MergeStats done = merge_database(db, shard.path());
  EXPECT_EQ(done.runs_added, 0);
  EXPECT_EQ(done.runs_updated, 1);
  EXPECT_EQ(done.candidates_added, 3);
  expect_counts(db, {{"SELECT count(*) FROM runs", 1},
                     {"SELECT count(*) FROM runs WHERE status = 'finished'", 1},
                     {"SELECT count(*) FROM candidates", 3}});
  // And once finished, merging again changes nothing.
  const MergeStats again = merge_database(db, shard.path());
  EXPECT_EQ(again.runs_updated, 0);
  EXPECT_EQ(again.runs_skipped, 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 3);
}

}  // namespace
}  // namespace nce::results
