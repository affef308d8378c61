// What the tests of a recorded run share: a database file of the test's own (removed with its
// -wal and -shm files before and after the test) and a tiny data set
// (tests/nn/quadrant_data.h).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "../nn/quadrant_data.h"
#include "nce/nn/dataset.h"
#include "nce/record/search_settings.h"
#include "nce/results/database.h"

namespace nce::record::testing {

// A TAS search small enough for a test, on the quadrant images (given as a plan would give it).
inline search::SearchConfig tiny_search() {
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"method", "tas"},      {"model", "resnet8"},   {"dataset", "quadrants"},
      {"warmup-epochs", "1"}, {"search-epochs", "2"}, {"retrain-epochs", "1"},
      {"batch", "16"},        {"max-batches", "2"},   {"augment", "no"}};
  SearchSettings s;
  for (const auto& [key, value] : settings) apply_setting(s, *find_setting(key), value, key);
  return s.config;
}

class RecordedRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (std::filesystem::temp_directory_path() /
           ("nce_record_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()) + ".db"))
              .string();
    TearDown();
    data_.train = nn::testing::quadrant_images(3, 16, 1);
    data_.test = nn::testing::quadrant_images(3, 8, 2);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_ + suffix);
  }
  // The status of every run in the database, in order: "finished;interrupted;".
  std::string status() {
    results::Database db(db_);
    auto q = db.prepare("SELECT status FROM runs ORDER BY id");
    std::string s;
    while (q.step()) s += q.column_text(0) + ";";
    return s;
  }
  std::string db_;
  nn::DatasetPair data_;
};

}  // namespace nce::record::testing
