// SCALE-Sim v2 compatibility. Expected values are derived by hand from SCALE-Sim v2's rules
// (scalesim_compat.h): per fold OS has T + R + C - 2 demand lines, WS/IS 2R + C + T - 2; the
// reported cycles are lines - 1 when the ofmap SRAM never has to drain, plus drain stalls.
#include "nce/sim/scalesim_compat.h"

#include <gtest/gtest.h>

#include "nce/models/network.h"
#include "nce/models/topology.h"
#include "nce/sim/report.h"
#include "support/errors.h"

#include <sstream>
#include <utility>
#include <vector>

namespace nce::sim {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

const std::string kData = std::string(NCE_TEST_DATA_DIR) + "/sim/";

std::string cfg_text(int rows, int cols, const char* df, int ofmap_kb) {
  return "[general]\nrun_name = t\n[architecture_presets]\nArrayHeight: " + std::to_string(rows) +
         "\nArrayWidth: " + std::to_string(cols) +
         "\nIfmapSramSzkB: 64\nFilterSramSzkB: 64\nOfmapSramSzkB: " + std::to_string(ofmap_kb) +
         "\nDataflow : " + df + "\n[run_presets]\nInterfaceBandwidth: CALC\n";
}

ScaleSimLayer layer(const char* row) {
  std::istringstream in(std::string("header\n") + row + "\n");
  return read_scalesim_topology(in, "inline").at(0);
}

TEST(ScaleSim, ReadsItsConfig) {
  const auto c = load_scalesim_config(kData + "scalesim_32x32_os.cfg");
  EXPECT_EQ(c.run_name, "resnet20_32x32_os");
  EXPECT_EQ(c.array_rows, 32);
  EXPECT_EQ(c.array_cols, 32);
  EXPECT_EQ(c.ofmap_sram_kb, 64);
  EXPECT_EQ(c.dataflow, Dataflow::kOS);
  EXPECT_THROW(parse_scalesim_config(cfg_text(4, 4, "rs", 64), "x.cfg"), std::invalid_argument);
  std::string user = cfg_text(4, 4, "ws", 64);
  user.replace(user.find("CALC"), 4, "USER");
  try {
    parse_scalesim_config(user, "user.cfg");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("InterfaceBandwidth"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("USER"), std::string::npos);
  }
}

TEST(ScaleSim, ReadsItsTopologyWithItsOfmapRule) {
  const auto layers = load_scalesim_topology(kData + "resnet20_scalesim.csv");
  ASSERT_EQ(layers.size(), 22u);
  EXPECT_EQ(layers[0].name, "conv1");
  EXPECT_EQ(layers[0].ofmap_h(), 32);
  EXPECT_EQ(layers[0].window(), 27);
  // SCALE-Sim's ofmap size is ceil((H - F + s) / s): 34x34, 3x3, stride 2 -> 17 (not 16).
  EXPECT_EQ(layers[7].ofmap_h(), 17);
  // Depthwise rows ("DP" in the name) expand per channel with Channels = 1.
  std::istringstream dp("h\nconv_DP, 5, 5, 3, 3, 4, 1, 1,\nlast, 3, 3, 3, 3, 2, 2, 1, 1\n");
  const auto expanded = read_scalesim_topology(dp, "dp");
  ASSERT_EQ(expanded.size(), 5u);
  EXPECT_EQ(expanded[3].name, "conv_DPChannel_3");
  EXPECT_EQ(expanded[3].channels, 1);
  EXPECT_EQ(expanded[4].stride_w, 1);
  std::istringstream bad("h\nx, 5, five, 3, 3, 4, 1, 1,\n");
  try {
    read_scalesim_topology(bad, "bad.csv");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("five"), std::string::npos) << e.what();
  }
}

