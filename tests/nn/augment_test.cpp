#include "nce/nn/augment.h"

#include <gtest/gtest.h>

#include <vector>

#include "nce/nn/dataset.h"

namespace nce::nn {
namespace {

// An identity normalization (mean 0, stddev 1/255) makes outputs equal to the raw pixel values.
Normalization raw_pixels(int channels) {
  return Normalization{std::vector<float>(channels, 0.0f),
                       std::vector<float>(channels, 1.0f / 255.0f)};
}

std::vector<std::uint8_t> ramp(int channels, int h, int w) {
  std::vector<std::uint8_t> img;
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        img.push_back(static_cast<std::uint8_t>(1 + c * 100 + y * 10 + x));
  return img;
}

TEST(AugmentTest, CentreCropIsIdentity) {
  const int c = 2, h = 5, w = 6;
  const auto img = ramp(c, h, w);
  std::vector<float> a(img.size()), b(img.size());
  write_augmented(img.data(), c, h, w, 4, centre_crop(4), raw_pixels(c), a.data());
  write_normalized(img.data(), c, h, w, raw_pixels(c), b.data());
  for (std::size_t i = 0; i < img.size(); ++i) {
    EXPECT_FLOAT_EQ(a[i], img[i]);
    EXPECT_FLOAT_EQ(b[i], img[i]);
  }
}

TEST(AugmentTest, ShiftPadsWithZeroPixelsAndFlipMirrors) {
  const int h = 4, w = 5, pad = 2;
  const auto img = ramp(1, h, w);
  std::vector<float> out(img.size());
  // dy = 0, dx = 4: output (y, x) reads image (y - 2, x + 2).
  write_augmented(img.data(), 1, h, w, pad, CropFlip{0, 4, false}, raw_pixels(1), out.data());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int sy = y - 2, sx = x + 2;
      const float want = (sy >= 0 && sx < w) ? img[sy * w + sx] : 0.0f;
      EXPECT_FLOAT_EQ(out[y * w + x], want) << y << "," << x;
    }
  // Flip at the centre: a mirror image.
  write_augmented(img.data(), 1, h, w, pad, CropFlip{pad, pad, true}, raw_pixels(1), out.data());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) EXPECT_FLOAT_EQ(out[y * w + x], img[y * w + (w - 1 - x)]);
  // Padding in normalized units is (0 - mean) / stddev.
  const Normalization norm{{0.5f}, {0.25f}};
  write_augmented(img.data(), 1, h, w, pad, CropFlip{0, 0, false}, norm, out.data());
  EXPECT_FLOAT_EQ(out[0], -2.0f);
  EXPECT_NEAR(out[2 * w + 2], (img[0] / 255.0f - 0.5f) / 0.25f, 1e-5);
}

TEST(AugmentTest, DrawsAreSeededAndCoverTheRange) {
  std::mt19937_64 a(11), b(11), c(12);
  std::vector<int> seen_dy(9, 0), seen_dx(9, 0);
  int flips = 0;
  bool differs = false;
  for (int i = 0; i < 2000; ++i) {
    const CropFlip x = draw_crop_flip(a, 4), y = draw_crop_flip(b, 4), z = draw_crop_flip(c, 4);
    EXPECT_EQ(x.dy, y.dy);
    EXPECT_EQ(x.dx, y.dx);
    EXPECT_EQ(x.flip, y.flip);
    differs = differs || x.dy != z.dy || x.dx != z.dx || x.flip != z.flip;
    ASSERT_GE(x.dy, 0);
    ASSERT_LE(x.dy, 8);
    ++seen_dy[x.dy];
    ++seen_dx[x.dx];
    flips += x.flip;
  }
  EXPECT_TRUE(differs);
  for (int k = 0; k < 9; ++k) {
    EXPECT_GT(seen_dy[k], 150);
    EXPECT_GT(seen_dx[k], 150);
  }
  EXPECT_GT(flips, 900);
  EXPECT_LT(flips, 1100);
}

TEST(AugmentTest, AugmentedBatchesAreReproducible) {
  Dataset d;
  d.source = "synthetic";
  d.channels = 3;
  d.height = d.width = 8;
  d.num_classes = 2;
  for (int i = 0; i < 6; ++i) {
    const auto img = ramp(3, 8, 8);
    for (auto v : img) d.pixels.push_back(static_cast<std::uint8_t>(v + i));
    d.labels.push_back(static_cast<std::uint8_t>(i % 2));
  }
  const Normalization norm = compute_normalization(d);
  Batcher batcher(d, norm, BatchOptions{6, true, true, 4, false});
  Tensor first, second, third;
  std::vector<int> labels;
  std::mt19937_64 r1(5), r2(5), r3(6);
  batcher.start_epoch(r1);
  ASSERT_TRUE(batcher.next(first, labels));
  batcher.start_epoch(r2);
  ASSERT_TRUE(batcher.next(second, labels));
  batcher.start_epoch(r3);
  ASSERT_TRUE(batcher.next(third, labels));
  ASSERT_EQ(first.size(), second.size());
  bool same = true, differs = false;
  for (std::size_t i = 0; i < first.size(); ++i) {
    same = same && first[i] == second[i];
    differs = differs || first[i] != third[i];
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace nce::nn
