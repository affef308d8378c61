// libFuzzer target: the IDX reader of Fashion-MNIST (nn/dataset.h read_idx), gzip included, and
// what a run does next with the images it accepts (normalization, a per-class split, one batch).
// An input is two files: byte 0 holds flags (bit 0: gzip the image file, bit 1: gzip the label
// file, so the IDX layout behind gzip is explored too; the raw bytes may themselves be gzip),
// bytes 1-2 the image file's length (little-endian, cut to what is there); the image file
// follows, then the label file. They are written to a scratch directory of this process.
// Invariants checked on every input:
//   * bad input is std::runtime_error naming the file (never another exception, a crash, UB or
//     an allocation the input does not hold the data for);
//   * an accepted data set has 1 x rows x cols images, one label < 10 per image, and its
//     normalization, split and first batch are consistent and finite.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "fuzz_dataset.h"
#include "fuzz_files.h"
#include "nce/nn/dataset.h"

namespace {

std::string g_dir;

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && gzwrite(f, data, static_cast<unsigned>(size)) != static_cast<int>(size))
      std::abort();
    if (gzclose(f) != Z_OK) std::abort();
    return;
  }
  nce::fuzz::write_file(path, data, size);
}

void check_accepted(const nce::nn::Dataset& d) {
  if (d.channels != 1 || d.height < 1 || d.width < 1 || d.num_classes != 10) __builtin_trap();
  if (d.size() < 1 || d.pixels.size() != d.image_bytes() * d.labels.size()) __builtin_trap();
  for (auto label : d.labels) {
    if (label >= d.num_classes) __builtin_trap();
  }
  const nce::nn::Normalization norm = nce::nn::compute_normalization(d);
  if (norm.mean.size() != 1 || !(norm.mean[0] >= 0 && norm.mean[0] <= 1) ||
      !(norm.stddev[0] > 0 && std::isfinite(norm.stddev[0]))) {
    __builtin_trap();
  }
  const nce::nn::DatasetSplit split = nce::nn::split_per_class(d, 7);
  if (split.first.size() + split.second.size() != d.size()) __builtin_trap();
  nce::fuzz::check_first_batch(d, norm, /*augment=*/false);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_dir = nce::fuzz::make_scratch_dir("idx", {"images", "labels"});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const unsigned flags = data[0];
  const std::size_t rest = size - 3;
  const std::size_t image_size = std::min<std::size_t>(data[1] | (data[2] << 8), rest);
  const std::string images_path = g_dir + "/images", labels_path = g_dir + "/labels";
  write_file(images_path, data + 3, image_size, flags & 1);
  write_file(labels_path, data + 3 + image_size, rest - image_size, flags & 2);
  nce::nn::Dataset d;
  try {
    d = nce::nn::read_idx(images_path, labels_path);
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    if (msg.find(images_path) == std::string::npos && msg.find(labels_path) == std::string::npos)
      __builtin_trap();
    return 0;
  }
  check_accepted(d);
  return 0;
}
