#include "nce/nn/dataset.h"
#include "support/errors.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace nce::nn {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

namespace fs = std::filesystem;

const std::string kSampleDir = std::string(NCE_TEST_DATA_DIR) + "/nn/fashion-mnist-sample";

// A fresh temporary directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("nce_dataset_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

void put_be32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(f);
}

void write_raw(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// IDX image bytes: image i has pixel (y, x) = (i*7 + y*3 + x) % 256.
std::vector<std::uint8_t> idx_images(int count, int rows, int cols) {
  std::vector<std::uint8_t> b;
  put_be32(b, 0x803);
  put_be32(b, count);
  put_be32(b, rows);
  put_be32(b, cols);
  for (int i = 0; i < count; ++i)
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x)
        b.push_back(static_cast<std::uint8_t>((i * 7 + y * 3 + x) % 256));
  return b;
}

std::vector<std::uint8_t> idx_labels(const std::vector<int>& labels) {
  std::vector<std::uint8_t> b;
  put_be32(b, 0x801);
  put_be32(b, static_cast<std::uint32_t>(labels.size()));
  for (int l : labels) b.push_back(static_cast<std::uint8_t>(l));
  return b;
}

// CIFAR records: label, then R, G, B planes; pixel = (i + c*50 + p) % 256.
std::vector<std::uint8_t> cifar_records(const std::vector<int>& labels, int first_index = 0) {
  std::vector<std::uint8_t> b;
  for (std::size_t k = 0; k < labels.size(); ++k) {
    const int i = first_index + static_cast<int>(k);
    b.push_back(static_cast<std::uint8_t>(labels[k]));
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) b.push_back(static_cast<std::uint8_t>((i + c * 50 + p) % 256));
  }
  return b;
}

std::vector<int> cycle_labels(int count) {
  std::vector<int> labels;
  for (int i = 0; i < count; ++i) labels.push_back(i % 10);
  return labels;
}

// Expects `fn` to throw std::runtime_error whose message contains every piece of `parts`.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  expect_mentions(what_must_throw<std::runtime_error>("want one mentioning " + parts.front(), fn),
                  parts);
}

// read_idx of dir's img.gz and lab.gz fails with a message naming `named` (one of the two) and
// holding every one of `parts`.
void expect_idx_error(const TempDir& dir, const std::string& named,
                      std::vector<std::string> parts) {
  parts.insert(parts.begin(), dir.file(named));
  expect_error([&] { read_idx(dir.file("img.gz"), dir.file("lab.gz")); }, parts);
}

TEST(DatasetTest, ReadsIdxFixture) {
  TempDir dir;
  write_gz(dir.file("img.gz"), idx_images(12, 5, 4));
  write_gz(dir.file("lab.gz"), idx_labels(cycle_labels(12)));
  const Dataset d = read_idx(dir.file("img.gz"), dir.file("lab.gz"));
  EXPECT_EQ(d.size(), 12);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.height, 5);
  EXPECT_EQ(d.width, 4);
  EXPECT_EQ(d.labels[11], 1);
  EXPECT_EQ(d.image(3)[2 * 4 + 1], (3 * 7 + 2 * 3 + 1) % 256);
  EXPECT_EQ(d.class_counts()[0], 2);
}

TEST(DatasetTest, ReadsUncompressedIdxToo) {
  TempDir dir;
  write_raw(dir.file("img"), idx_images(3, 2, 2));
  write_raw(dir.file("lab"), idx_labels({1, 2, 3}));
  EXPECT_EQ(read_idx(dir.file("img"), dir.file("lab")).size(), 3);
}

TEST(DatasetTest, ReadsRealFashionMnistSample) {
  const Dataset d = read_idx(kSampleDir + "/train-images-idx3-ubyte.gz",
                             kSampleDir + "/train-labels-idx1-ubyte.gz");
  EXPECT_EQ(d.size(), 100);
  EXPECT_EQ(d.height, 28);
  EXPECT_EQ(d.width, 28);
  for (int count : d.class_counts()) EXPECT_EQ(count, 10);
  EXPECT_EQ(d.labels[0], 9);  // the first training image is an ankle boot
}

