#include "nce/sim/hw_config.h"
#include "support/errors.h"

#include <gtest/gtest.h>

#include <string>

namespace nce::sim {
namespace {

using nce::testing::expect_mentions;
using nce::testing::what_must_throw;

const std::string kPresetDir = std::string(NCE_SOURCE_DIR) + "/hw_configs/";

const char* kValid = R"(# a comment
[general]
name = tiny
[array]
rows = 4
cols = 8
bits = 2
acc_bits = 16
dataflow = ws
[memory]
ifmap_sram_kb = 1
filter_sram_kb = 1
ofmap_sram_kb = 1   # inline comment
double_buffered = true
dram_bytes_per_cycle = 2.5
[clock]
mhz = 100
[energy]
mac_pj = 0.06
idle_pe_pj = 0.006
ifmap_sram_pj_per_bit = 0.3
filter_sram_pj_per_bit = 0.2
ofmap_sram_pj_per_bit = 0.1
dram_pj_per_bit = 8
)";

std::string replace_line(const std::string& text, const std::string& from, const std::string& to) {
  std::string out = text;
  auto pos = out.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  out.replace(pos, from.size(), to);
  return out;
}

// Parsing `text` must fail with a message naming the source, the key and the value.
void expect_error(const std::string& text, const std::string& key, const std::string& value) {
  expect_mentions(what_must_throw<std::invalid_argument>("for " + key + " = " + value,
                                                         [&] { parse_hw_config(text, "bad.cfg"); }),
                  {"bad.cfg", key, "'" + value + "'"});
}

TEST(HwConfig, ParsesEveryField) {
  const HwConfig c = parse_hw_config(kValid, "tiny.cfg");
  EXPECT_EQ(c.name, "tiny");
  EXPECT_EQ(c.rows, 4);
  EXPECT_EQ(c.cols, 8);
  EXPECT_EQ(c.bits, 2);
  EXPECT_EQ(c.acc_bits, 16);
  EXPECT_EQ(c.dataflow, Dataflow::kWS);
  EXPECT_DOUBLE_EQ(c.ofmap_sram_kb, 1);
  EXPECT_TRUE(c.double_buffered);
  EXPECT_DOUBLE_EQ(c.dram_bytes_per_cycle, 2.5);
  EXPECT_DOUBLE_EQ(c.clock_mhz, 100);
  EXPECT_DOUBLE_EQ(c.filter_sram_pj_per_bit, 0.2);
  EXPECT_EQ(c.ifmap_working_bits(), 1024 * 8 / 2);  // half of a double-buffered 1 KiB
}

TEST(HwConfig, PresetsLoadAndRoundTrip) {
  for (const char* name : {"edge-16x16-ws-2b", "edge-16x16-ws-8b", "mid-32x32-os-2b",
                           "mid-32x32-os-8b", "large-64x64-ws-2b"}) {
    const HwConfig c = load_hw_config(kPresetDir + name + ".cfg");
    EXPECT_EQ(c.name, name);
    const HwConfig back = parse_hw_config(c.to_cfg_text(), "roundtrip");
    EXPECT_EQ(back.fingerprint(), c.fingerprint()) << name;
    EXPECT_EQ(back.name, c.name);
  }
  EXPECT_EQ(load_hw_config(kPresetDir + "mid-32x32-os-2b.cfg").dataflow, Dataflow::kOS);
  EXPECT_EQ(load_hw_config(kPresetDir + "edge-16x16-ws-8b.cfg").bits, 8);
}

TEST(HwConfig, FingerprintIgnoresNameAndSeesEveryField) {
  const HwConfig a = parse_hw_config(kValid, "a.cfg");
  const HwConfig renamed = with_overrides(a, {{"general.name", "other"}});
  EXPECT_EQ(renamed.name, "other");
  EXPECT_EQ(renamed.fingerprint(), a.fingerprint());
  for (const auto& [key, value] : a.to_key_values()) {
    if (key == "general.name") continue;
    std::string changed = key == "array.rows" || key == "array.cols" ? "2"
                          : key == "array.dataflow"                  ? "os"
                          : key == "memory.double_buffered"          ? "false"
                          : key == "array.acc_bits"                  ? "24"
                          : key == "array.bits"                      ? "1"
                                                                     : value + "1";
    const HwConfig b = with_overrides(a, {{key, changed}});
    EXPECT_NE(b.fingerprint(), a.fingerprint()) << key;
  }
}

TEST(HwConfig, OverridesRevalidate) {
  const HwConfig a = parse_hw_config(kValid, "a.cfg");
  const HwConfig b = with_overrides(a, {{"array.rows", "2"}, {"array.dataflow", "is"}});
  EXPECT_EQ(b.rows, 2);
  EXPECT_EQ(b.dataflow, Dataflow::kIS);
  EXPECT_EQ(b.name, "tiny");
  EXPECT_THROW(with_overrides(a, {{"array.rows", "0"}}), std::invalid_argument);
  EXPECT_THROW(with_overrides(a, {{"array.colour", "red"}}), std::invalid_argument);
  EXPECT_THROW(with_overrides(a, {{"array.bits", "17"}}), std::invalid_argument);
}

TEST(HwConfig, BadValuesNameFileKeyAndValue) {
  const std::string t = kValid;
  expect_error(replace_line(t, "rows = 4", "rows = 0"), "array.rows", "0");
  expect_error(replace_line(t, "cols = 8", "cols = -3"), "array.cols", "-3");
  expect_error(replace_line(t, "rows = 4", "rows = four"), "array.rows", "four");
  expect_error(replace_line(t, "dataflow = ws", "dataflow = rs"), "array.dataflow", "rs");
  expect_error(replace_line(t, "bits = 2", "bits = 0"), "array.bits", "0");
  expect_error(replace_line(t, "bits = 2", "bits = 17"), "array.bits", "17");
  expect_error(replace_line(t, "acc_bits = 16", "acc_bits = 3"), "array.acc_bits", "3");
  expect_error(replace_line(t, "mhz = 100", "mhz = 0"), "clock.mhz", "0");
  expect_error(replace_line(t, "dram_bytes_per_cycle = 2.5", "dram_bytes_per_cycle = -1"),
               "memory.dram_bytes_per_cycle", "-1");
  expect_error(replace_line(t, "mac_pj = 0.06", "mac_pj = -0.1"), "energy.mac_pj", "-0.1");
  expect_error(replace_line(t, "double_buffered = true", "double_buffered = maybe"),
               "memory.double_buffered", "maybe");
  expect_error(replace_line(t, "mhz = 100", "mhz = 100\ncolour = red"), "clock.colour", "red");
  expect_error(replace_line(t, "mhz = 100", ""), "clock.mhz", "");
}

TEST(HwConfig, SramTooSmallForOneFold) {
  // 4x8 array, 2-bit words: one stationary tile is 64 bits; psums 32 x 16 = 512 bits.
  const std::string t = kValid;
  expect_error(replace_line(t, "ifmap_sram_kb = 1", "ifmap_sram_kb = 0.01"), "memory.ifmap_sram_kb",
               "0.01");
  expect_error(replace_line(t, "filter_sram_kb = 1", "filter_sram_kb = 0.01"),
               "memory.filter_sram_kb", "0.01");
  // 0.1 KiB = 819 bits; double-buffered half = 409 < 512.
  expect_error(replace_line(t, "ofmap_sram_kb = 1", "ofmap_sram_kb = 0.1"), "memory.ofmap_sram_kb",
               "0.1");
  // Single-buffered, the whole 819 bits are usable: valid.
  const HwConfig single =
      parse_hw_config(replace_line(replace_line(t, "ofmap_sram_kb = 1", "ofmap_sram_kb = 0.1"),
                                   "double_buffered = true", "double_buffered = false"),
                      "single.cfg");
  EXPECT_EQ(single.ofmap_working_bits(), 819);
}

TEST(HwConfig, ValuesBeyondWhatIsPhysicallySensibleAreRefused) {
  const std::string t = kValid;
  struct Case {
    const char* from;
    const char* to;
    const char* key;
    const char* value;
  } cases[] = {
      {"dram_bytes_per_cycle = 2.5", "dram_bytes_per_cycle = 1e-15", "memory.dram_bytes_per_cycle",
       "1e-15"},
      {"dram_bytes_per_cycle = 2.5", "dram_bytes_per_cycle = 1e-20", "memory.dram_bytes_per_cycle",
       "1e-20"},
      {"dram_bytes_per_cycle = 2.5", "dram_bytes_per_cycle = 1e9", "memory.dram_bytes_per_cycle",
       "1e9"},
      {"ifmap_sram_kb = 1", "ifmap_sram_kb = 1e16", "memory.ifmap_sram_kb", "1e16"},
      {"mac_pj = 0.06", "mac_pj = 1e308", "energy.mac_pj", "1e308"},
      {"dram_pj_per_bit = 8", "dram_pj_per_bit = 1e300", "energy.dram_pj_per_bit", "1e300"},
      {"mhz = 100", "mhz = 1e-9", "clock.mhz", "1e-9"},
  };
  for (const Case& c : cases) {
    expect_error(replace_line(t, c.from, c.to), c.key, c.value);
    try {
      parse_hw_config(replace_line(t, c.from, c.to), "bad.cfg");
    } catch (const std::invalid_argument& e) {
      // Not "too small" for a huge SRAM: the message gives the sensible range.
      EXPECT_EQ(std::string(e.what()).find("too small"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("must be"), std::string::npos) << e.what();
    }
  }
}

TEST(HwConfig, ADirectoryIsNotAConfig) {
  try {
    load_hw_config(std::string(NCE_SOURCE_DIR) + "/hw_configs");
    FAIL() << "a directory parsed as a hw config";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST(HwConfig, MissingFileIsAnError) {
  EXPECT_THROW(load_hw_config("/nonexistent/x.cfg"), std::runtime_error);
}

}  // namespace
}  // namespace nce::sim
