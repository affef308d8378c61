// SCALE-Sim v2's inputs: its .cfg (Python configparser syntax) and its topology CSV, read into
// ScaleSimConfig and ScaleSimLayer (scalesim_compat.h).
#include "nce/common/ini.h"
#include "nce/common/input_file.h"
#include "nce/common/text.h"
#include "nce/models/topology.h"
#include "nce/sim/scalesim_compat.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nce::sim {

namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(std::string("cannot read ") + what + " '" + path + "'");
  try {
    return common::read_input_file(path, common::InputKind::kText, what);
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
}

bool parse_long(const std::string& value, long& v) {
  std::size_t used = 0;
  try {
    v = std::stol(value, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used != 0 && used == value.size();
}

int to_int(const std::string& source, const std::string& key, const std::string& value, int lo) {
  long v = 0;
  if (!parse_long(value, v) || v < lo || v > 1'000'000'000) {
    throw std::invalid_argument(source + ": key '" + key + "' = '" + value +
                                "': expected an integer >= " + std::to_string(lo));
  }
  return static_cast<int>(v);
}

// An integer >= 1 and at most `hi`, the limit and why named in the error.
int to_bounded_int(const std::string& source, const std::string& key, const std::string& value,
                   long hi, const char* why) {
  const int v = to_int(source, key, value, 1);
  if (v > hi) {
    throw std::invalid_argument(source + ": key '" + key + "' = '" + value + "': at most " +
                                std::to_string(hi) + " (" + why + ")");
  }
  return v;
}

}  // namespace

ScaleSimConfig parse_scalesim_config(const std::string& text, const std::string& source) {
  // Python configparser's syntax as SCALE-Sim writes it: "key : value" or "key = value", whole-line
  // comments only, names case-insensitive; a repeated key keeps its last value.
  common::IniSyntax syntax;
  syntax.separators = ":=";
  syntax.trailing_comments = "";
  syntax.strict_section_headers = false;
  syntax.empty_names_allowed = true;
  std::map<std::string, std::string> values;  // "section.key" lower-cased -> value
  for (const common::IniEntry& e : common::parse_ini(text, source, syntax)) {
    values[common::to_lower(e.section) + "." + common::to_lower(e.key)] = e.value;
  }
  auto get = [&](const std::string& section_name, const std::string& key) -> std::string {
    auto it = values.find(common::to_lower(section_name) + "." + common::to_lower(key));
    if (it == values.end()) {
      throw std::invalid_argument(source + ": key '" + section_name + "." + key +
                                  "' is missing (SCALE-Sim v2 requires it)");
    }
    return it->second;
  };
  const std::string arch = "architecture_presets";
  ScaleSimConfig c;
  c.run_name = get("general", "run_name");
  c.source = source;
  const char* kArrayWhy = "PEs a side, as nce's array.rows/array.cols";
  const char* kSramWhy = "KiB of on-chip SRAM, at most 1 GiB, as nce's memory.*_sram_kb";
  c.array_rows = to_bounded_int(source, arch + ".ArrayHeight", get(arch, "ArrayHeight"),
                                kMaxScaleSimArray, kArrayWhy);
  c.array_cols = to_bounded_int(source, arch + ".ArrayWidth", get(arch, "ArrayWidth"),
                                kMaxScaleSimArray, kArrayWhy);
  c.ifmap_sram_kb = to_bounded_int(source, arch + ".IfmapSramSzkB", get(arch, "IfmapSramSzkB"),
                                   kMaxScaleSimSramKb, kSramWhy);
  c.filter_sram_kb = to_bounded_int(source, arch + ".FilterSramSzkB", get(arch, "FilterSramSzkB"),
                                    kMaxScaleSimSramKb, kSramWhy);
  c.ofmap_sram_kb = to_bounded_int(source, arch + ".OfmapSramSzkB", get(arch, "OfmapSramSzkB"),
                                   kMaxScaleSimSramKb, kSramWhy);
  const std::string df = get(arch, "Dataflow");
  if (const auto dataflow = dataflow_named(df)) {
    c.dataflow = *dataflow;
  } else {
    throw std::invalid_argument(source + ": key 'architecture_presets.Dataflow' = '" + df +
                                "': unknown dataflow (expected os, ws or is, lower case)");
  }
  const std::string bw = get("run_presets", "InterfaceBandwidth");
  if (bw == "CALC") {
    c.calc_bandwidth = true;
  } else if (bw == "USER") {
    c.calc_bandwidth = false;
    auto it = values.find(arch + ".bandwidth");
    if (it == values.end()) {
      throw std::invalid_argument(source +
                                  ": key 'run_presets.InterfaceBandwidth' = 'USER' needs "
                                  "key 'architecture_presets.Bandwidth' (words/cycle), missing");
    }
    for (const std::string& item : common::split_list(it->second)) {
      c.bandwidths.push_back(to_bounded_int(source, arch + ".Bandwidth", item,
                                            kMaxScaleSimBandwidth, "words per cycle"));
    }
    if (c.bandwidths.empty()) {
      to_int(source, arch + ".Bandwidth", it->second, 1);  // throws: names the empty value
    }
  } else {
    throw std::invalid_argument(source + ": key 'run_presets.InterfaceBandwidth' = '" + bw +
                                "': expected CALC or USER");
  }
  return c;
}

ScaleSimConfig load_scalesim_config(const std::string& path) {
  return parse_scalesim_config(read_file(path, "SCALE-Sim config"), path);
}

int ScaleSimLayer::ofmap_h() const {
  return static_cast<int>(std::ceil(static_cast<double>(ifmap_h - filter_h + stride_h) / stride_h));
}
int ScaleSimLayer::ofmap_w() const {
  return static_cast<int>(std::ceil(static_cast<double>(ifmap_w - filter_w + stride_w) / stride_w));
}

std::vector<ScaleSimLayer> read_scalesim_topology(std::istream& in, const std::string& source,
                                                  ScaleSimTopologyKind kind) {
  const auto format = kind == ScaleSimTopologyKind::kGemm ? models::TopologyFormat::kGemm
                                                          : models::TopologyFormat::kConv;
  std::vector<ScaleSimLayer> layers;
  for (const models::TopologyRow& r : models::read_topology_rows(in, source, format)) {
    layers.push_back({r.name, r.ifmap_h, r.ifmap_w, r.filter_h, r.filter_w, r.channels,
                      r.num_filters, r.stride_h, r.stride_w});
  }
  return layers;
}

std::vector<ScaleSimLayer> load_scalesim_topology(const std::string& path,
                                                  ScaleSimTopologyKind kind) {
  std::istringstream in(read_file(path, "SCALE-Sim topology"));
  return read_scalesim_topology(in, path, kind);
}

ScaleSimTopologyKind detect_scalesim_topology_kind(const std::string& path) {
  std::istringstream in(read_file(path, "SCALE-Sim topology"));
  return models::detect_topology_format(in) == models::TopologyFormat::kGemm
             ? ScaleSimTopologyKind::kGemm
             : ScaleSimTopologyKind::kConv;
}

}  // namespace nce::sim
