#include "nce/nn/dataset.h"

#include <zlib.h>

#include <sys/stat.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>

#include "nce/nn/augment.h"

namespace nce::nn {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// A file read through zlib (gzip'd or plain: zlib passes plain files through) in 64 KiB chunks,
// so that what is held is what the caller asked for and the file has, never what a header claims.
class GzReader {
 public:
  static constexpr std::size_t kChunk = 64 * 1024;

  explicit GzReader(const std::string& path) : path_(path) {
    if (!file_exists(path)) fail(path, "file not found");
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) fail(path, "cannot open");
  }

  // Appends up to n bytes to `out`; fewer only at the end of the data.
  void read(std::size_t n, std::vector<std::uint8_t>& out) {
    while (n > 0) {
      const std::size_t old = out.size();
      const auto want = static_cast<unsigned>(std::min(n, kChunk));
      out.resize(old + want);
      const int got = gzread(file_.get(), out.data() + old, want);
      if (got < 0) {
        int errnum = 0;
        const char* msg = gzerror(file_.get(), &errnum);
        fail(path_, std::string("corrupt or truncated gzip data (") + msg + ")");
      }
      out.resize(old + static_cast<std::size_t>(got));
      if (got == 0) {
        // gzread returns 0 with Z_BUF_ERROR when the gzip stream ends early.
        int errnum = 0;
        gzerror(file_.get(), &errnum);
        if (errnum != Z_OK) fail(path_, "truncated gzip stream");
        return;
      }
      n -= static_cast<std::size_t>(got);
    }
  }

  // How many bytes follow what was read, counted up to `limit` (limit + 1: more than that).
  std::size_t bytes_left(std::size_t limit) {
    std::vector<std::uint8_t> rest;
    read(limit + 1, rest);
    return rest.size();
  }

 private:
  std::string path_;
  GzFile file_;
};

// "12 unexpected bytes" / "more than 65536 unexpected bytes" after what a header describes.
std::string unexpected_bytes(std::size_t extra) {
  return (extra > GzReader::kChunk ? "more than " + std::to_string(GzReader::kChunk)
                                   : std::to_string(extra)) +
         " unexpected bytes";
}

std::uint32_t big_endian_u32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
}

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// The `size`-byte header of an IDX file (magic, then one big-endian u32 per dimension), its magic
// checked against `magic` (`layout` names it in the message).
std::vector<std::uint8_t> read_idx_header(GzReader& in, const std::string& path, std::size_t size,
                                          std::uint32_t magic, const char* layout) {
  std::vector<std::uint8_t> header;
  in.read(size, header);
  if (header.size() < size)
    fail(path, "truncated IDX header (" + std::to_string(header.size()) + " bytes)");
  const std::uint32_t found = big_endian_u32(header, 0);
  if (found != magic) {
    fail(path, "bad magic " + hex(found) + " (want " + hex(magic) + ": " + layout + ")");
  }
  return header;
}

void check_labels(const std::vector<std::uint8_t>& labels, int num_classes, const std::string& path,
                  std::size_t first_index = 0) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      fail(path, "label " + std::to_string(labels[i]) + " of item " +
                     std::to_string(first_index + i) + " is out of range [0, " +
                     std::to_string(num_classes) + ")");
    }
  }
}

void append(Dataset& into, const Dataset& from) {
  into.pixels.insert(into.pixels.end(), from.pixels.begin(), from.pixels.end());
  into.labels.insert(into.labels.end(), from.labels.begin(), from.labels.end());
}

}  // namespace

std::vector<int> Dataset::class_counts() const {
  std::vector<int> counts(num_classes, 0);
  for (auto label : labels) ++counts[label];
  return counts;
}

const char* default_fashion_mnist_dir() {
  return "/usr/share/datasets/fashion-mnist";
}

