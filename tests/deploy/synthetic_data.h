// The deploy tests' synthetic data set: 16x16 images of 10 classes, a bright 4x4 square at a
// class-specific place on noise (a tiny ResNet-8 learns it in a few epochs). With several channels,
// channel c holds the image scaled by (c + 1) / channels, so that each has its own mean and std.
#pragma once

#include <cstdint>
#include <random>

#include "nce/nn/dataset.h"

namespace nce::deploy::test_data {

inline nn::Dataset synthetic(int n, std::uint64_t seed, int channels = 1) {
  nn::Dataset d{"synthetic", channels, /*height=*/16, /*width=*/16, /*num_classes=*/10, {}, {}};
  std::mt19937_64 rng(seed);
  for (int i = 0; i < n; ++i) {
    const int label = i % 10;
    d.labels.push_back(static_cast<std::uint8_t>(label));
    const int y0 = (label / 5) * 8 + 2, x0 = (label % 5) * 3;
    std::uint8_t plane[16 * 16];
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) {
        int v = static_cast<int>(rng() % 90);
        if (y >= y0 && y < y0 + 4 && x >= x0 && x < x0 + 4) v += 120 + static_cast<int>(rng() % 40);
        plane[y * 16 + x] = static_cast<std::uint8_t>(v);
      }
    for (int c = 0; c < channels; ++c)
      for (std::uint8_t v : plane)
        d.pixels.push_back(static_cast<std::uint8_t>(v * (c + 1) / channels));
  }
  return d;
}

}  // namespace nce::deploy::test_data
