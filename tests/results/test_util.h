// Helpers shared by the results tests: scratch files, byte-exact file comparison, raw SQL, runs
// to record, child processes to wait for.
#pragma once

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nce/results/result_sink.h"

namespace nce::results::testing {

// A fresh path in the temp directory, removed (with its -wal/-shm) before and after the test.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix = ".db") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "_" + info->name() : "nce";
    path_ = ::testing::TempDir() + "nce_results_" + name + "_" + std::to_string(getpid()) + suffix;
    remove_all();
  }
  ~ScratchFile() { remove_all(); }
  const std::string& path() const { return path_; }

 private:
  void remove_all() {
    std::remove(path_.c_str());
    std::remove((path_ + "-wal").c_str());
    std::remove((path_ + "-shm").c_str());
    std::remove((path_ + "-journal").c_str());
  }
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline bool file_exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;
}

// A run of `method` on `model` and `dataset` ("" = none), everything else at its default.
inline RunInfo run_info(const std::string& method, const std::string& model = "",
                        const std::string& dataset = "") {
  RunInfo info;
  info.method = method;
  info.model = model;
  info.dataset = dataset;
  return info;
}

// Waits for every child process: each must have exited normally with status 0 (fatal failure:
// wrap the call in ASSERT_NO_FATAL_FAILURE to stop the test there).
inline void expect_children_exit_cleanly(const std::vector<pid_t>& children) {
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

// Runs raw SQL on the file at `path` with the plain C API (not through the code under test).
inline void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string detail = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << detail;
}

#ifdef NCE_TEST_DATA_DIR
// A result database as nce wrote it at schema version 1 (tests/data/results/schema_v1.sql: two
// runs, three epochs, four candidates), built by hand at `path`.
inline void build_v1(const std::string& path) {
  const std::string sql = read_file(std::string(NCE_TEST_DATA_DIR) + "/results/schema_v1.sql");
  ASSERT_FALSE(sql.empty());
  raw_exec(path, sql);
}
#endif

}  // namespace nce::results::testing
