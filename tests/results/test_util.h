// Helpers shared by the results tests: scratch files and byte-exact file comparison.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

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

}  // namespace nce::results::testing
