// What the data set fuzz targets (idx_fuzz, cifar10_batch_fuzz) check of an accepted data set
// beyond its reader: the first batch a run would train on. Header-only, as fuzz_files.h.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "nce/nn/dataset.h"

namespace nce::fuzz {

// A Batcher of batch size 2 over `d` (normalized by `norm`, augmented or not) yields a first batch
// with labels, every pixel finite; traps otherwise.
inline void check_first_batch(const nn::Dataset& d, const nn::Normalization& norm, bool augment) {
  nn::BatchOptions options;
  options.batch_size = 2;
  options.augment = augment;
  nn::Batcher batcher(d, norm, options);
  std::mt19937_64 rng(1);
  batcher.start_epoch(rng);
  nn::Tensor images;
  std::vector<int> labels;
  if (!batcher.next(images, labels) || labels.empty()) __builtin_trap();
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (!std::isfinite(images.data()[i])) __builtin_trap();
  }
}

}  // namespace nce::fuzz
