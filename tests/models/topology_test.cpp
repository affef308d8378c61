#include "nce/models/topology.h"
#include "support/errors.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

namespace nce::models {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

TEST(Topology, WriteThenReadGivesTheSameNetwork) {
  for (const char* model : {"resnet20", "vgg16", "resnet50"}) {
    Network net = build_canonical(model);
    std::stringstream csv;
    write_topology_csv(net, csv);
    Network back = read_topology_csv(csv, std::string(model) + ".csv");
    ASSERT_EQ(back.layers.size(), net.layers.size()) << model;
    EXPECT_EQ(back.model, model);
    EXPECT_EQ(back.family, Family::kTopology);
    for (size_t i = 0; i < net.layers.size(); ++i) {
      const Layer& a = net.layers[i];
      const Layer& b = back.layers[i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.c_in, b.c_in) << a.name;
      EXPECT_EQ(a.c_out, b.c_out) << a.name;
      EXPECT_EQ(a.k, b.k) << a.name;
      EXPECT_EQ(a.stride, b.stride) << a.name;
      EXPECT_EQ(a.h_out, b.h_out) << a.name;
      EXPECT_EQ(a.w_out, b.w_out) << a.name;
      EXPECT_EQ(a.macs(), b.macs()) << a.name;
      EXPECT_EQ(a.gemm().K, b.gemm().K) << a.name;
      EXPECT_EQ(a.gemm().N, b.gemm().N) << a.name;
      EXPECT_EQ(a.gemm().M, b.gemm().M) << a.name;
    }
    EXPECT_EQ(back.macs(), net.macs()) << model;
    // And the round trip is a fixed point of the writer.
    std::stringstream again;
    write_topology_csv(back, again);
    EXPECT_EQ(again.str(), csv.str()) << model;
  }
}

TEST(Topology, ReadsScaleSimStyleRowsWithAndWithoutTrailingComma) {
  std::stringstream csv(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\r\n"
      "Conv1, 34, 34, 3, 3, 3, 16, 1,\r\n"
      "\n"
      "Conv2,18,18,3,3,16,32,2\n");
  Network net = read_topology_csv(csv, "dir/mini.csv");
  EXPECT_EQ(net.model, "mini");
  ASSERT_EQ(net.layers.size(), 2u);
  EXPECT_EQ(net.layers[0].h_out, 32);
  EXPECT_EQ(net.layers[0].macs(), 442368);
  EXPECT_EQ(net.layers[1].h_out, 8);
  EXPECT_EQ(net.layers[1].c_in, 16);
}

// A SCALE-Sim topology file's header line (the conv format, eight columns).
const char* const kHeader =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,\n";

void expect_csv_error(const std::string& text, const std::string& needle) {
  std::stringstream csv(text);
  expect_mentions(what_must_throw<std::invalid_argument>(
                      "for:\n" + text, [&] { read_topology_csv(csv, "bad.csv"); }),
                  {"bad.csv", needle});
}

TEST(Topology, MalformedFilesNameTheLineAndColumn) {
  const std::string header = kHeader;
  expect_csv_error("", "empty");
  expect_csv_error("Conv1, 34, 34, 3, 3, 3, 16, 1,\n", "header");
  expect_csv_error(header, "no layer rows");
  expect_csv_error(header + "Conv1, 34, 34, 3, 3, 3, 16,\n", "line 2: expected 8 columns");
  expect_csv_error(header + "Conv1, 34, abc, 3, 3, 3, 16, 1,\n", "'IFMAP Width' is 'abc'");
  expect_csv_error(header + "Conv1, 34, 34, 3, 3, 0, 16, 1,\n", "'Channels' is 0");
  expect_csv_error(header + "Conv1, 34, 34, 3, 3, 3, -16, 1,\n", "'Num Filter' is -16");
  expect_csv_error(header + "Conv1, 34, 34, 3, 5, 3, 16, 1,\n", "not square");
  expect_csv_error(header + "Conv1, 2, 2, 3, 3, 3, 16, 1,\n", "larger than the IFMAP");
  EXPECT_THROW(read_topology_csv("/nonexistent/x.csv"), std::invalid_argument);
}

TEST(Topology, ExportCarriesPrecisionAndPaddingInColumnsScaleSimIgnores) {
  Network net = build_canonical("resnet20");
  std::stringstream csv;
  write_topology_csv(net, csv);
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find("Stride width, Quantized, Pad,"), std::string::npos) << header;
  std::string stem;
  std::getline(csv, stem);
  EXPECT_EQ(stem, "stem, 34, 34, 3, 3, 3, 16, 1, 1, 0, 1,");  // full precision, padded 1
  csv.seekg(0);
  Network back = read_topology_csv(csv, "r20.csv");
  int full_precision = 0;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    EXPECT_EQ(back.layers[i].quantized, net.layers[i].quantized) << net.layers[i].name;
    EXPECT_EQ(back.layers[i].pad, net.layers[i].pad) << net.layers[i].name;
    EXPECT_EQ(back.layers[i].h_in, net.layers[i].h_in) << net.layers[i].name;
    full_precision += !net.layers[i].quantized;
  }
  EXPECT_GE(full_precision, 4);  // stem, two 1x1 shortcuts, fc
  // Without the extra columns (a plain SCALE-Sim file) every layer is quantized, unpadded.
  std::stringstream plain(kHeader + std::string("conv1, 34, 34, 3, 3, 3, 16, 1,\n"));
  Network p = read_topology_csv(plain, "plain.csv");
  EXPECT_TRUE(p.layers[0].quantized);
  EXPECT_EQ(p.layers[0].pad, 0);
  EXPECT_EQ(p.layers[0].h_in, 34);
}