TEST(ScaleSim, ResNet20On32x32OutputStationaryByHand) {
  const auto cfg = load_scalesim_config(kData + "scalesim_32x32_os.cfg");
  const auto layers = load_scalesim_topology(kData + "resnet20_scalesim.csv");
  // OS: Sr = Ho*Wo, Sc = filters, T = 9*C (3x3) / C (1x1); lines = folds * (T + 62); cycles - 1.
  // conv1: N = 1024 -> 32 folds, K = 27: 32 * 89 - 1.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[0]).compute_cycles, 32 * 89 - 1);
  // stage 1: K = 144: 32 * 206 - 1 = 6591.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[1]).compute_cycles, 6591);
  // s2b1_a: 17x17 = 289 pixels -> 10 folds of 206: 2059.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[7]).compute_cycles, 2059);
  // s2b1_b: 256 pixels -> 8 folds, K = 288: 8 * 350 - 1 = 2799.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[8]).compute_cycles, 2799);
  // s2b1_sc: 289 pixels, K = 16: 10 * 78 - 1 = 779.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[9]).compute_cycles, 779);
  // s3b1_a: 81 pixels (3 row folds) x 64 filters (2 column folds), K = 288: 6 * 350 - 1.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[14]).compute_cycles, 2099);
  // s3b1_b: 64 pixels x 64 filters -> 4 folds, K = 576: 4 * 638 - 1 = 2551.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[15]).compute_cycles, 2551);
  // s3b1_sc: 81 pixels, 64 filters, K = 32: 6 * 94 - 1 = 563.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[16]).compute_cycles, 563);
  // fc: one fold, K = 64: 126 - 1.
  EXPECT_EQ(scalesim_layer_cycles(cfg, layers[21]).compute_cycles, 125);
  std::int64_t total = 0;
  for (const auto& l : layers) {
    const auto r = scalesim_layer_cycles(cfg, l);
    EXPECT_EQ(r.stall_cycles, 0) << l.name;  // 64 KB ofmap SRAM: no drain ever due
    total += r.compute_cycles;
  }
  // 2847 + 6*6591 + 2059 + 5*2799 + 779 + 2099 + 5*2551 + 563 + 125
  EXPECT_EQ(total, 74768);
}

TEST(ScaleSim, WeightAndInputStationaryByHand) {
  const auto ws = parse_scalesim_config(cfg_text(32, 32, "ws", 256), "ws.cfg");
  const auto is = parse_scalesim_config(cfg_text(32, 32, "is", 256), "is.cfg");
  const auto conv = layer("s1, 34, 34, 3, 3, 16, 16, 1,");
  // WS: Sr = K = 144 -> 5 folds, Sc = 16, T = 1024: 5 * (64 + 32 + 1024 - 2) - 1.
  EXPECT_EQ(scalesim_layer_cycles(ws, conv).compute_cycles, 5 * 1118 - 1);
  // IS: Sr = K = 144 -> 5, Sc = N = 1024 -> 32, T = 16: 160 * (64 + 32 + 16 - 2) - 1.
  EXPECT_EQ(scalesim_layer_cycles(is, conv).compute_cycles, 160 * 110 - 1);
  // Mapping efficiency of the WS run: folds of 32,32,32,32,16 rows x 16 of 32 cols.
  EXPECT_NEAR(scalesim_layer_cycles(ws, conv).mapping_efficiency, 100.0 * (4 * 0.5 + 0.25) / 5,
              1e-9);
}

// 2x2 OS array, 1 KB ofmap SRAM = 1024 words: active half 512, drain half 512, drained 2 words
// (ArrayWidth) per cycle -> a drain moves 256 trace lines. Layer: 1x600 input, 1x1 filter, 1
// channel, 2 filters: N = 600 -> 300 row folds, 1 column fold, T = 1: 3 lines per fold holding
// 1, 2, 1 ofmap words (skewed 2x2 tile), 900 lines in all, 1200 words.
//  * Word 513 (fold 128, line 384) leaves 511 free < 512: flush the half line (257 lines now) and
//    start a drain of 256 lines (512 words) at cycle 384, busy until 639. SCALE-Sim credits the
//    drained words at once (free 1023) and does not hold the array while the drain runs: the
//    array waits only for a word that finds the buffer full during a drain, which never happens
//    here (at most 2 words a cycle arrive while 2 leave).
//  * Word 1025 (line 768) starts the second drain (free 1023 - 512 = 511): lines 256..511, 512
//    words counted although line 256 holds one (a partial line counts full unless it is the
//    drain's last).
//  * After the last line (899) the rest drains: lines 512..600 (89 lines, the last holding one
//    word) at cycles 899..987, 177 words. DRAM writes 512 + 512 + 177 = 1201.
// Reported: last line 899, no stalls. SCALE-Sim v2 itself reports exactly this (its reports in
// tests/data/sim/scalesim/drain_2x2_os_1kb: 899 cycles, 0 stalls, DRAM ofmap 384..987, 1201
// writes); an earlier hand derivation here stalled the array for every drain (510 cycles) and
// was wrong.
TEST(ScaleSim, OfmapDrainStallsByHand) {
  const auto cfg = parse_scalesim_config(cfg_text(2, 2, "os", 1), "drain.cfg");
  const auto layers = load_scalesim_topology(kData + "scalesim_drain.csv");
  const auto r = scalesim_layer_cycles(cfg, layers.at(0));
  EXPECT_EQ(r.demand_lines, 900);
  EXPECT_EQ(r.stall_cycles, 0);
  EXPECT_EQ(r.compute_cycles, 899);
  EXPECT_EQ(r.dram[2].accesses, 1201);
  EXPECT_EQ(r.dram[2].start_cycle, 384);
  EXPECT_EQ(r.dram[2].stop_cycle, 987);
  // A large ofmap SRAM: no drain, lines - 1.
  const auto big = parse_scalesim_config(cfg_text(2, 2, "os", 64), "big.cfg");
  EXPECT_EQ(scalesim_layer_cycles(big, layers.at(0)).compute_cycles, 899);
}

