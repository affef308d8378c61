// Labelled image data sets held in memory as raw bytes, their loaders (Fashion-MNIST IDX .gz,
// CIFAR-10 binary batches), per-channel normalization, per-class subsets and splits, and the
// batcher that turns them into NCHW float tensors (tensor.h).
//
// Pixels stay uint8 (0..255) until a batch is assembled; one image is stored channel-major
// (C x H x W, rows top to bottom), images one after another. Labels are 0..num_classes-1.
// Every loader validates what it reads and throws std::runtime_error naming the file and what is
// wrong (missing, truncated, bad magic, label out of range), so a run never starts on bad data.
//
// Randomness (shuffles, splits, augmentation) comes from std::mt19937_64 through uniform_below(),
// which, unlike std::uniform_int_distribution/std::shuffle, is the same on every standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "nce/nn/tensor.h"

namespace nce::nn {

struct Dataset {
  std::string source;  // the file or directory it was read from (for messages)
  int channels = 0;
  int height = 0;
  int width = 0;
  int num_classes = 0;
  std::vector<std::uint8_t> pixels;  // size() * image_bytes(), each image C x H x W
  std::vector<std::uint8_t> labels;  // size() entries in [0, num_classes)

  int size() const { return static_cast<int>(labels.size()); }
  std::size_t image_bytes() const { return static_cast<std::size_t>(channels) * height * width; }
  const std::uint8_t* image(int i) const { return pixels.data() + image_bytes() * i; }
  // Images per class (num_classes entries).
  std::vector<int> class_counts() const;
};

struct DatasetPair {
  Dataset train;
  Dataset test;
};

// Debian's dataset-fashion-mnist location.
const char* default_fashion_mnist_dir();  // "/usr/share/datasets/fashion-mnist"

// Reads an IDX image file (magic 0x00000803, u8 N x H x W, gzip'd or not) and its IDX label file
// (magic 0x00000801, u8 N). Counts must agree and every label must be < num_classes.
Dataset read_idx(const std::string& images_path, const std::string& labels_path,
                 int num_classes = 10);

// Fashion-MNIST from `dir`: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (1 x 28 x 28, 10
// classes).
DatasetPair load_fashion_mnist(const std::string& dir = default_fashion_mnist_dir());

// One CIFAR-10 binary batch file: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G,
// 1024 B, rows top to bottom). The file size must be a positive multiple of 3073.
Dataset read_cifar10_batch(const std::string& path);
// CIFAR-10 from a cifar-10-batches-bin directory: data_batch_1..5.bin (train), test_batch.bin.
DatasetPair load_cifar10(const std::string& dir);

// Loads "fashion-mnist" or "cifar10" (throws std::invalid_argument on another name). `dir` empty:
// Fashion-MNIST's default directory; CIFAR-10 has no default and requires one.
DatasetPair load_dataset(const std::string& name, const std::string& dir);

// Per-channel mean and standard deviation in units of pixel/255 (so 0..1), applied to a batch as
// (pixel/255 - mean[c]) / stddev[c].
struct Normalization {
  std::vector<float> mean;
  std::vector<float> stddev;
};
// Computed over every pixel of `data` (nce's default: statistics of the training set actually
// loaded, since the local CIFAR copy is JPEG-rebuilt and differs slightly from the published
// constants). Population standard deviation, accumulated in double.
Normalization compute_normalization(const Dataset& data);

// Uniform integer in [0, n) from a 64-bit generator, by rejection (no modulo bias), n >= 1.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n);
// Fisher-Yates shuffle with uniform_below.
void shuffle_indices(std::vector<int>& indices, std::mt19937_64& rng);

// The images at `indices`, in that order.
Dataset select(const Dataset& data, const std::vector<int>& indices);
// The first `per_class` images of every class, in file order (all of a class that has fewer).
Dataset subset_per_class(const Dataset& data, int per_class);

// Per-class 50/50 split (the search's D_w / D_a halves): each class's indices are shuffled with
// mt19937_64(seed); the first floor(n/2) go to `first`, the rest to `second`. Both halves keep
// file order. Disjoint, and together they are the whole set.
struct DatasetSplit {
  Dataset first;
  Dataset second;
};
DatasetSplit split_per_class(const Dataset& data, std::uint64_t seed);

struct BatchOptions {
  int batch_size = 128;
  bool shuffle = true;     // a fresh permutation each epoch
  bool augment = false;    // CIFAR: pad + random crop + random horizontal flip (augment.h)
  int pad = 4;             // zero padding (pixel value 0, before normalization) for the crop
  bool drop_last = false;  // drop a final partial batch
};

// Turns a Dataset into batches of normalized NCHW tensors. Holds references: `data` must outlive
// it. One epoch: start_epoch(), then next() until it returns false. The generator passed to
// start_epoch() draws the permutation, then each image's crop/flip as its batch is assembled, so
// a run is reproducible from the generator's state at the start of the epoch.
class Batcher {
 public:
  Batcher(const Dataset& data, const Normalization& norm, const BatchOptions& options);

  void start_epoch(std::mt19937_64& rng);
  // Fills `images` (B x C x H x W) and `labels` (B entries) with the next batch.
  bool next(Tensor& images, std::vector<int>& labels);
  int num_batches() const;
  int num_images() const;  // per epoch (after drop_last)

 private:
  const Dataset& data_;
  Normalization norm_;
  BatchOptions options_;
  std::vector<int> order_;
  int position_ = 0;
  std::mt19937_64* rng_ = nullptr;
};

}  // namespace nce::nn
