// libFuzzer target: the CIFAR-10 binary batch reader (nn/dataset.h read_cifar10_batch) and what a
// run does next with the images it accepts (normalization, per-class subset and split, one
// augmented batch). The input is the batch file, written to a scratch directory of this process.
// Invariants checked on every input:
//   * bad input is std::runtime_error naming the file (never another exception, a crash or UB);
//   * an accepted batch is whole 3073-byte records: 3 x 32 x 32 images with labels < 10, and its
//     normalization, subset, split and first batch are consistent and finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_dataset.h"
#include "fuzz_files.h"
#include "nce/nn/dataset.h"

namespace {

std::string g_path;

void check_accepted(const nce::nn::Dataset& d, std::size_t file_bytes) {
  if (d.channels != 3 || d.height != 32 || d.width != 32 || d.num_classes != 10) __builtin_trap();
  if (d.size() < 1 || static_cast<std::size_t>(d.size()) * 3073 != file_bytes) __builtin_trap();
  if (d.pixels.size() != d.image_bytes() * d.labels.size()) __builtin_trap();
  int counted = 0;
  for (int c : d.class_counts()) counted += c;
  if (counted != d.size()) __builtin_trap();
  const nce::nn::Normalization norm = nce::nn::compute_normalization(d);
  for (int c = 0; c < 3; ++c) {
    if (!(norm.mean[c] >= 0 && norm.mean[c] <= 1) ||
        !(norm.stddev[c] > 0 && std::isfinite(norm.stddev[c]))) {
      __builtin_trap();
    }
  }
  if (nce::nn::subset_per_class(d, 1).size() > 10) __builtin_trap();
  const nce::nn::DatasetSplit split = nce::nn::split_per_class(d, 3);
  if (split.first.size() + split.second.size() != d.size()) __builtin_trap();
  nce::fuzz::check_first_batch(d, norm, /*augment=*/true);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_path = nce::fuzz::make_scratch_dir("cifar10", {"data_batch_1.bin"}) + "/data_batch_1.bin";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nce::fuzz::write_file(g_path, data, size);
  nce::nn::Dataset d;
  try {
    d = nce::nn::read_cifar10_batch(g_path);
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(g_path) == std::string::npos) __builtin_trap();
    return 0;
  }
  check_accepted(d, size);
  return 0;
}