TEST(DatasetTest, IdxMissingFileNamesIt) {
  TempDir dir;
  write_gz(dir.file("lab.gz"), idx_labels({1}));
  expect_error([&] { read_idx(dir.file("nope.gz"), dir.file("lab.gz")); },
               {dir.file("nope.gz"), "not found"});
}

TEST(DatasetTest, IdxBadMagic) {
  TempDir dir;
  auto img = idx_images(2, 3, 3);
  img[3] = 0x01;
  write_gz(dir.file("img.gz"), img);
  write_gz(dir.file("lab.gz"), idx_labels({1, 2}));
  expect_idx_error(dir, "img.gz", {"bad magic"});
  write_gz(dir.file("img.gz"), idx_images(2, 3, 3));
  write_gz(dir.file("lab.gz"), idx_images(2, 3, 3));
  expect_idx_error(dir, "lab.gz", {"bad magic"});
}

TEST(DatasetTest, IdxTruncatedImagesAndLabels) {
  TempDir dir;
  auto img = idx_images(4, 3, 3);
  img.resize(img.size() - 5);
  write_gz(dir.file("img.gz"), img);
  write_gz(dir.file("lab.gz"), idx_labels({1, 2, 3, 4}));
  expect_idx_error(dir, "img.gz", {"truncated"});
  write_gz(dir.file("img.gz"), idx_images(4, 3, 3));
  auto lab = idx_labels({1, 2, 3, 4});
  lab.pop_back();
  write_gz(dir.file("lab.gz"), lab);
  expect_idx_error(dir, "lab.gz", {"truncated"});
}

TEST(DatasetTest, IdxTruncatedGzipStream) {
  TempDir dir;
  write_gz(dir.file("img.gz"), idx_images(50, 10, 10));
  write_gz(dir.file("lab.gz"), idx_labels(cycle_labels(50)));
  const auto size = fs::file_size(dir.file("img.gz"));
  fs::resize_file(dir.file("img.gz"), size / 2);
  expect_idx_error(dir, "img.gz", {"truncated"});
}

// Data past what the header describes is counted while it is read in 64 KiB chunks and dropped:
// the reader used to hold the whole decompressed file first, so a small gzip file with a long
// tail (16 KiB here, 16 MiB decompressed) cost its decompressed size in memory.
TEST(DatasetTest, IdxTrailingDataIsNotHeldWhole) {
  TempDir dir;
  auto img = idx_images(1, 2, 2);
  img.resize(img.size() + (16u << 20), 0);
  write_gz(dir.file("img.gz"), img);
  write_gz(dir.file("lab.gz"), idx_labels({1}));
  expect_idx_error(dir, "img.gz", {"more than 65536 unexpected bytes after 1 images"});
  write_gz(dir.file("img.gz"), idx_images(1, 2, 2));
  auto lab = idx_labels({1});
  lab.resize(lab.size() + 3, 0);
  write_gz(dir.file("lab.gz"), lab);
  expect_idx_error(dir, "lab.gz", {"wrong size: 3 unexpected bytes after 1 labels (want 9)"});
}

TEST(DatasetTest, IdxCountMismatchAndLabelOutOfRange) {
  TempDir dir;
  write_gz(dir.file("img.gz"), idx_images(3, 2, 2));
  write_gz(dir.file("lab.gz"), idx_labels({1, 2}));
  expect_idx_error(dir, "lab.gz", {"2 labels"});
  write_gz(dir.file("lab.gz"), idx_labels({1, 12, 3}));
  expect_idx_error(dir, "lab.gz", {"label 12", "item 1", "out of range"});
}

TEST(DatasetTest, ReadsCifarDirectory) {
  TempDir dir;
  for (int b = 1; b <= 5; ++b) {
    write_raw(dir.file("data_batch_" + std::to_string(b) + ".bin"),
              cifar_records(cycle_labels(20), (b - 1) * 20));
  }
  write_raw(dir.file("test_batch.bin"), cifar_records({3, 4, 5}));
  const DatasetPair pair = load_cifar10(dir.file(""));
  EXPECT_EQ(pair.train.size(), 100);
  EXPECT_EQ(pair.test.size(), 3);
  EXPECT_EQ(pair.train.channels, 3);
  EXPECT_EQ(pair.train.height, 32);
  EXPECT_EQ(pair.test.labels[2], 5);
  // Image 45 (batch 3): channel G (1), pixel (y=2, x=7) -> p = 71.
  EXPECT_EQ(pair.train.image(45)[1 * 1024 + 2 * 32 + 7], (45 + 50 + 71) % 256);
  for (int count : pair.train.class_counts()) EXPECT_EQ(count, 10);
}

