// Queries and their formats: CSV quoting, JSON types, read-only refusal, SQL errors, table dumps.
#include "nce/results/query.h"

#include <gtest/gtest.h>

#include "nce/common/interrupted.h"
#include "nce/results/sqlite_sink.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::ScratchFile;

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteSink sink(file_.path());
    RunInfo info;
    info.method = "nce";
    info.model = "resnet20";
    info.config_json = R"({"note":"a, \"quoted\" value"})";
    RunId run = sink.begin_run(info);
    CandidateRecord a;
    a.widths = {3, 16, 16};
    a.macs = 1000;
    a.top1 = 90.5;
    CandidateRecord b;
    b.widths = {3, 8, 8};
    b.macs = 250;
    sink.record_candidates(run, {a, b});
  }
  ScratchFile file_;
};

TEST_F(QueryTest, ResultsKeepTypes) {
  Database db(file_.path());
  auto r = run_query(db, "SELECT widths, macs, top1 FROM v_candidates ORDER BY macs");
  ASSERT_EQ(r.columns, (std::vector<std::string>{"widths", "macs", "top1"}));
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0][0].type, Value::Type::kText);
  EXPECT_EQ(r.rows[0][1].type, Value::Type::kInteger);
  EXPECT_EQ(r.rows[0][2].type, Value::Type::kNull);
  EXPECT_EQ(r.rows[1][2].type, Value::Type::kReal);
}

TEST_F(QueryTest, CsvQuotesFieldsWithCommasAndQuotes) {
  Database db(file_.path());
  auto csv = format_csv(run_query(db,
                                  "SELECT run_id, widths, config FROM v_runs JOIN "
                                  "v_candidates USING (run_id) ORDER BY macs LIMIT 1"));
  EXPECT_EQ(csv,
            "run_id,widths,config\r\n"
            "1,\"[3,8,8]\",\"{\"\"note\"\":\"\"a, \\\"\"quoted\\\"\" value\"\"}\"\r\n");
}

TEST_F(QueryTest, JsonWritesNumbersNullsAndStrings) {
  Database db(file_.path());
  auto json =
      format_json(run_query(db, "SELECT macs, top1, widths FROM v_candidates ORDER BY macs"));
  EXPECT_NE(json.find("\"macs\": 250"), std::string::npos) << json;
  EXPECT_NE(json.find("\"top1\": null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"top1\": 90.5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"widths\": \"[3,16,16]\""), std::string::npos) << json;
}

TEST_F(QueryTest, TableAndMarkdownHaveOneLinePerRow) {
  Database db(file_.path());
  auto r = run_query(db, "SELECT widths, macs FROM v_candidates");
  auto table = format_table(r);
  EXPECT_NE(table.find("(2 rows)"), std::string::npos) << table;
  auto md = format_markdown(r);
  EXPECT_EQ(std::count(md.begin(), md.end(), '\n'), 4) << md;
  EXPECT_NE(md.find("| widths | macs |"), std::string::npos) << md;
}

TEST_F(QueryTest, WritingStatementsAreRefusedAndNothingChanges) {
  Database db(file_.path());
  EXPECT_THROW(run_query(db, "DELETE FROM candidates"), DatabaseError);
  EXPECT_THROW(run_query(db, "SELECT 1; DROP TABLE runs"), DatabaseError);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 2);
}

TEST_F(QueryTest, SeveralResultTablesAreRefusedNotDropped) {
  // On main "SELECT 1; SELECT 2" showed only the 2.
  Database db(file_.path());
  try {
    run_query(db, "SELECT 1; SELECT 2");
    FAIL() << "two result tables, one shown";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("more than one statement returns rows"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(run_query(db, "SELECT 7;").rows.at(0).at(0).integer, 7);
  EXPECT_EQ(run_query(db, "SELECT 7; -- a comment").rows.at(0).at(0).integer, 7);
}

TEST_F(QueryTest, PragmasThatOnlyReadAreReads) {
  OpenOptions ro;
  ro.mode = OpenMode::kReadOnly;
  Database db(file_.path(), ro);
  // On main "PRAGMA journal_mode" was refused as a write.
  EXPECT_EQ(run_query(db, "PRAGMA journal_mode").rows.at(0).at(0).text, "wal");
  EXPECT_EQ(run_query(db, "pragma main.user_version;").rows.size(), 1u);
  EXPECT_THROW(run_query(db, "PRAGMA journal_mode = DELETE"), DatabaseError);
  EXPECT_THROW(run_query(db, "PRAGMA user_version = 99"), DatabaseError);
  EXPECT_EQ(run_query(db, "PRAGMA journal_mode").rows.at(0).at(0).text, "wal");
}

TEST_F(QueryTest, SqlErrorNamesFileAndStatement) {
  Database db(file_.path());
  try {
    run_query(db, "SELECT nope FROM v_candidates");
    FAIL();
  } catch (const DatabaseError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(file_.path()), std::string::npos) << what;
    EXPECT_NE(what.find("no such column: nope"), std::string::npos) << what;
  }
}

TEST_F(QueryTest, DumpTableChecksTheName) {
  Database db(file_.path());
  EXPECT_EQ(dump_table(db, "v_candidates").rows.size(), 2u);
  EXPECT_THROW(dump_table(db, "v_candidates; DROP TABLE runs"), DatabaseError);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 1);
}

// A query past its time or memory limit stops with an error naming the file and the limit; a
// signal stops it as an interruption.
TEST_F(QueryTest, AQueryPastItsTimeOrMemoryLimitIsStopped) {
  OpenOptions ro;
  ro.mode = OpenMode::kReadOnly;
  Database db(file_.path(), ro);
  const std::string endless =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  QueryLimits limits;
  limits.seconds = 0.3;
  try {
    run_query(db, endless, limits);
    FAIL() << "an endless query ended";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find(file_.path() + ": the query ran longer than its limit of "
                                                        "0.3 s"),
              std::string::npos)
        << e.what();
  }
  // A string that grows by 2 kB a row: past 8 MiB by row ~4,200.
  const std::string hungry =
      "WITH RECURSIVE c(x, s) AS (SELECT 1, '' UNION ALL SELECT x + 1, s || hex(zeroblob(1000)) "
      "FROM c WHERE x < 1000000) SELECT max(length(s)) FROM c";
  limits.seconds = 0;
  limits.heap_bytes = 8 << 20;
  try {
    run_query(db, hungry, limits);
    FAIL() << "a query past the heap limit ended";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("needed more than 8 MiB"), std::string::npos) << e.what();
  }
  // The limit is the query's: afterwards the database works as before.
  EXPECT_EQ(run_query(db, "SELECT 40 + 2").rows.at(0).at(0).integer, 42);
  limits.heap_bytes = 0;
  limits.interrupted = [] { return 2; };
  EXPECT_THROW(run_query(db, endless, limits), common::Interrupted);
}

}  // namespace
}  // namespace nce::results
