// `nce sim` end to end: the docs/design.md §4 JSON contract on every preset, both engines agreeing,
// bad hardware configs rejected with the file, key and value, SCALE-Sim compatibility mode on the
// fixtures in tests/data/sim/.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_test.h"

namespace nce::testing {
namespace {

const std::string kPresets[] = {"edge-16x16-ws-2b", "edge-16x16-ws-8b", "mid-32x32-os-2b",
                                "mid-32x32-os-8b", "large-64x64-ws-2b"};

std::string preset(const std::string& name) {
  return std::string(NCE_SOURCE_DIR) + "/hw_configs/" + name + ".cfg";
}

std::string data(const std::string& name) {
  return std::string(NCE_TEST_DATA_DIR) + "/sim/" + name;
}


// The value after "key": at the top level of the object (its first occurrence).
std::string top_value(const std::string& json, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + key + "\":(null|-?[0-9.eE+-]+|\"[^\"]*\")")))
    return "";
  return m[1];
}

// The layer objects of the "layers" array (flat objects but for energy_breakdown_pj).
std::vector<std::string> layer_objects(const std::string& json) {
  std::vector<std::string> out;
  const auto begin = json.find("\"layers\":[");
  if (begin == std::string::npos) return out;
  std::size_t pos = json.find("{\"name\":", begin);
  while (pos != std::string::npos) {
    const std::size_t next = json.find("{\"name\":", pos + 1);
    out.push_back(json.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    pos = next;
  }
  return out;
}

void expect_design_keys(const std::string& json, const std::string& hw, const std::string& engine,
                        std::size_t layers) {
  EXPECT_EQ(json.rfind("{\"hw\":", 0), 0u) << json.substr(0, 200);
  EXPECT_EQ(top_value(json, "hw"), "\"" + hw + "\"");
  EXPECT_EQ(top_value(json, "engine"), "\"" + engine + "\"");
  EXPECT_GT(std::stoll(top_value(json, "total_cycles")), 0);
  EXPECT_GE(std::stoll(top_value(json, "stall_cycles")), 0);
  EXPECT_GT(std::stod(top_value(json, "energy_pj")), 0);
  const auto objs = layer_objects(json);
  ASSERT_EQ(objs.size(), layers);
  long long sum = 0;
  for (const auto& o : objs) {
    for (const char* key : {"\"name\":\"", "\"cycles\":", "\"stall_cycles\":", "\"utilization\":",
                            "\"energy_pj\":"}) {
      EXPECT_TRUE(contains(o, key)) << key << " in " << o;
    }
    sum += std::stoll(top_value(o, "cycles"));
  }
  EXPECT_EQ(sum, std::stoll(top_value(json, "total_cycles")));
}

TEST(SimCli, JsonHoldsTheDesignKeysOnEveryPreset) {
  for (const auto& name : kPresets) {
    const CliResult r =
        run_nce("sim --hw " + preset(name) + " --model resnet20 --engine fast --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_design_keys(r.output, name, "fast", 22);  // stem, 18 convs, 2 shortcuts, fc
    EXPECT_TRUE(contains(r.output, "\"name\":\"s2b1.shortcut\"")) << name;
  }
}

TEST(SimCli, SystemCAndFastEnginesPrintTheSameTotals) {
  for (const std::string name : {"edge-16x16-ws-2b", "mid-32x32-os-8b"}) {
    const CliResult sc = run_nce("sim --hw " + preset(name) + " --model resnet20 --json");
    const CliResult fast =
        run_nce("sim --hw " + preset(name) + " --model resnet20 --engine fast --json");
    ASSERT_EQ(sc.exit_code, 0) << sc.output;
    ASSERT_EQ(fast.exit_code, 0) << fast.output;
    expect_design_keys(sc.output, name, "systemc", 22);
    for (const char* key : {"total_cycles", "stall_cycles", "energy_pj"}) {
      EXPECT_EQ(top_value(sc.output, key), top_value(fast.output, key)) << name << " " << key;
    }
    const auto a = layer_objects(sc.output), b = layer_objects(fast.output);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << name << " layer " << i;
  }
}

TEST(SimCli, TableShowsWhereTheEnergyWent) {
  const CliResult r = run_nce("sim --hw " + preset("edge-16x16-ws-2b") + " --model resnet8");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* col : {"cycles", "stalls", "util%", "energy_nJ", "mac%", "sram%", "dram%",
                          "idle%", "total", "latency"}) {
    EXPECT_TRUE(contains(r.output, col)) << col << "\n" << r.output;
  }
}

// ImageNet stems (7x7x3 at 224x224) map on the WS presets: the pixel stream is chunked.
TEST(SimCli, ImageNetModelsMapOnTheWeightStationaryPresets) {
  for (const std::string name : {"edge-16x16-ws-2b", "large-64x64-ws-2b"}) {
    const CliResult r =
        run_nce("sim --hw " + preset(name) + " --model resnet18 --engine fast --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "\"name\":\"stem\"")) << name;
    EXPECT_GT(std::stoll(top_value(r.output, "total_cycles")), 0);
  }
}