TEST(DatasetTest, CifarErrorsNameTheFile) {
  TempDir dir;
  for (int b = 1; b <= 5; ++b) {
    write_raw(dir.file("data_batch_" + std::to_string(b) + ".bin"), cifar_records(cycle_labels(4)));
  }
  // test_batch.bin missing.
  expect_error([&] { load_cifar10(dir.file("")); }, {"test_batch.bin", "not found"});
  auto records = cifar_records(cycle_labels(4));
  records.resize(records.size() - 100);
  write_raw(dir.file("data_batch_2.bin"), records);
  expect_error([&] { load_cifar10(dir.file("")); }, {"data_batch_2.bin", "truncated"});
  records = cifar_records({1, 2, 10, 3});
  write_raw(dir.file("data_batch_2.bin"), records);
  expect_error([&] { load_cifar10(dir.file("")); }, {"data_batch_2.bin", "label 10", "item 2"});
}

TEST(DatasetTest, NormalizationMatchesDirectComputation) {
  TempDir dir;
  write_raw(dir.file("b.bin"), cifar_records({0, 1, 2, 3, 4}));
  const Dataset d = read_cifar10_batch(dir.file("b.bin"));
  const Normalization norm = compute_normalization(d);
  ASSERT_EQ(norm.mean.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    double sum = 0, sq = 0;
    for (int i = 0; i < d.size(); ++i)
      for (int p = 0; p < 1024; ++p) {
        const double v = d.image(i)[c * 1024 + p] / 255.0;
        sum += v;
        sq += v * v;
      }
    const double mean = sum / 5120, sd = std::sqrt(sq / 5120 - mean * mean);
    EXPECT_NEAR(norm.mean[c], mean, 1e-6);
    EXPECT_NEAR(norm.stddev[c], sd, 1e-6);
  }
  // A normalized batch has per-channel mean ~0 and std ~1.
  Batcher batcher(d, norm, BatchOptions{5, false, false, 4, false});
  std::mt19937_64 rng(1);
  batcher.start_epoch(rng);
  Tensor images;
  std::vector<int> labels;
  ASSERT_TRUE(batcher.next(images, labels));
  for (int c = 0; c < 3; ++c) {
    double sum = 0, sq = 0;
    for (int n = 0; n < 5; ++n)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
          sum += images.at(n, c, y, x);
          sq += images.at(n, c, y, x) * images.at(n, c, y, x);
        }
    EXPECT_NEAR(sum / 5120, 0.0, 1e-4);
    EXPECT_NEAR(sq / 5120, 1.0, 1e-3);
  }
  EXPECT_FALSE(batcher.next(images, labels));
}

