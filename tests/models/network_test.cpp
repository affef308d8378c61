#include "nce/models/network.h"
#include "support/errors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

namespace nce::models {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

// Published totals are rounded: MACs to 0.01M (0.001G for ImageNet), PARAMs to 0.01M.
void expect_rounds_to(std::int64_t value, double published, double unit, int decimals) {
  const double scale = std::pow(10.0, decimals);
  EXPECT_DOUBLE_EQ(std::round(static_cast<double>(value) / unit * scale) / scale, published)
      << "value " << value;
}

// build_canonical(model), its MACs rounding to the published `macs` (in units of macs_unit, to
// macs_decimals) and its parameters to `params_m` million (params_decimals).
Network expect_published(const std::string& model, double macs, double macs_unit,
                         int macs_decimals, double params_m, int params_decimals) {
  Network net = build_canonical(model);
  expect_rounds_to(net.macs(), macs, macs_unit, macs_decimals);
  expect_rounds_to(net.params(), params_m, 1e6, params_decimals);
  return net;
}

TEST(Network, ResNet20MatchesPublishedAndExactCounts) {
  Network net = build_canonical("resnet20");
  std::int64_t conv_macs = 0;
  for (const auto& l : net.layers) {
    if (l.kind == LayerKind::kConv) conv_macs += l.macs();
  }
  EXPECT_EQ(conv_macs, 40812544);
  EXPECT_EQ(net.macs(), 40813184);
  EXPECT_EQ(net.macs_with_bias(), 40813194);
  EXPECT_EQ(net.params(), 272282);
  expect_rounds_to(net.macs(), 40.81, 1e6, 2);
  expect_rounds_to(net.params(), 0.27, 1e6, 2);
}

TEST(Network, ResNet20PerLayerValues) {
  Network net = build_canonical("resnet20");
  EXPECT_EQ(net.layer("stem").macs(), 442368);
  // Every 3x3 C->C conv at its stage's full resolution costs the same.
  for (const char* name :
       {"s1b1.conv_a", "s1b3.conv_b", "s2b1.conv_b", "s2b2.conv_a", "s3b1.conv_b", "s3b3.conv_b"}) {
    EXPECT_EQ(net.layer(name).macs(), 2359296) << name;
  }
  EXPECT_EQ(net.layer("s2b1.shortcut").macs(), 131072);
  EXPECT_EQ(net.layer("s3b1.shortcut").macs(), 131072);
  EXPECT_EQ(net.layer("fc").macs(), 640);
  EXPECT_EQ(net.layer("fc").params(), 650);
  // 19 searchable convs + 2 shortcuts + FC.
  EXPECT_EQ(net.num_searchable(), 19);
  EXPECT_EQ(net.layers.size(), 22u);
  EXPECT_EQ(net.blocks.size(), 9u);
}

TEST(Network, QuantizedLayersExcludeStemFcAndShortcuts) {
  Network net = build_canonical("resnet20");
  for (const auto& l : net.layers) {
    const bool full_precision =
        l.name == "stem" || l.name == "fc" || l.name.find("shortcut") != std::string::npos;
    EXPECT_EQ(l.quantized, !full_precision) << l.name;
  }
}

TEST(Network, GemmShapeLowersConvAndFc) {
  Network net = build_canonical("resnet20");
  GemmShape stem = net.layer("stem").gemm();
  EXPECT_EQ(stem.K, 27);
  EXPECT_EQ(stem.N, 1024);
  EXPECT_EQ(stem.M, 16);
  GemmShape down = net.layer("s2b1.conv_a").gemm();
  EXPECT_EQ(down.K, 144);
  EXPECT_EQ(down.N, 256);
  EXPECT_EQ(down.M, 32);
  GemmShape fc = net.layer("fc").gemm();
  EXPECT_EQ(fc.K, 64);
  EXPECT_EQ(fc.N, 1);
  EXPECT_EQ(fc.M, 10);
  for (const auto& l : net.layers) {
    GemmShape g = l.gemm();
    EXPECT_EQ(g.K * g.N * g.M, l.macs()) << l.name;
  }
}

TEST(Network, CifarResNetsMatchPublished) {
  expect_published("resnet32", 69.12, 1e6, 2, 0.47, 2);
  expect_published("resnet56", 125.75, 1e6, 2, 0.86, 2);
  Network r8 = build_canonical("resnet8");
  EXPECT_EQ(r8.num_searchable(), 7);
  Network r110 = build_canonical("resnet110");
  EXPECT_EQ(r110.num_searchable(), 109);
}

TEST(Network, Vgg16MatchesPublished) {
  Network net = expect_published("vgg16", 313.2, 1e6, 1, 14.72, 2);
  EXPECT_EQ(net.num_searchable(), 13);
  EXPECT_FALSE(net.layer("conv1").quantized);
  EXPECT_TRUE(net.layer("conv13").quantized);
}

TEST(Network, ImageNetResNetsMatchPublished) {
  expect_published("resnet18", 1.814, 1e9, 3, 11.69, 2);
  Network r50 = expect_published("resnet50", 4.089, 1e9, 3, 25.56, 2);
  EXPECT_EQ(r50.layer("s1b1.conv_c").c_out, 256);
  EXPECT_EQ(r50.layer("s4b3.conv_c").h_out, 7);
}

TEST(Network, TasShippedResNet20WidthVector) {
  const std::vector<int> widths = {3,  16, 6,  4,  4,  4,  4,  4,  32, 32,
                                   12, 19, 32, 28, 64, 64, 64, 64, 64, 44};
  Network net = build_canonical("resnet20", widths);
  EXPECT_EQ(net.macs(), 22444472);
  // Stride-1 blocks whose widths differ get a 1x1 conv shortcut.
  EXPECT_EQ(net.layer("s1b1.shortcut").c_in, 16);
  EXPECT_EQ(net.layer("s1b1.shortcut").c_out, 4);
  EXPECT_EQ(net.layer("fc").c_in, 44);
  // The full-width vector, counted the same way.
  EXPECT_EQ(build_canonical("resnet20", default_widths("resnet20")).macs(), 40813184);
}

TEST(Network, WidthIndicesChainLayerToLayer) {
  Network net = build_canonical("resnet20");
  for (const auto& l : net.layers) {
    EXPECT_EQ(l.c_in, net.widths[l.in_width_index]) << l.name;
    if (l.out_width_index >= 0) {
      EXPECT_EQ(l.c_out, net.widths[l.out_width_index]) << l.name;
    }
  }
  EXPECT_EQ(net.layer("s1b2.conv_a").in_width_index, net.layer("s1b1.conv_b").out_width_index);
  EXPECT_EQ(net.layer("s2b1.shortcut").out_width_index, net.layer("s2b1.conv_b").out_width_index);
}

TEST(Network, FashionMnistInputFitsStemAndFc) {
  Network net = build("resnet20", {}, fashion_mnist_input());
  EXPECT_EQ(net.widths[0], 1);
  EXPECT_EQ(net.layer("stem").c_in, 1);
  EXPECT_EQ(net.layer("s3b3.conv_b").h_out, 7);
  EXPECT_EQ(net.layer("s2b1.shortcut").h_in, 14);
  EXPECT_THROW(build("vgg16", {}, fashion_mnist_input()), std::invalid_argument);
}

TEST(Network, WrpnScalingKeepsTheInput) {
  std::vector<int> w = scale_widths(default_widths("resnet20"), 2.0);
  EXPECT_EQ(w[0], 3);
  EXPECT_EQ(w[1], 32);
  EXPECT_EQ(w.back(), 128);
  // 2x width is about 4x MACs (the stem's 3 input channels and the FC's 10 outputs stay).
  double ratio = static_cast<double>(build_canonical("resnet20", w).macs()) /
                 static_cast<double>(build_canonical("resnet20").macs());
  EXPECT_GT(ratio, 3.95);
  EXPECT_LT(ratio, 4.0);
  EXPECT_THROW(scale_widths(w, 0.0), std::invalid_argument);
}

void expect_error_mentions(const std::function<void()>& fn, const std::string& needle) {
  expect_mentions(
      what_must_throw<std::invalid_argument>("expected one mentioning '" + needle + "'", fn),
      {needle});
}

TEST(Network, BadInputSaysWhatAndWhere) {
  expect_error_mentions([] { build_canonical("resnet21"); }, "unknown model 'resnet21'");
  expect_error_mentions([] { build_canonical("resnet20", {3, 16, 16}); }, "takes 20 widths");
  std::vector<int> w = default_widths("resnet20");
  w[5] = 0;
  expect_error_mentions([&] { build_canonical("resnet20", w); }, "width 5 is 0");
  w[5] = -4;
  expect_error_mentions([&] { build_canonical("resnet20", w); }, "width 5 is -4");
  w = default_widths("resnet20");
  w[0] = 1;
  expect_error_mentions([&] { build_canonical("resnet20", w); }, "width 0");
}

TEST(Network, InputTooSmallForTheModelIsRefusedAtBuildTime) {
  // Fashion-MNIST-format files with 2x2, 1x1 or 1x28 images: a 1-pixel map reaches the 2x2
  // average-pool shortcut of a stride-2 block (a heap overflow in the trainer on main).
  for (const InputShape& in : {InputShape{1, 2, 2, 10}, InputShape{1, 1, 1, 10},
                               InputShape{1, 1, 28, 10}, InputShape{1, 28, 1, 10}}) {
    expect_error_mentions([&] { build("resnet8", {}, in); }, "too small");
    expect_error_mentions([&] { build("resnet20", {}, in); }, "too small");
  }
  EXPECT_NO_THROW(build("resnet8", {}, InputShape{1, 4, 4, 10}));
  EXPECT_NO_THROW(build("resnet8", {}, fashion_mnist_input()));
}

TEST(Network, WidthScalingIsCheckedAndBounded) {
  const std::vector<int> base = default_widths("resnet8");
  // On main: 1e9 wrapped to [3,1,1,1,1935228928,...]; inf and huge values became all-1 networks.
  for (double m : {1e9, 1e300, HUGE_VAL, -HUGE_VAL, std::nan(""), 0.0, -1.0, 65.0}) {
    EXPECT_THROW(scale_widths(base, m), std::invalid_argument) << m;
  }
  expect_error_mentions([&] { scale_widths(base, 1e9); }, "1e+09");
  expect_error_mentions([&] { scale_width(16384, 2.0); }, "more than the 16384");
  EXPECT_EQ(scale_width(16, 0.01), 1);
  EXPECT_EQ(scale_widths(base, 64.0)[1], 16 * 64);
  // Widths beyond kMaxWidth are refused by build() (the SystemC engine allocated > 5 GB on main).
  std::vector<int> w = default_widths("resnet20");
  w[2] = 100000;
  expect_error_mentions([&] { build_canonical("resnet20", w); }, "width 2 is 100000");
}

TEST(Network, ParseMultipliersRejectsTrailingJunk) {
  EXPECT_EQ(parse_multipliers("1,1.5,2"), (std::vector<double>{1.0, 1.5, 2.0}));
  EXPECT_EQ(parse_multipliers(" 1 , 2 "), (std::vector<double>{1.0, 2.0}));
  expect_error_mentions([] { parse_multipliers("1,2abc"); }, "'2abc' is not a number");
  expect_error_mentions([] { parse_multipliers("inf"); }, "finite");
  expect_error_mentions([] { parse_multipliers("nan"); }, "finite");
  expect_error_mentions([] { parse_multipliers("1,,2"); }, "not a number");
  expect_error_mentions([] { parse_multipliers("1,"); }, "empty");
  expect_error_mentions([] { parse_multipliers(""); }, "empty");
  expect_error_mentions([] { parse_multipliers("1e9"); }, "(0, 64]");
}

TEST(Network, ParseWidths) {
  EXPECT_EQ(parse_widths("3,16,8"), (std::vector<int>{3, 16, 8}));
  EXPECT_EQ(parse_widths("[3, 16, 8]"), (std::vector<int>{3, 16, 8}));
  expect_error_mentions([] { parse_widths("3,x,8"); }, "item 1 ('x')");
  expect_error_mentions([] { parse_widths("3,,8"); }, "item 1");
  expect_error_mentions([] { parse_widths(""); }, "empty");
  EXPECT_EQ(format_widths({3, 16}), "[3,16]");
}

}  // namespace
}  // namespace nce::models

