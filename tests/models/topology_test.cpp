#include "nce/models/topology.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

namespace nce::models {
namespace {

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

void expect_csv_error(const std::string& text, const std::string& needle) {
  std::stringstream csv(text);
  try {
    read_topology_csv(csv, "bad.csv");
    FAIL() << "no exception for:\n" << text;
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad.csv"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(Topology, MalformedFilesNameTheLineAndColumn) {
  const std::string header =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\n";
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

TEST(Topology, LayersWhoseCountsWouldOverflowAreRefused) {
  // Layer::macs() overflowed int64 for such rows (fuzz/topology_csv_fuzz.cpp checks the counts).
  const std::string header =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\n";
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