TEST(DatasetTest, BatcherShapesLabelsAndShuffle) {
  const Dataset d = read_idx(kSampleDir + "/train-images-idx3-ubyte.gz",
                             kSampleDir + "/train-labels-idx1-ubyte.gz");
  const Normalization norm = compute_normalization(d);
  Batcher batcher(d, norm, BatchOptions{32, true, false, 4, false});
  EXPECT_EQ(batcher.num_batches(), 4);
  std::mt19937_64 rng(7);
  batcher.start_epoch(rng);
  Tensor images;
  std::vector<int> labels;
  std::vector<int> sizes;
  std::multiset<int> seen_labels;
  std::vector<int> first_epoch_labels;
  while (batcher.next(images, labels)) {
    sizes.push_back(images.n());
    EXPECT_EQ(images.c(), 1);
    EXPECT_EQ(images.h(), 28);
    EXPECT_EQ(images.w(), 28);
    EXPECT_EQ(static_cast<int>(labels.size()), images.n());
    seen_labels.insert(labels.begin(), labels.end());
    first_epoch_labels.insert(first_epoch_labels.end(), labels.begin(), labels.end());
  }
  EXPECT_EQ(sizes, (std::vector<int>{32, 32, 32, 4}));
  for (int c = 0; c < 10; ++c) EXPECT_EQ(seen_labels.count(c), 10u);
  // Shuffled (not file order), and reproducible from the same seed.
  EXPECT_NE(first_epoch_labels, std::vector<int>(d.labels.begin(), d.labels.end()));
  std::mt19937_64 rng2(7);
  batcher.start_epoch(rng2);
  std::vector<int> again;
  while (batcher.next(images, labels)) again.insert(again.end(), labels.begin(), labels.end());
  EXPECT_EQ(again, first_epoch_labels);

  Batcher drop(d, norm, BatchOptions{32, true, false, 4, true});
  EXPECT_EQ(drop.num_batches(), 3);
  EXPECT_EQ(drop.num_images(), 96);
}

TEST(DatasetTest, SplitIsPerClassHalfAndDisjoint) {
  TempDir dir;
  // Class c has 10 + c images (odd counts too), pixel bytes identify each image uniquely.
  std::vector<int> labels;
  for (int c = 0; c < 10; ++c)
    for (int k = 0; k < 10 + c; ++k) labels.push_back(c);
  write_raw(dir.file("b.bin"), cifar_records(labels));
  const Dataset d = read_cifar10_batch(dir.file("b.bin"));
  const DatasetSplit split = split_per_class(d, 42);
  const auto a = split.first.class_counts(), b = split.second.class_counts();
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(a[c], (10 + c) / 2);
    EXPECT_EQ(a[c] + b[c], 10 + c);
  }
  // Disjoint and complete: identify images by their first pixel (= index % 256; < 256 images).
  std::set<int> ids;
  for (const Dataset* part : {&split.first, &split.second})
    for (int i = 0; i < part->size(); ++i) EXPECT_TRUE(ids.insert(part->image(i)[0]).second);
  EXPECT_EQ(static_cast<int>(ids.size()), d.size());
  // Fixed seed: same split; another seed: a different one.
  EXPECT_EQ(split_per_class(d, 42).first.pixels, split.first.pixels);
  EXPECT_NE(split_per_class(d, 43).first.pixels, split.first.pixels);
}

TEST(DatasetTest, SubsetTakesFirstPerClass) {
  TempDir dir;
  write_raw(dir.file("b.bin"), cifar_records(cycle_labels(50)));
  const Dataset d = read_cifar10_batch(dir.file("b.bin"));
  const Dataset s = subset_per_class(d, 2);
  EXPECT_EQ(s.size(), 20);
  for (int count : s.class_counts()) EXPECT_EQ(count, 2);
  // The first 20 images of a cycling label sequence are exactly the first two of each class.
  EXPECT_EQ(s.pixels, std::vector<std::uint8_t>(d.pixels.begin(), d.pixels.begin() + 20 * 3072));
  EXPECT_THROW(subset_per_class(d, 0), std::invalid_argument);
}

TEST(DatasetTest, UniformBelowIsInRangeAndCoversIt) {
  std::mt19937_64 rng(3);
  std::vector<int> hits(9, 0);
  for (int i = 0; i < 9000; ++i) ++hits[uniform_below(rng, 9)];
  for (int h : hits) EXPECT_GT(h, 850);
}

TEST(DatasetTest, RealFashionMnistIfInstalled) {
  if (!fs::exists(std::string(default_fashion_mnist_dir()) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const DatasetPair pair = load_fashion_mnist();
  EXPECT_EQ(pair.train.size(), 60000);
  EXPECT_EQ(pair.test.size(), 10000);
  for (int count : pair.test.class_counts()) EXPECT_EQ(count, 1000);
  const Normalization norm = compute_normalization(pair.train);
  EXPECT_NEAR(norm.mean[0], 0.2860, 1e-3);  // the published Fashion-MNIST statistics
  EXPECT_NEAR(norm.stddev[0], 0.3530, 1e-3);
}

}  // namespace
}  // namespace nce::nn
