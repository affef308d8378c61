// Migrations: a hand-built version-1 database is brought to the current version in place with
// every row kept, and the stable views have exactly the columns docs/design.md §5 promises.
#include "nce/results/schema.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include "nce/results/database.h"
#include "nce/results/query.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::build_v1;
using testing::raw_exec;
using testing::ScratchFile;

std::vector<std::string> columns_of(const Database& db, const std::string& view) {
  auto stmt = db.prepare("SELECT * FROM " + view + " LIMIT 0");
  std::vector<std::string> names;
  for (int i = 0; i < stmt.column_count(); ++i) names.push_back(stmt.column_name(i));
  return names;
}

TEST(Schema, MigrationStepsFormAChain) {
  const auto& steps = migrations();
  ASSERT_FALSE(steps.empty());
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].to_version, static_cast<int>(i + 1));
  EXPECT_EQ(current_schema_version(), static_cast<int>(steps.size()));
}

TEST(Schema, StableViewColumns) {
  ScratchFile file;
  Database db(file.path());
  EXPECT_EQ(columns_of(db, "v_candidates"),
            (std::vector<std::string>{"run_id", "method", "model", "dataset", "bits", "hw", "epoch",
                                      "phase", "widths", "macs", "params", "latency_cycles",
                                      "energy_pj", "top1"}));
  EXPECT_EQ(
      columns_of(db, "v_runs"),
      (std::vector<std::string>{"run_id", "method", "model", "dataset", "bits", "hw", "status",
                                "started_at", "finished_at", "final_top1", "config"}));
}

TEST(Schema, VersionOneDatabaseMigratesKeepingEveryRow) {
  ScratchFile file;
  build_v1(file.path());
  QueryResult runs_before, candidates_before, epochs_before;
  {
    OpenOptions ro;
    ro.mode = OpenMode::kReadOnly;  // read-only never migrates
    Database old_db(file.path(), ro);
    ASSERT_EQ(old_db.schema_version(), 1);
    runs_before = run_query(old_db, "SELECT * FROM v_runs ORDER BY run_id");
    candidates_before = run_query(old_db, "SELECT * FROM v_candidates ORDER BY widths");
    epochs_before = run_query(old_db,
                              "SELECT run_id, epoch, phase, loss, top1, seconds FROM "
                              "epochs ORDER BY run_id, epoch");
  }
  ASSERT_EQ(runs_before.rows.size(), 2u);
  ASSERT_EQ(candidates_before.rows.size(), 4u);
  ASSERT_EQ(epochs_before.rows.size(), 3u);

  Database db(file.path());
  EXPECT_EQ(db.schema_version(), current_schema_version());
  EXPECT_EQ(db.integrity_check(), "ok");
  auto same = [](const QueryResult& a, const QueryResult& b) {
    EXPECT_EQ(a.columns, b.columns);
    ASSERT_EQ(a.rows.size(), b.rows.size());
    for (size_t r = 0; r < a.rows.size(); ++r) {
      for (size_t c = 0; c < a.rows[r].size(); ++c) {
        EXPECT_EQ(a.rows[r][c].to_string(), b.rows[r][c].to_string())
            << "row " << r << " col " << c;
        EXPECT_EQ(a.rows[r][c].type, b.rows[r][c].type) << "row " << r << " col " << c;
      }
    }
  };
  same(run_query(db, "SELECT * FROM v_runs ORDER BY run_id"), runs_before);
  same(run_query(db, "SELECT * FROM v_candidates ORDER BY widths"), candidates_before);
  same(run_query(db,
                 "SELECT run_id, epoch, phase, loss, top1, seconds FROM epochs ORDER BY "
                 "run_id, epoch"),
       epochs_before);
  // The new columns exist and old runs got distinct uuids (so shards still merge).
  EXPECT_EQ(db.query_int("SELECT count(DISTINCT uuid) FROM runs WHERE uuid IS NOT NULL"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates WHERE stall_cycles IS NULL"), 4);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM cost_cache"), 0);
}

// The whole migration runs in one transaction: a version-1 file whose step 3 fails (a table named
// like the one it renames cost_cache to is in the way) stays at version 1 with nothing of step 2
// (it used to be left at user_version 2, half migrated).
TEST(Schema, AFailingMigrationLeavesTheFileAtItsOldVersion) {
  ScratchFile file;
  build_v1(file.path());
  raw_exec(file.path(), "CREATE TABLE cost_cache_v2(x); PRAGMA user_version = 1;");
  try {
    Database db(file.path());
    FAIL() << "migrated";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find(file.path()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cost_cache_v2"), std::string::npos) << e.what();
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(file.path().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "SELECT (SELECT user_version FROM pragma_user_version), "
                               "(SELECT count(*) FROM sqlite_master WHERE name = 'hw_configs')",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  EXPECT_EQ(sqlite3_column_int(stmt, 1), 0);  // v2's table rolled back
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

TEST(Schema, MigratingTwiceIsANoOp) {
  ScratchFile file;
  build_v1(file.path());
  { Database first(file.path()); }
  Database second(file.path());
  EXPECT_EQ(second.schema_version(), current_schema_version());
  EXPECT_EQ(second.query_int("SELECT count(*) FROM candidates"), 4);
}

}  // namespace
}  // namespace nce::results
