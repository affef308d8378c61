// The result database refuses what it must not touch (a non-SQLite file, a corrupt file, a newer
// schema, a foreign SQLite file) with an error naming the file, and leaves such files unchanged.
#include "nce/results/database.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include <gtest/gtest.h>

#include "nce/results/schema.h"
#include "nce/results/sqlite_sink.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::raw_exec;
using testing::read_file;
using testing::ScratchFile;
using testing::write_file;

std::string error_of(const std::string& path, OpenMode mode = OpenMode::kReadWrite) {
  try {
    OpenOptions options;
    options.mode = mode;
    Database db(path, options);
  } catch (const DatabaseError& e) {
    return e.what();
  }
  return "";
}

// `bytes` written at `path` are refused with an error naming the file and `reason`, and stay as
// they were.
void expect_refused_untouched(const std::string& path, const std::string& bytes,
                              const std::string& reason) {
  write_file(path, bytes);
  const std::string error = error_of(path);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find(reason), std::string::npos) << error;
  EXPECT_EQ(read_file(path), bytes);
}

TEST(Database, CreatesCurrentSchemaInWalMode) {
  ScratchFile file;
  Database db(file.path());
  EXPECT_EQ(db.schema_version(), current_schema_version());
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
  EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(Database, ReopeningDoesNotMigrateAgain) {
  ScratchFile file;
  {
    SqliteSink sink(file.path());
    sink.begin_run({});
  }
  Database db(file.path());
  EXPECT_EQ(db.schema_version(), current_schema_version());
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 1);
}

TEST(Database, RefusesNonSqliteFileAndLeavesItUntouched) {
  ScratchFile file;
  const std::string text = "layer,ifmap\nconv1,32\n" + std::string(2000, 'x');
  expect_refused_untouched(file.path(), text, "not an SQLite database");
}

TEST(Database, RefusesCorruptFileAndLeavesItUntouched) {
  ScratchFile file;
  {
    SqliteSink sink(file.path());
    RunId run = sink.begin_run({});
    std::vector<CandidateRecord> many(400);
    for (int i = 0; i < 400; ++i) many[i].widths = {3, i, i + 1, i + 2};
    sink.record_candidates(run, many);
  }
  std::string bytes = read_file(file.path());
  ASSERT_GT(bytes.size(), 4u * 4096u);
  // Scribble over the b-tree page headers of pages 2..4 (the tables' roots and leaves).
  for (size_t page = 1; page < 4; ++page) {
    for (size_t i = page * 4096; i < page * 4096 + 64; ++i) bytes[i] = static_cast<char>(0xA5);
  }
  expect_refused_untouched(file.path(), bytes, "corrupt");
}

TEST(Database, RefusesNewerSchemaAndLeavesItUntouched) {
  ScratchFile file;
  raw_exec(file.path(), "CREATE TABLE runs(id INTEGER PRIMARY KEY); PRAGMA user_version = " +
                            std::to_string(current_schema_version() + 5) + ";");
  const std::string before = read_file(file.path());
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    std::string error = error_of(file.path(), mode);
    EXPECT_NE(error.find(file.path()), std::string::npos) << error;
    EXPECT_NE(error.find("newer"), std::string::npos) << error;
  }
  EXPECT_EQ(read_file(file.path()), before);
}

TEST(Database, RefusesForeignSqliteFile) {
  ScratchFile file;
  raw_exec(file.path(), "CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT);");
  const std::string before = read_file(file.path());
  std::string error = error_of(file.path());
  EXPECT_NE(error.find("not an nce results database"), std::string::npos) << error;
  EXPECT_EQ(read_file(file.path()), before);
}

// Another program's SQLite file that uses user_version itself (3 here) is refused before any
// write: it used to be switched to WAL, then failed half way through migration step 4.
TEST(Database, RefusesForeignSqliteFileWithAUserVersionBeforeAnyWrite) {
  ScratchFile file;
  raw_exec(file.path(),
           "CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT);"
           "INSERT INTO photos(name) VALUES ('a'); PRAGMA user_version = 3;");
  const std::string before = read_file(file.path());
  ASSERT_EQ(before[18], 1);  // the legacy (rollback journal) format bytes; WAL writes 2
  std::string error = error_of(file.path());
  EXPECT_EQ(error.rfind(file.path() + ": not an nce results database", 0), 0u) << error;
  EXPECT_NE(error.find("schema version 3 but no table 'runs'"), std::string::npos) << error;
  EXPECT_TRUE(read_file(file.path()) == before) << "the file was written";
  EXPECT_FALSE(testing::file_exists(file.path() + "-wal"));
}

// A database path that is a directory (or a FIFO, which SQLite would block on) fails at once,
// naming it.
TEST(Database, DirectoryOrFifoPathFailsAtOnceNamingIt) {
  const std::string dir = ::testing::TempDir() + "nce_results_db_dir_" + std::to_string(getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  const auto t0 = std::chrono::steady_clock::now();
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    const std::string error = error_of(dir, mode);
    EXPECT_EQ(error, dir + ": is a directory, not a database file");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  ::rmdir(dir.c_str());
  const std::string fifo = dir + ".fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_NE(error_of(fifo).find(fifo + ": not a regular file"), std::string::npos);
  std::remove(fifo.c_str());
}

TEST(Database, ReadOnlyOpenNeedsAnExistingFileAndNeverWrites) {
  ScratchFile file;
  EXPECT_NE(error_of(file.path(), OpenMode::kReadOnly).find("no such database file"),
            std::string::npos);
  EXPECT_FALSE(testing::file_exists(file.path()));
  { Database create(file.path()); }
  OpenOptions options;
  options.mode = OpenMode::kReadOnly;
  Database db(file.path(), options);
  EXPECT_THROW(db.exec("INSERT INTO runs (method, started_at) VALUES ('x', 'y')"), DatabaseError);
  EXPECT_THROW(db.write_transaction([] {}), DatabaseError);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 0);
}

TEST(Database, SqlErrorNamesFileAndStatement) {
  ScratchFile file;
  Database db(file.path());
  try {
    db.prepare("SELEC nonsense");
    FAIL() << "expected an error";
  } catch (const DatabaseError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(file.path()), std::string::npos) << what;
    EXPECT_NE(what.find("SELEC nonsense"), std::string::npos) << what;
  }
}

TEST(Database, FailedTransactionRollsBack) {
  ScratchFile file;
  Database db(file.path());
  EXPECT_THROW(db.write_transaction([&] {
    db.exec("INSERT INTO runs (method, started_at) VALUES ('nce', 'now')");
    throw std::runtime_error("producer failed");
  }),
               std::runtime_error);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM runs"), 0);
}

}  // namespace
}  // namespace nce::results