// Bad SCALE-Sim configs: the error names the file, the key and the value; nothing is simulated.
void expect_cfg_error(const std::string& text, const std::vector<std::string>& needles) {
  const std::string what = what_must_throw<std::invalid_argument>(
      "for:\n" + text, [&] { parse_scalesim_config(text, "dir/bad.cfg"); });
  expect_mentions(what, {"dir/bad.cfg"});
  expect_mentions(what, needles);
}

std::string without_line(std::string text, const std::string& key) {
  const auto b = text.find(key);
  return text.erase(b, text.find('\n', b) - b + 1);
}

TEST(ScaleSim, BadConfigsNameTheFileTheKeyAndTheValue) {
  const std::string good = cfg_text(8, 8, "ws", 64);
  EXPECT_NO_THROW(parse_scalesim_config(good, "good.cfg"));
  for (const char* key : {"run_name", "ArrayHeight", "ArrayWidth", "IfmapSramSzkB",
                          "FilterSramSzkB", "OfmapSramSzkB", "Dataflow", "InterfaceBandwidth"}) {
    expect_cfg_error(without_line(good, key), {key, "missing"});
  }
  std::string df = good;
  df.replace(df.find("Dataflow : ws"), 13, "Dataflow : rs");
  expect_cfg_error(df, {"Dataflow", "'rs'", "unknown dataflow"});
  std::string upper = good;
  upper.replace(upper.find("Dataflow : ws"), 13, "Dataflow : WS");  // SCALE-Sim compares exactly
  expect_cfg_error(upper, {"Dataflow", "'WS'"});
  expect_cfg_error(cfg_text(0, 8, "ws", 64), {"ArrayHeight", "'0'"});
  expect_cfg_error(cfg_text(8, 0, "ws", 64), {"ArrayWidth", "'0'"});
  expect_cfg_error(cfg_text(8, 8, "ws", 0), {"OfmapSramSzkB", "'0'"});
  std::string zero_ifmap = good;
  zero_ifmap.replace(zero_ifmap.find("IfmapSramSzkB: 64"), 17, "IfmapSramSzkB: 0");
  expect_cfg_error(zero_ifmap, {"IfmapSramSzkB", "'0'"});
  std::string text_size = good;
  text_size.replace(text_size.find("FilterSramSzkB: 64"), 18, "FilterSramSzkB: 64kB");
  expect_cfg_error(text_size, {"FilterSramSzkB", "'64kB'"});
  std::string no_sep = good + "Bandwidth 10\n";
  expect_cfg_error(no_sep, {"Bandwidth 10"});
}

// Absurd hardware: an array of 1e9 x 1e9 PEs (whose PE count alone overflows int64 products)
// and SRAMs past 1 GiB are refused at load, naming the file, the key, the value and the limit.
TEST(ScaleSim, AbsurdArraysAndBuffersAreRefusedAtLoad) {
  expect_cfg_error(cfg_text(1000000000, 1000000000, "ws", 64),
                   {"ArrayHeight", "'1000000000'", "at most 4096"});
  expect_cfg_error(cfg_text(8, 4097, "ws", 64), {"ArrayWidth", "'4097'", "at most 4096"});
  expect_cfg_error(cfg_text(8, 8, "ws", 1048577),
                   {"OfmapSramSzkB", "'1048577'", "at most 1048576"});
  std::string user = cfg_text(8, 8, "ws", 64);
  user.replace(user.find("CALC"), 4, "USER");
  user += "[architecture_presets]\nBandwidth: 2000000\n";
  expect_cfg_error(user, {"Bandwidth", "'2000000'", "at most 1048576"});
  // The largest array and SRAMs are accepted.
  const auto big = parse_scalesim_config(cfg_text(4096, 4096, "os", 1048576), "big.cfg");
  EXPECT_EQ(big.array_rows, 4096);
  EXPECT_EQ(big.ofmap_sram_kb, 1048576);
}

// Within the limits a product can still pass 64 bits: a 16384x16384 filter over 16384 channels
// (4.4e12 MACs, within the topology reader's 1e15) on a 4096x4096 OS array has 2^24 PEs x 4.4e12
// cycles of a fold. The report is an error naming the config, the layer and the product (it was a
// wrapped utilization).
TEST(ScaleSim, ProductsPastSixtyFourBitsAreErrorsNotWrappedNumbers) {
  const auto cfg = parse_scalesim_config(cfg_text(4096, 4096, "os", 64), "huge.cfg");
  const auto l = layer("wide, 16384, 16384, 16384, 16384, 16384, 1, 1,");
  try {
    scalesim_layer_report(cfg, l, false);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("huge.cfg: layer 'wide' on a 4096x4096 array: ", 0), 0u) << what;
    EXPECT_NE(what.find("overflows 64 bits"), std::string::npos) << what;
  }
}