Dataset read_idx(const std::string& images_path, const std::string& labels_path, int num_classes) {
  GzReader images(images_path);
  std::vector<std::uint8_t> header =
      read_idx_header(images, images_path, 16, 0x00000803, "u8 images, 3 dims");
  const std::uint32_t count = big_endian_u32(header, 4);
  const std::uint32_t rows = big_endian_u32(header, 8);
  const std::uint32_t cols = big_endian_u32(header, 12);
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096) {
    fail(images_path,
         "implausible image size " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (count > static_cast<std::uint32_t>(std::numeric_limits<int>::max())) {
    fail(images_path, "implausible image count " + std::to_string(count));
  }
  const std::size_t pixel_bytes = static_cast<std::size_t>(count) * rows * cols;
  Dataset data;
  images.read(pixel_bytes, data.pixels);
  if (data.pixels.size() < pixel_bytes) {
    fail(images_path, "truncated: header says " + std::to_string(count) + " images of " +
                          std::to_string(rows) + "x" + std::to_string(cols) + " (" +
                          std::to_string(16 + pixel_bytes) + " bytes) but the file has " +
                          std::to_string(16 + data.pixels.size()) + " bytes");
  }
  if (const std::size_t extra = images.bytes_left(GzReader::kChunk)) {
    fail(images_path, unexpected_bytes(extra) + " after " + std::to_string(count) + " images");
  }

  GzReader labels(labels_path);
  header = read_idx_header(labels, labels_path, 8, 0x00000801, "u8 labels, 1 dim");
  const std::uint32_t label_count = big_endian_u32(header, 4);
  if (label_count != count) {
    fail(labels_path, "has " + std::to_string(label_count) + " labels but " + images_path +
                          " has " + std::to_string(count) + " images");
  }
  labels.read(count, data.labels);
  const std::string want = " (want " + std::to_string(8 + std::size_t{count}) + ")";
  if (data.labels.size() < count) {
    fail(labels_path, "truncated: " + std::to_string(8 + data.labels.size()) + " bytes for " +
                          std::to_string(count) + " labels" + want);
  }
  if (const std::size_t extra = labels.bytes_left(GzReader::kChunk)) {
    fail(labels_path, "wrong size: " + unexpected_bytes(extra) + " after " + std::to_string(count) +
                          " labels" + want);
  }
  if (count == 0) fail(images_path, "contains no images");

  data.source = images_path;
  data.channels = 1;
  data.height = static_cast<int>(rows);
  data.width = static_cast<int>(cols);
  data.num_classes = num_classes;
  check_labels(data.labels, num_classes, labels_path);
  return data;
}

DatasetPair load_fashion_mnist(const std::string& dir) {
  DatasetPair pair;
  pair.train = read_idx(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz");
  pair.test = read_idx(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
  return pair;
}

Dataset read_cifar10_batch(const std::string& path) {
  constexpr std::size_t kRecord = 1 + 3 * 32 * 32;
  if (!file_exists(path)) fail(path, "file not found");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (bytes.empty()) fail(path, "is empty");
  if (bytes.size() % kRecord != 0) {
    fail(path, "truncated or not a CIFAR-10 batch: " + std::to_string(bytes.size()) +
                   " bytes is not a multiple of the 3073-byte record (" +
                   std::to_string(bytes.size() / kRecord) + " whole records + " +
                   std::to_string(bytes.size() % kRecord) + " bytes)");
  }
  const std::size_t count = bytes.size() / kRecord;
  Dataset data;
  data.source = path;
  data.channels = 3;
  data.height = 32;
  data.width = 32;
  data.num_classes = 10;
  data.labels.resize(count);
  data.pixels.resize(count * (kRecord - 1));
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* rec = bytes.data() + i * kRecord;
    data.labels[i] = rec[0];
    std::copy(rec + 1, rec + kRecord, data.pixels.begin() + i * (kRecord - 1));
  }
  check_labels(data.labels, data.num_classes, path);
  return data;
}

DatasetPair load_cifar10(const std::string& dir) {
  DatasetPair pair;
  for (int b = 1; b <= 5; ++b) {
    Dataset part = read_cifar10_batch(dir + "/data_batch_" + std::to_string(b) + ".bin");
    if (b == 1) {
      pair.train = std::move(part);
      pair.train.source = dir;
    } else {
      append(pair.train, part);
    }
  }
  pair.test = read_cifar10_batch(dir + "/test_batch.bin");
  return pair;
}

DatasetPair load_dataset(const std::string& name, const std::string& dir) {
  if (name == "fashion-mnist")
    return load_fashion_mnist(dir.empty() ? default_fashion_mnist_dir() : dir);
  if (name == "cifar10") {
    if (dir.empty()) {
      throw std::invalid_argument(
          "dataset cifar10 needs a directory (--data DIR) in the cifar-10-batches-bin layout");
    }
    return load_cifar10(dir);
  }
  throw std::invalid_argument("unknown dataset '" + name + "' (want fashion-mnist or cifar10)");
}

Normalization compute_normalization(const Dataset& data) {
  Normalization norm;
  const std::size_t plane = static_cast<std::size_t>(data.height) * data.width;
  for (int c = 0; c < data.channels; ++c) {
    double sum = 0.0, sum_sq = 0.0;
    for (int i = 0; i < data.size(); ++i) {
      const std::uint8_t* p = data.image(i) + plane * c;
      std::uint64_t s = 0, s2 = 0;
      for (std::size_t k = 0; k < plane; ++k) {
        s += p[k];
        s2 += std::uint64_t{p[k]} * p[k];
      }
      sum += static_cast<double>(s);
      sum_sq += static_cast<double>(s2);
    }
    const double n = static_cast<double>(plane) * data.size();
    const double mean = sum / n / 255.0;
    const double var = std::max(0.0, sum_sq / n / (255.0 * 255.0) - mean * mean);
    norm.mean.push_back(static_cast<float>(mean));
    norm.stddev.push_back(static_cast<float>(std::max(std::sqrt(var), 1e-6)));
  }
  return norm;
}

std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  // Reject the top partial range so every residue is equally likely.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  for (;;) {
    const std::uint64_t r = rng();
    if (r < limit) return r % n;
  }
}

