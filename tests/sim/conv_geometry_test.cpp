// conv_geometry.h: a layer's GEMM shape (K = k*k*c_in, N = h_out*w_out, M = c_out) and a plain
// GEMM as a 1x1 conv on a 1 x N map.
#include "nce/sim/conv_geometry.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

#include "nce/models/network.h"

namespace nce::sim {
namespace {

TEST(ConvGeometry, TakesTheLayersShapeAndLowersItToAGemm) {
  models::Layer l;
  l.c_in = 16, l.c_out = 32, l.k = 3, l.stride = 2, l.pad = 1;
  l.h_in = 32, l.w_in = 30, l.h_out = 16, l.w_out = 15;
  ConvGeometry expected;
  expected.c_in = 16, expected.c_out = 32, expected.k = 3, expected.stride = 2, expected.pad = 1;
  expected.h_in = 32, expected.w_in = 30, expected.h_out = 16, expected.w_out = 15;
  const ConvGeometry g = geometry_of(l);
  EXPECT_TRUE(g == expected);
  EXPECT_EQ(g.K(), 3 * 3 * 16);
  EXPECT_EQ(g.N(), 16 * 15);
  EXPECT_EQ(g.M(), 32);
  EXPECT_FALSE(g.empty());
  EXPECT_TRUE(ConvGeometry{}.empty());
}

TEST(ConvGeometry, EveryCanonicalLayersGemmHasItsMacs) {
  for (const char* model : {"resnet20", "vgg16"}) {
    for (const models::Layer& l : models::build_canonical(model).layers) {
      const ConvGeometry g = geometry_of(l);
      EXPECT_EQ(g.K() * g.N() * g.M(), l.macs()) << model << " " << l.name;
    }
  }
}

TEST(ConvGeometry, APlainGemmIsAOneByOneConvOnARow) {
  ConvGeometry expected;  // k = 1, stride 1, no padding
  expected.c_in = 40, expected.c_out = 3;
  expected.h_in = expected.h_out = 1, expected.w_in = expected.w_out = 7;
  const ConvGeometry g = gemm_geometry(40, 7, 3);
  EXPECT_TRUE(g == expected);
  EXPECT_EQ(g.K(), 40);
  EXPECT_EQ(g.N(), 7);
  EXPECT_EQ(g.M(), 3);
}

TEST(ConvGeometry, GemmShapesMustBePositiveAndBelowTwoToThe30) {
  EXPECT_THROW(gemm_geometry(0, 7, 3), std::invalid_argument);
  EXPECT_THROW(gemm_geometry(40, -1, 3), std::invalid_argument);
  EXPECT_THROW(gemm_geometry(40, 7, std::int64_t{1} << 31), std::invalid_argument);
  EXPECT_NO_THROW(gemm_geometry(std::int64_t{1} << 30, 1, 1));
}

TEST(ConvGeometry, EqualityComparesEveryField) {
  const ConvGeometry a = gemm_geometry(40, 7, 3);
  ConvGeometry b = a;
  EXPECT_TRUE(a == b);
  b.pad = 1;
  EXPECT_FALSE(a == b);
  b = a;
  b.w_out = 8;
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace nce::sim
