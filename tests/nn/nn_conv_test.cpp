// Convolution: forward against a plain-loop reference, backward against finite differences,
// prefix (supernet) slices of a larger weight allocation.
#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <tuple>
#include <vector>

#include "nce/nn/conv.h"
#include "nn_test_util.h"

namespace nce::nn {
namespace {

using testing::dot;
using testing::expect_gradient;
using testing::fill_uniform;

// Conv is linear in x and in w: central differences are exact up to float rounding.
constexpr testing::FdTolerance kConvTol{1e-2f, 2e-3, 5e-3};
constexpr float kForwardTol = 1e-4f;

struct Case {
  const char* name;  // the ctest name's last part
  int c_in, c_out, k, stride, pad, h, w;
};

// What gtest prints for a case (in the test list, so in ctest's names): its name.
void PrintTo(const Case& cs, std::ostream* os) {
  *os << cs.name;
}

void check_case(const Case& cs) {
  std::mt19937 rng(7);
  ConvParams p{cs.c_in, cs.c_out, cs.k, cs.stride, cs.pad, 0};
  Tensor x(2, cs.c_in, cs.h, cs.w), w(cs.c_out, cs.c_in, cs.k, cs.k);
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  ConvWorkspace ws;
  Tensor y, y_ref;
  conv2d_forward(p, x, w.data(), y, ws);
  conv2d_forward_reference(p, x, w.data(), y_ref);
  ASSERT_TRUE(y.same_shape(y_ref));
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], kForwardTol) << i;

  Tensor r;
  r.resize_like(y);
  fill_uniform(r, rng);
  Tensor dw(cs.c_out, cs.c_in, cs.k, cs.k), dx;
  dw.set_zero();
  conv2d_backward(p, x, w.data(), r, dw.data(), &dx, false, ws);
  auto loss = [&] {
    Tensor out;
    conv2d_forward_reference(p, x, w.data(), out);
    return dot(r, out);
  };
  expect_gradient("conv dx", x, dx, loss, kConvTol);
  expect_gradient("conv dw", w, dw, loss, kConvTol);

  // accumulate_dx adds to what is there; dweight accumulates.
  Tensor dx2 = dx, dw2 = dw;
  conv2d_backward(p, x, w.data(), r, dw2.data(), &dx2, true, ws);
  for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx2[i], 2 * dx[i], 1e-4f);
  for (std::size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw2[i], 2 * dw[i], 1e-3f);
}

// Forward against the plain loop, dx and dw against central differences, accumulation.
class NnConvShape : public ::testing::TestWithParam<Case> {};

