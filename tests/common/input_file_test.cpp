// Bounded whole-file reads: a file over its kind's limit, /dev/zero, a directory, a missing file,
// and the NCE_MAX_INPUT_MB override.
#include "nce/common/input_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "nce/common/interrupted.h"
#include "support/errors.h"

namespace nce::common {
namespace {

using nce::testing::what_thrown;

namespace fs = std::filesystem;

std::string error_of(const std::string& path, InputKind kind) {
  return what_thrown([&] { read_input_file(path, kind, "test file"); });
}

class InputFile : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("NCE_MAX_INPUT_MB");
    fs::remove(path_);
  }
  std::string path_ =
      (fs::temp_directory_path() / ("nce_input_file_" + std::to_string(::getpid()))).string();
};

TEST_F(InputFile, ReadsAWholeFile) {
  std::ofstream(path_, std::ios::binary) << std::string("a\0b\nc", 5);
  EXPECT_EQ(read_input_file(path_, InputKind::kText, "test file"), std::string("a\0b\nc", 5));
}

TEST_F(InputFile, AFileOverTheLimitIsRefusedBeforeItIsRead) {
  std::ofstream(path_).close();
  fs::resize_file(path_, (std::uint64_t{17} << 20));  // sparse: nothing is written
  const std::string e = error_of(path_, InputKind::kText);
  EXPECT_NE(e.find(path_ + ": test file is larger than 16 MiB (17825792 bytes)"), std::string::npos)
      << e;
  EXPECT_EQ(read_input_file(path_, InputKind::kModel, "model").size(), std::size_t{17} << 20);
  ::setenv("NCE_MAX_INPUT_MB", "8", 1);  // replaces every kind's limit
  EXPECT_NE(error_of(path_, InputKind::kModel).find("larger than 8 MiB"), std::string::npos);
  EXPECT_NE(error_of(path_, InputKind::kText).find("set NCE_MAX_INPUT_MB"), std::string::npos);
  ::setenv("NCE_MAX_INPUT_MB", "lots", 1);
  EXPECT_THROW(input_limit(InputKind::kText), std::invalid_argument);
  ::setenv("NCE_MAX_INPUT_MB", "0", 1);
  EXPECT_THROW(input_limit(InputKind::kText), std::invalid_argument);
}

TEST_F(InputFile, AnEndlessFileIsRefusedAtTheLimit) {
  ::setenv("NCE_MAX_INPUT_MB", "2", 1);
  const std::string e = error_of("/dev/zero", InputKind::kCheckpoint);
  EXPECT_NE(e.find("/dev/zero: test file is larger than 2 MiB (and more)"), std::string::npos) << e;
}

TEST_F(InputFile, ASignalStopsTheReadAtOnce) {
  record_interrupt(SIGTERM);  // as the executable's handler does
  try {
    read_input_file("/dev/zero", InputKind::kCheckpoint, "test file");
    ADD_FAILURE() << "read on after a signal";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal(), SIGTERM);
  }
  record_interrupt(0);
}

TEST_F(InputFile, ADirectoryOrAMissingFileIsNamed) {
  EXPECT_NE(error_of(fs::temp_directory_path().string(), InputKind::kText).find("is a directory"),
            std::string::npos);
  const std::string e = error_of(path_ + ".missing", InputKind::kText);
  EXPECT_NE(e.find(path_ + ".missing: cannot read the test file (No such file"), std::string::npos)
      << e;
}

}  // namespace
}  // namespace nce::common