namespace nce::models {
namespace {

TEST(Network, WidthShortcutIsTheLayerBuildAddsToAStride1BlockOfTwoWidths) {
  // TAS's searched ResNet-20: s1b1 reads 16 and writes 4 channels, so build() adds a shortcut.
  const Network net =
      build("resnet20", {3, 16, 6, 4, 4, 4, 4, 4, 32, 32, 12, 19, 32, 28, 64, 64, 64, 64, 64, 44});
  const Block& b = net.blocks[0];
  ASSERT_GE(b.shortcut, 0);
  const Layer& built = net.layers[static_cast<std::size_t>(b.shortcut)];
  const Layer sc = width_shortcut(net.layers[static_cast<std::size_t>(b.conv_a)],
                                  net.layers[static_cast<std::size_t>(b.last())]);
  EXPECT_EQ(sc.name, built.name);
  EXPECT_EQ(sc.name, "s1b1.shortcut");
  EXPECT_EQ(sc.c_in, 16);
  EXPECT_EQ(sc.c_out, 4);
  EXPECT_EQ(sc.macs(), built.macs());
  EXPECT_EQ(sc.params(), built.params());
  EXPECT_EQ(sc.in_width_index, built.in_width_index);
  EXPECT_EQ(sc.out_width_index, built.out_width_index);
  EXPECT_EQ(sc.quantized, built.quantized);
  EXPECT_FALSE(sc.quantized);
  EXPECT_TRUE(sc.batch_norm);
  EXPECT_EQ(sc.h_in, built.h_in);
  EXPECT_EQ(sc.h_out, built.h_out);
}

}  // namespace
}  // namespace nce::models