TEST(Topology, RowsAsScaleSimReadsThem) {
  std::stringstream dp("h\nconv_DP1, 10, 10, 3, 3, 4, 1, 1,\npw, 8, 8, 1, 1, 4, 8, 1, 1,\n");
  const auto rows = read_topology_rows(dp, "dp.csv");
  ASSERT_EQ(rows.size(), 5u);  // 4 channels of the depthwise layer, then pw
  EXPECT_EQ(rows[2].name, "conv_DP1Channel_2");
  EXPECT_EQ(rows[2].channels, 1);
  EXPECT_EQ(rows[2].line, 2);
  EXPECT_EQ(rows[4].name, "pw");
  std::stringstream gemm("Layer, M, N, K,\nfc, 64, 100, 128,\n");
  EXPECT_EQ(detect_topology_format(gemm), TopologyFormat::kGemm);
  gemm.clear();
  gemm.seekg(0);
  const auto g = read_topology_rows(gemm, "g.csv", TopologyFormat::kGemm);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].ifmap_h, 64);
  EXPECT_EQ(g[0].ifmap_w, 128);
  EXPECT_EQ(g[0].filter_w, 128);
  EXPECT_EQ(g[0].num_filters, 100);
  std::stringstream conv("Layer name, IFMAP Height\nx, 3, 3, 1, 1, 1, 1, 1,\n");
  EXPECT_EQ(detect_topology_format(conv), TopologyFormat::kConv);
  // nce's networks have one stride and 0/1 precision flags.
  const std::string header = kHeader;
  expect_csv_error(header + "c, 16, 16, 3, 3, 4, 8, 1, 2,\n", "stride 1x2 is not square");
  expect_csv_error(header + "c, 16, 16, 3, 3, 4, 8, 1, 1, 2,\n", "'Quantized' is 2");
  expect_csv_error(header + "c, 16, 16, 3, 3, 4, 8, 1, 1, 1, 8,\n", "'Pad' is 8");
  expect_csv_error(header + "c, 16, 16, 3, 3, 4, 8, 1, 1, x,\n", "'column 10' is 'x'");
}

TEST(Topology, LayersWhoseCountsWouldOverflowAreRefused) {
  // Layer::macs() overflowed int64 for such rows (fuzz/topology_csv_fuzz.cpp checks the counts).
  const std::string header = kHeader;
  expect_csv_error(header + "Big, 34, 34, 3, 3, 2000000000, 16, 1,\n", "at most 16384");
  expect_csv_error(header + "Big, 34, 34, 3, 3, 3, 2147483647, 1,\n", "at most 16384");
  expect_csv_error(header + "Wide, 3, 2000000000, 3, 3, 3, 16, 1,\n", "pixels a side");
  expect_csv_error(header + "Many, 16384, 16384, 5, 5, 16384, 16384, 1,\n", "MACs");
  EXPECT_NO_THROW({
    std::istringstream ok(header + "Conv, 224, 224, 7, 7, 3, 64, 2,\n");
    read_topology_csv(ok, "ok.csv");
  });
}

}  // namespace
}  // namespace nce::models