TEST(ScaleSim, TopologyFilesAsScaleSimReadsThem) {
  // The 9th column (stride width) is honoured, further columns are ignored as SCALE-Sim does.
  std::istringstream nine(
      "h\nconv, 16, 20, 3, 5, 4, 12, 1, 2,\nwide, 8, 9, 3, 3, 2, 2, 2, 1, 1, 7,\n");
  const auto l = read_scalesim_topology(nine, "nine.csv");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].stride_h, 1);
  EXPECT_EQ(l[0].stride_w, 2);
  EXPECT_EQ(l[0].ofmap_w(), 9);  // ceil((20 - 5 + 2) / 2)
  EXPECT_EQ(l[1].stride_h, 2);
  EXPECT_EQ(l[1].stride_w, 1);
  // GEMM mode: M x K ifmap, 1 x K filter, N filters.
  std::istringstream gemm("Layer, M, N, K,\nqkv, 128, 192, 64,\n");
  const auto g = read_scalesim_topology(gemm, "g.csv", ScaleSimTopologyKind::kGemm);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].ofmap_pixels(), 128);
  EXPECT_EQ(g[0].window(), 64);
  EXPECT_EQ(g[0].num_filters, 192);
  // Empty, header-only and header-less files are errors, not silently short networks.
  auto expect_error = [](const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    try {
      read_scalesim_topology(in, "t.csv");
      FAIL() << text;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("", "empty");
  expect_error("\n  \n", "empty");
  expect_error(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
      "Num Filter, Strides,\n",
      "no layer rows");
  expect_error("conv1, 34, 34, 3, 3, 3, 16, 1,\nconv2, 34, 34, 3, 3, 16, 16, 1,\n", "header");
  expect_error("h\nconv1, 34, 34, 3, 3, 3, 16, 0,\n", "'Strides' is 0");
  expect_error("h\nconv1, 34, 34, 3, 3, 3, 16,\n", "t.csv:2");
  expect_error("h\nconv1, 2, 34, 3, 3, 3, 16, 1,\n", "larger than the IFMAP");
}

// nce models export -> --topology: the exported file (Quantized and Pad columns) costs exactly
// what the network costs, on every preset (before these columns ResNet-20 on edge-16x16-ws-2b
// went from 265,688 to 208,508 cycles: every imported layer became quantized).
TEST(ScaleSim, ExportedTopologyCostsWhatTheNetworkCosts) {
  for (const char* model : {"resnet20", "vgg16", "resnet50"}) {
    const models::Network net = models::build_canonical(model);
    std::stringstream csv;
    models::write_topology_csv(net, csv);
    const models::Network back = models::read_topology_csv(csv, std::string(model) + ".csv");
    for (const char* preset : {"edge-16x16-ws-2b", "mid-32x32-os-8b", "large-64x64-ws-2b"}) {
      const HwConfig hw =
          load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/" + preset + ".cfg");
      const NetworkReport a = fast_network_report(hw, gemm_layers(net));
      const NetworkReport b = fast_network_report(hw, gemm_layers(back));
      EXPECT_EQ(b.total_cycles, a.total_cycles) << model << " " << preset;
      EXPECT_EQ(b.stall_cycles, a.stall_cycles) << model << " " << preset;
      EXPECT_DOUBLE_EQ(b.energy_pj, a.energy_pj) << model << " " << preset;
    }
  }
  const HwConfig edge =
      load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs/edge-16x16-ws-2b.cfg");
  EXPECT_EQ(
      fast_network_report(edge, gemm_layers(models::build_canonical("resnet20"))).total_cycles,
      265688);
}

// SCALE-Sim's reports print Python floats; these are Python 3.11's repr() of the same doubles.
TEST(ScaleSim, FloatsPrintAsPythonRepr) {
  const std::pair<double, const char*> cases[] = {
      {1e-05, "1e-05"},
      {0.0001, "0.0001"},
      {1e16, "1e+16"},
      {123456789012345.0, "123456789012345.0"},
      {1234567890123456.0, "1234567890123456.0"},
      {0.1, "0.1"},
      {2.0 / 3.0, "0.6666666666666666"},
      {-393.0, "-393.0"},
      {1.5e-07, "1.5e-07"},
      {12345678901234567.0, "1.2345678901234568e+16"},
      {100.0, "100.0"},
      {33.33333333333322, "33.33333333333322"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.0, "0.0"},
  };
  for (const auto& [v, text] : cases) EXPECT_EQ(python_float_repr(v), text) << text;
}

}  // namespace
}  // namespace nce::sim
