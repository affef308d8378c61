// A small learnable data set shared by the trainer and search tests: 8x8 images of `channels`
// channels whose class (0..3) brightens one quadrant, over uniform noise. Deterministic in seed.
#pragma once

#include <cstdint>
#include <random>

#include "nce/nn/dataset.h"

namespace nce::nn::testing {

inline Dataset quadrant_images(int channels, int per_class, std::uint64_t seed) {
  Dataset d;
  d.source = "quadrants";
  d.channels = channels;
  d.height = 8;
  d.width = 8;
  d.num_classes = 4;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> noise(0, 90);
  for (int i = 0; i < per_class * d.num_classes; ++i) {
    const int label = i % d.num_classes;
    for (int c = 0; c < channels; ++c) {
      for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
          const int quadrant = (y / 4) * 2 + x / 4;
          d.pixels.push_back(static_cast<std::uint8_t>(noise(rng) + (quadrant == label ? 160 : 0)));
        }
      }
    }
    d.labels.push_back(static_cast<std::uint8_t>(label));
  }
  return d;
}

}  // namespace nce::nn::testing