// A preset's text with one line replaced, written to a temp file.
std::string bad_config(const std::string& tag, const std::string& from, const std::string& to) {
  std::ifstream in(preset("edge-16x16-ws-2b"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  const std::string path = ::testing::TempDir() + "nce_sim_bad_" + tag + ".cfg";
  std::ofstream(path) << text;
  return path;
}

TEST(SimCli, BadConfigsNameTheFileKeyAndValue) {
  struct Case {
    const char* tag;
    const char* from;
    const char* to;
    const char* key;
    const char* value;
  } cases[] = {
      {"unknown", "mhz = 200", "mhz = 200\nturbo = 1", "turbo", "1"},
      {"rows", "rows = 16", "rows = 0", "array.rows", "0"},
      {"dataflow", "dataflow = ws", "dataflow = xs", "array.dataflow", "xs"},
      {"bits", "bits = 2\n", "bits = 17\n", "array.bits", "17"},
      // 16x16 2-bit weights need 512 bits in the working half: 0.0625 KiB = 512 bits, half 256.
      {"sram", "filter_sram_kb = 16", "filter_sram_kb = 0.0625", "memory.filter_sram_kb", "0.0625"},
  };
  for (const auto& c : cases) {
    const std::string path = bad_config(c.tag, c.from, c.to);
    for (const char* engine : {"fast", "systemc"}) {
      const CliResult r =
          run_nce("sim --hw " + path + " --model resnet20 --engine " + engine + " --json");
      EXPECT_NE(r.exit_code, 0) << c.tag << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, "nce sim: error:")) << c.tag << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, path)) << c.tag << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, c.key)) << c.tag << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, std::string("'") + c.value + "'")) << c.tag << "\n"
                                                                        << r.output;
      EXPECT_FALSE(contains(r.output, "total_cycles")) << "nothing simulated: " << c.tag;
    }
  }
}

TEST(SimCli, ScaleSimModeReproducesItsComputeCycles) {
  const CliResult r = run_nce("sim --scalesim-cfg " + data("scalesim_32x32_os.cfg") +
                              " --topology " + data("resnet20_scalesim.csv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(top_value(r.output, "hw"), "\"resnet20_32x32_os\"");
  EXPECT_EQ(top_value(r.output, "engine"), "\"scalesim-v2\"");
  // SCALE-Sim v2's figures for these files (scalesim_compat_test.cpp derives them).
  EXPECT_EQ(top_value(r.output, "total_cycles"), "74768");
  EXPECT_EQ(top_value(r.output, "stall_cycles"), "0");
  EXPECT_EQ(top_value(r.output, "energy_pj"), "null");
  const auto layers = layer_objects(r.output);
  ASSERT_EQ(layers.size(), 22u);
  EXPECT_EQ(top_value(layers[0], "name"), "\"conv1\"");
  EXPECT_EQ(top_value(layers[0], "cycles"), "2847");  // 32 folds x 89 lines - 1
  EXPECT_EQ(top_value(layers[1], "cycles"), "6591");

  const CliResult table = run_nce("sim --scalesim-cfg " + data("scalesim_32x32_os.cfg") +
                                  " --topology " + data("scalesim_drain.csv"));
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(contains(table.output, "wide")) << table.output;
  EXPECT_TRUE(contains(table.output, "total")) << table.output;

  // The same topology on an NCE hw config (our model, with energy).
  const CliResult ours = run_nce("sim --hw " + preset("mid-32x32-os-2b") + " --topology " +
                                 data("resnet20_scalesim.csv") + " --engine fast --json");
  ASSERT_EQ(ours.exit_code, 0) << ours.output;
  expect_design_keys(ours.output, "mid-32x32-os-2b", "fast", 22);

  const CliResult missing = run_nce("sim --scalesim-cfg " + data("scalesim_32x32_os.cfg"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(contains(missing.output, "--topology")) << missing.output;
}

}  // namespace
}  // namespace nce::testing
