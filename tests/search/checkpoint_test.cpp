#include "nce/nn/checkpoint.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace nce::nn {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("nce_ckpt_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

Checkpoint sample() {
  Checkpoint ck;
  ck.model = "resnet8";
  ck.widths = {3, 16, 16, 16, 32, 32, 64, 64};
  ck.options = {{"bits", "2"}, {"quantizer", "sawb"}};
  ck.epochs_done = 3;
  ck.rng_state = "12345 678";
  ck.history = "[{\"epoch\":1}]";
  ck.network = {{"stem.weight", {1.0f, -2.5f, 3.25f}}, {"stem.bn.running_var", {0.5f}}};
  ck.optimizer.kind = "sgd";
  ck.optimizer.steps = 42;
  ck.optimizer.buffers = {{"stem.weight.momentum", {0.1f, 0.2f, 0.3f}}};
  return ck;
}

template <typename Fn>
void expect_error(Fn fn, const std::string& path, const std::string& what) {
  try {
    fn();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove(path_); }
  std::string path_ = temp_path(::testing::UnitTest::GetInstance()->current_test_info()->name());
};

TEST_F(CheckpointTest, RoundTrip) {
  const Checkpoint ck = sample();
  write_checkpoint(path_, ck);
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  const Checkpoint back = read_checkpoint(path_);
  EXPECT_EQ(back.model, ck.model);
  EXPECT_EQ(back.widths, ck.widths);
  EXPECT_EQ(back.options, ck.options);
  EXPECT_EQ(back.epochs_done, 3);
  EXPECT_EQ(back.rng_state, ck.rng_state);
  EXPECT_EQ(back.history, ck.history);
  ASSERT_EQ(back.network.size(), 2u);
  EXPECT_EQ(back.network[0].name, "stem.weight");
  EXPECT_EQ(back.network[0].values, ck.network[0].values);
  EXPECT_EQ(back.optimizer.kind, "sgd");
  EXPECT_EQ(back.optimizer.steps, 42);
  EXPECT_EQ(back.optimizer.buffers[0].values, ck.optimizer.buffers[0].values);
  EXPECT_NO_THROW(check_checkpoint_matches(back, path_, "resnet8", ck.widths, ck.options));
}

// An empty tensor (a buffer with no values) reads back empty. The reader used to memcpy into the
// empty vector's null data(), undefined behaviour that UBSan reports (checkpoint_fuzz found it;
// scripts/sanitize.sh runs this test under UBSan).
TEST_F(CheckpointTest, EmptyTensorRoundTrips) {
  Checkpoint ck = sample();
  ck.network.push_back({"fc.bn.num_batches_tracked", {}});
  ck.optimizer.buffers.push_back({"empty.momentum", {}});
  write_checkpoint(path_, ck);
  const Checkpoint back = read_checkpoint(path_);
  ASSERT_EQ(back.network.size(), 3u);
  EXPECT_EQ(back.network[2].name, "fc.bn.num_batches_tracked");
  EXPECT_TRUE(back.network[2].values.empty());
  ASSERT_EQ(back.optimizer.buffers.size(), 2u);
  EXPECT_TRUE(back.optimizer.buffers[1].values.empty());
}

TEST_F(CheckpointTest, OverwritesAtomically) {
  write_checkpoint(path_, sample());
  Checkpoint ck = sample();
  ck.epochs_done = 4;
  write_checkpoint(path_, ck);
  EXPECT_EQ(read_checkpoint(path_).epochs_done, 4);
}

TEST_F(CheckpointTest, MissingFile) {
  expect_error([&] { read_checkpoint(path_); }, path_, "not found");
}

TEST_F(CheckpointTest, TruncatedFile) {
  write_checkpoint(path_, sample());
  const auto size = fs::file_size(path_);
  fs::resize_file(path_, size - 7);
  expect_error([&] { read_checkpoint(path_); }, path_, "truncated");
  fs::resize_file(path_, 10);
  expect_error([&] { read_checkpoint(path_); }, path_, "truncated");
}

TEST_F(CheckpointTest, FlippedByteFailsChecksum) {
  write_checkpoint(path_, sample());
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(40);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(40);
    f.write(&c, 1);
  }
  expect_error([&] { read_checkpoint(path_); }, path_, "crc32");
}

TEST_F(CheckpointTest, BadMagicAndVersion) {
  {
    std::ofstream f(path_, std::ios::binary);
    f << "this is not a checkpoint at all, just text";
  }
  expect_error([&] { read_checkpoint(path_); }, path_, "bad magic");
  write_checkpoint(path_, sample());
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    const char v = 9;
    f.write(&v, 1);
  }
  expect_error([&] { read_checkpoint(path_); }, path_, "version 9");
}

TEST_F(CheckpointTest, RefusesAnotherModelWidthsOrOptions) {
  const Checkpoint ck = sample();
  expect_error([&] { check_checkpoint_matches(ck, path_, "resnet20", ck.widths, ck.options); },
               path_, "model 'resnet8'");
  auto widths = ck.widths;
  widths[2] = 8;
  expect_error([&] { check_checkpoint_matches(ck, path_, "resnet8", widths, ck.options); }, path_,
               "widths [3,16,16");
  auto options = ck.options;
  options[0].second = "4";
  expect_error([&] { check_checkpoint_matches(ck, path_, "resnet8", ck.widths, options); }, path_,
               "bits=2, this run has bits=4");
  options = ck.options;
  options.push_back({"seed", "1"});
  expect_error([&] { check_checkpoint_matches(ck, path_, "resnet8", ck.widths, options); }, path_,
               "no option 'seed'");
}

}  // namespace
}  // namespace nce::nn
