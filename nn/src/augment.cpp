#include "nce/nn/augment.h"

#include "nce/nn/dataset.h"

namespace nce::nn {

CropFlip draw_crop_flip(std::mt19937_64& rng, int pad) {
  CropFlip crop;
  const auto span = static_cast<std::uint64_t>(2 * pad + 1);
  crop.dy = static_cast<int>(uniform_below(rng, span));
  crop.dx = static_cast<int>(uniform_below(rng, span));
  crop.flip = uniform_below(rng, 2) == 1;
  return crop;
}

void write_augmented(const std::uint8_t* image, int channels, int height, int width, int pad,
                     const CropFlip& crop, const Normalization& norm, float* out) {
  for (int c = 0; c < channels; ++c) {
    const float scale = 1.0f / (255.0f * norm.stddev[c]);
    const float shift = -norm.mean[c] / norm.stddev[c];
    const std::uint8_t* plane = image + static_cast<std::size_t>(c) * height * width;
    float* dst = out + static_cast<std::size_t>(c) * height * width;
    for (int y = 0; y < height; ++y) {
      const int sy = y + crop.dy - pad;
      float* row = dst + static_cast<std::size_t>(y) * width;
      if (sy < 0 || sy >= height) {
        for (int x = 0; x < width; ++x) row[x] = shift;
        continue;
      }
      const std::uint8_t* src = plane + static_cast<std::size_t>(sy) * width;
      for (int x = 0; x < width; ++x) {
        const int xs = crop.flip ? width - 1 - x : x;
        const int sx = xs + crop.dx - pad;
        row[x] = (sx < 0 || sx >= width) ? shift : src[sx] * scale + shift;
      }
    }
  }
}

void write_normalized(const std::uint8_t* image, int channels, int height, int width,
                      const Normalization& norm, float* out) {
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  for (int c = 0; c < channels; ++c) {
    const float scale = 1.0f / (255.0f * norm.stddev[c]);
    const float shift = -norm.mean[c] / norm.stddev[c];
    const std::uint8_t* src = image + plane * c;
    float* dst = out + plane * c;
    for (std::size_t i = 0; i < plane; ++i) dst[i] = src[i] * scale + shift;
  }
}

}  // namespace nce::nn