void shuffle_indices(std::vector<int>& indices, std::mt19937_64& rng) {
  for (std::size_t i = indices.size(); i > 1; --i) {
    const std::size_t j = uniform_below(rng, i);
    std::swap(indices[i - 1], indices[j]);
  }
}

Dataset select(const Dataset& data, const std::vector<int>& indices) {
  Dataset out;
  out.source = data.source;
  out.channels = data.channels;
  out.height = data.height;
  out.width = data.width;
  out.num_classes = data.num_classes;
  const std::size_t bytes = data.image_bytes();
  out.pixels.resize(bytes * indices.size());
  out.labels.resize(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const int i = indices[k];
    if (i < 0 || i >= data.size()) {
      throw std::out_of_range(data.source + ": image index " + std::to_string(i) +
                              " out of range [0, " + std::to_string(data.size()) + ")");
    }
    std::copy(data.image(i), data.image(i) + bytes, out.pixels.begin() + bytes * k);
    out.labels[k] = data.labels[i];
  }
  return out;
}

Dataset subset_per_class(const Dataset& data, int per_class) {
  if (per_class < 1) {
    throw std::invalid_argument("subset: images per class must be >= 1, got " +
                                std::to_string(per_class));
  }
  std::vector<int> taken(data.num_classes, 0);
  std::vector<int> indices;
  for (int i = 0; i < data.size(); ++i) {
    if (taken[data.labels[i]] < per_class) {
      ++taken[data.labels[i]];
      indices.push_back(i);
    }
  }
  return select(data, indices);
}

DatasetSplit split_per_class(const Dataset& data, std::uint64_t seed) {
  std::vector<std::vector<int>> by_class(data.num_classes);
  for (int i = 0; i < data.size(); ++i) by_class[data.labels[i]].push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<int> first, second;
  for (auto& members : by_class) {
    shuffle_indices(members, rng);
    const std::size_t half = members.size() / 2;
    first.insert(first.end(), members.begin(), members.begin() + half);
    second.insert(second.end(), members.begin() + half, members.end());
  }
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  return DatasetSplit{select(data, first), select(data, second)};
}

Batcher::Batcher(const Dataset& data, const Normalization& norm, const BatchOptions& options)
    : data_(data), norm_(norm), options_(options) {
  if (options.batch_size < 1) {
    throw std::invalid_argument("batch size must be >= 1, got " +
                                std::to_string(options.batch_size));
  }
  if (static_cast<int>(norm.mean.size()) != data.channels ||
      static_cast<int>(norm.stddev.size()) != data.channels) {
    throw std::invalid_argument(data.source + ": normalization has " +
                                std::to_string(norm.mean.size()) + " channels, data has " +
                                std::to_string(data.channels));
  }
  order_.resize(data.size());
  for (int i = 0; i < data.size(); ++i) order_[i] = i;
}

int Batcher::num_images() const {
  const int n = data_.size();
  return options_.drop_last ? n / options_.batch_size * options_.batch_size : n;
}

int Batcher::num_batches() const {
  return (num_images() + options_.batch_size - 1) / options_.batch_size;
}

void Batcher::start_epoch(std::mt19937_64& rng) {
  rng_ = &rng;
  for (int i = 0; i < data_.size(); ++i) order_[i] = i;
  if (options_.shuffle) shuffle_indices(order_, rng);
  position_ = 0;
}

bool Batcher::next(Tensor& images, std::vector<int>& labels) {
  const int end = num_images();
  if (position_ >= end) return false;
  const int count = std::min(options_.batch_size, end - position_);
  images.resize(count, data_.channels, data_.height, data_.width);
  labels.resize(count);
  const std::size_t plane = data_.image_bytes();
  for (int b = 0; b < count; ++b) {
    const int i = order_[position_ + b];
    labels[b] = data_.labels[i];
    float* out = images.data() + plane * b;
    if (options_.augment) {
      if (rng_ == nullptr) throw std::logic_error("Batcher::next before start_epoch");
      const CropFlip crop = draw_crop_flip(*rng_, options_.pad);
      write_augmented(data_.image(i), data_.channels, data_.height, data_.width, options_.pad, crop,
                      norm_, out);
    } else {
      write_normalized(data_.image(i), data_.channels, data_.height, data_.width, norm_, out);
    }
  }
  position_ += count;
  return true;
}

}  // namespace nce::nn