TEST_P(NnConvShape, MatchesReferenceAndGradients) {
  check_case(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    NnConv, NnConvShape,
    ::testing::Values(
        Case{"Conv3x3Pad1", 3, 4, 3, 1, 1, 6, 5}, Case{"Conv3x3Stride2Pad1", 4, 5, 3, 2, 1, 7, 8},
        Case{"Pointwise1x1", 6, 3, 1, 1, 0, 4, 4}, Case{"Pointwise1x1Stride2", 3, 4, 1, 2, 0, 6, 6},
        Case{"Conv7x7Stride2Pad3", 2, 3, 7, 2, 3, 9, 9}, Case{"Conv5x5NoPad", 2, 2, 5, 1, 0, 7, 6},
        // Shapes that reach the 8 x 48 and 8 x 16 register tiles and their row/column tails.
        Case{"WideMapsAndManyFilters", 5, 19, 3, 1, 1, 12, 12},
        Case{"MaskedColumnTail", 4, 17, 3, 1, 1, 9, 9},
        // The AVX2 kernels' tails: 4-row GEMM tiles with a 2-row rest (6 filters), 6-row
        // weight-gradient tiles with a 3-row rest (K = 63), a 7-pixel rest of the 24-pixel panels
        // (55 pixels), a 16-column weight-gradient tile with masked columns (6 < 16), an 8x8 dY
        // transpose with a row and column rest.
        Case{"Avx2TileTails", 7, 6, 3, 1, 1, 5, 11},
        // One channel in, one filter out: every tile is a tail.
        Case{"SingleChannelSingleFilter", 1, 1, 3, 1, 1, 4, 4},
        // Stride 2 with filters and channels that are not multiples of the tiles, even and odd
        // maps.
        Case{"Stride2OddChannelsAndMaps", 5, 9, 3, 2, 1, 9, 7},
        Case{"Stride2OddChannelsAndMaps1x1", 5, 9, 1, 2, 0, 10, 9},
        Case{"Stride2OddChannelsAndMapsNoPad", 3, 18, 3, 2, 0, 8, 9}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

TEST(NnConv, PrefixOfLargerWeightAllocation) {
  // Allocation 6 filters x 5 input channels; active 4 x 3: same result as a compact 4x3 weight,
  // and the backward only touches the active block.
  std::mt19937 rng(3);
  const int k = 3, out_alloc = 6, in_alloc = 5, c_out = 4, c_in = 3;
  Tensor big(out_alloc, in_alloc, k, k), compact(c_out, c_in, k, k), x(2, c_in, 5, 5);
  fill_uniform(big, rng);
  fill_uniform(x, rng);
  for (int o = 0; o < c_out; ++o)
    for (int c = 0; c < c_in; ++c)
      for (int t = 0; t < k * k; ++t)
        compact[(o * c_in + c) * k * k + t] = big[(o * in_alloc + c) * k * k + t];
  ConvParams slice{c_in, c_out, k, 1, 1, in_alloc * k * k};
  ConvParams full{c_in, c_out, k, 1, 1, 0};
  ConvWorkspace ws;
  Tensor y1, y2;
  conv2d_forward(slice, x, big.data(), y1, ws);
  conv2d_forward(full, x, compact.data(), y2, ws);
  ASSERT_TRUE(y1.same_shape(y2));
  for (std::size_t i = 0; i < y1.size(); ++i) ASSERT_FLOAT_EQ(y1[i], y2[i]);

  Tensor r;
  r.resize_like(y1);
  fill_uniform(r, rng);
  Tensor dbig(out_alloc, in_alloc, k, k), dcompact(c_out, c_in, k, k), dx1, dx2;
  dbig.set_zero();
  dcompact.set_zero();
  conv2d_backward(slice, x, big.data(), r, dbig.data(), &dx1, false, ws);
  conv2d_backward(full, x, compact.data(), r, dcompact.data(), &dx2, false, ws);
  for (std::size_t i = 0; i < dx1.size(); ++i) ASSERT_FLOAT_EQ(dx1[i], dx2[i]);
  for (int o = 0; o < out_alloc; ++o)
    for (int c = 0; c < in_alloc; ++c)
      for (int t = 0; t < k * k; ++t) {
        const float g = dbig[(o * in_alloc + c) * k * k + t];
        if (o < c_out && c < c_in) {
          EXPECT_FLOAT_EQ(g, dcompact[(o * c_in + c) * k * k + t]);
        } else {
          EXPECT_EQ(g, 0.0f) << "outside the active block: " << o << "," << c;
        }
      }
}

TEST(NnConv, ResultDoesNotDependOnBatchSplit) {
  // Image i of a batch gives the same output as image i alone.
  std::mt19937 rng(11);
  ConvParams p{3, 8, 3, 1, 1, 0};
  Tensor x(5, 3, 6, 6), w(8, 3, 3, 3);
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  ConvWorkspace ws;
  Tensor y, y1, x1(1, 3, 6, 6);
  conv2d_forward(p, x, w.data(), y, ws);
  std::copy(x.data() + 3 * x1.size(), x.data() + 4 * x1.size(), x1.data());
  conv2d_forward(p, x1, w.data(), y1, ws);
  for (std::size_t i = 0; i < y1.size(); ++i) ASSERT_EQ(y1[i], y[3 * y1.size() + i]);
}

TEST(NnConv, BackwardWithoutWeightGradientGivesTheSameDx) {
  // The architecture step of the search asks for dx only (dweight = null).
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  for (auto [k, stride, pad] : {std::tuple{3, 1, 1}, std::tuple{3, 2, 1}, std::tuple{1, 1, 0}}) {
    ConvParams p;
    p.c_in = 5;
    p.c_out = 7;
    p.k = k;
    p.stride = stride;
    p.pad = pad;
    Tensor x(3, 5, 9, 9), dy(3, 7, p.out_size(9), p.out_size(9));
    std::vector<float> w(7 * 5 * k * k), dw(w.size(), 0.0f);
    for (auto& v : w) v = normal(rng);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = normal(rng);
    for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = normal(rng);
    ConvWorkspace ws;
    Tensor dx_full, dx_only;
    conv2d_backward(p, x, w.data(), dy, dw.data(), &dx_full, false, ws);
    conv2d_backward(p, x, w.data(), dy, nullptr, &dx_only, false, ws);
    ASSERT_TRUE(dx_full.same_shape(dx_only));
    for (std::size_t i = 0; i < dx_full.size(); ++i)
      EXPECT_EQ(dx_full[i], dx_only[i]) << k << " " << i;
  }
}

}  // namespace
}  // namespace nce::nn
