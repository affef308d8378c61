#include "nce/nn/checkpoint.h"
#include "support/errors.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace nce::nn {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

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
  expect_mentions(what_must_throw<std::runtime_error>(what, fn), {path, what});
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

// The bytes of a version-1 file (the layout nce wrote before checkpoints were compressed), by
// hand: the header, then the payload as is with tensors' floats interleaved.
std::string version1_file(const Checkpoint& ck) {
  std::string p;
  auto pod = [&](auto v) { p.append(reinterpret_cast<const char*>(&v), sizeof v); };
  auto str = [&](const std::string& t) {
    pod(static_cast<std::uint32_t>(t.size()));
    p += t;
  };
  auto buffers = [&](const std::vector<StateBuffer>& list) {
    pod(static_cast<std::uint32_t>(list.size()));
    for (const StateBuffer& b : list) {
      str(b.name);
      pod(static_cast<std::uint64_t>(b.values.size()));
      p.append(reinterpret_cast<const char*>(b.values.data()), b.values.size() * sizeof(float));
    }
  };
  str(ck.model);
  pod(static_cast<std::uint32_t>(ck.widths.size()));
  for (int w : ck.widths) pod(static_cast<std::int32_t>(w));
  pod(static_cast<std::uint32_t>(ck.options.size()));
  for (const auto& [k, v] : ck.options) {
    str(k);
    str(v);
  }
  pod(static_cast<std::int32_t>(ck.epochs_done));
  str(ck.rng_state);
  str(ck.history);
  buffers(ck.network);
  str(ck.optimizer.kind);
  pod(static_cast<std::int64_t>(ck.optimizer.steps));
  buffers(ck.optimizer.buffers);
  std::string file("NCECKPT\0", 8);
  auto head = [&](auto v) { file.append(reinterpret_cast<const char*>(&v), sizeof v); };
  head(std::uint32_t{1});
  head(static_cast<std::uint64_t>(p.size()));
  head(static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(p.data()), p.size())));
  return file + p;
}

TEST_F(CheckpointTest, AVersionOneFileIsStillRead) {
  Checkpoint ck = sample();
  std::ofstream(path_, std::ios::binary) << version1_file(ck);
  const Checkpoint back = read_checkpoint(path_);
  EXPECT_EQ(back.model, ck.model);
  EXPECT_EQ(back.rng_state, ck.rng_state);
  EXPECT_EQ(back.network[0].values, ck.network[0].values);
  EXPECT_EQ(back.optimizer.buffers[0].values, ck.optimizer.buffers[0].values);
}

TEST_F(CheckpointTest, IsStoredCompressedAndReadsBackBitExact) {
  Checkpoint ck = sample();
  // A layer's weights with a repeated pattern and an unused, zeroed tail, as a supernet's
  // allocation has; and values whose every bit matters.
  std::vector<float> w(200000, 0.0f);
  for (std::size_t i = 0; i < 50000; ++i) w[i] = static_cast<float>(i % 97) * 0.0137f - 0.6f;
  w[7] = std::nextafter(1.0f, 2.0f);
  w[8] = -0.0f;
  w[9] = 1e-42f;  // subnormal
  ck.network.push_back({"layer.weight", w});
  write_checkpoint(path_, ck);
  EXPECT_LT(fs::file_size(path_), w.size() * sizeof(float) / 4);
  const Checkpoint back = read_checkpoint(path_);
  ASSERT_EQ(back.network.size(), 3u);
  ASSERT_EQ(back.network[2].values.size(), w.size());
  EXPECT_EQ(std::memcmp(back.network[2].values.data(), w.data(), w.size() * sizeof(float)), 0);
}

TEST_F(CheckpointTest, AnInflatedLengthThatIsALieIsRefused) {
  write_checkpoint(path_, sample());
  std::string bytes;
  {
    std::ifstream in(path_, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // The stored part starts at byte 24 with the payload's u64 length; rewrite it (and the crc32
  // over the stored part, so that only the length is wrong).
  auto rewrite = [&](std::uint64_t claimed) {
    std::string b = bytes;
    std::memcpy(&b[24], &claimed, sizeof claimed);
    const auto crc = static_cast<std::uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(b.data() + 24), b.size() - 24));
    std::memcpy(&b[20], &crc, sizeof crc);
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << b;
  };
  rewrite(1ull << 40);  // more than deflate can give from this many bytes
  expect_error([&] { read_checkpoint(path_); }, path_, "an inflated length of");
  rewrite(3);  // less than the stream holds
  expect_error([&] { read_checkpoint(path_); }, path_, "does not inflate to its stated 3 bytes");
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
