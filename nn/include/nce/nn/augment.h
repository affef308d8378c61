// CIFAR-style augmentation fused with normalization: pad the image with `pad` zero pixels on each
// side (pixel value 0, i.e. black, before normalization, as torchvision's RandomCrop(padding=4)),
// take a random H x W crop of the padded image, flip it horizontally with probability 1/2, and
// write (pixel/255 - mean[c]) / stddev[c] as float.
#pragma once

#include <cstdint>
#include <random>

namespace nce::nn {

struct Normalization;

// Where the crop starts in the padded image (0..2*pad each) and whether it is mirrored.
struct CropFlip {
  int dy = 0;
  int dx = 0;
  bool flip = false;
};

// Draws dy, then dx, uniform in [0, 2*pad], then flip with probability 1/2 (uniform_below).
CropFlip draw_crop_flip(std::mt19937_64& rng, int pad);

// The identity transform for `pad` (the centre crop, no flip).
inline CropFlip centre_crop(int pad) {
  return CropFlip{pad, pad, false};
}

// image: C x H x W bytes; out: C x H x W floats. Output pixel (c, y, x) reads padded pixel
// (y + dy, xs + dx) where xs = flip ? W-1-x : x; padded (py, px) is image (py-pad, px-pad) or 0.
void write_augmented(const std::uint8_t* image, int channels, int height, int width, int pad,
                     const CropFlip& crop, const Normalization& norm, float* out);

// No augmentation: just the normalization.
void write_normalized(const std::uint8_t* image, int channels, int height, int width,
                      const Normalization& norm, float* out);

}  // namespace nce::nn
