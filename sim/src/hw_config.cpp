#include "nce/sim/hw_config.h"
#include "nce/common/input_file.h"

#include "nce/common/ini.h"
#include "nce/common/name_table.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nce::sim {

namespace {

// Shortest text that reads back as the same double ("0.06", not "0.059999999999999998").
std::string format_double(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& value,
                       const std::string& reason) {
  throw std::invalid_argument(source + ": key '" + key + "' = '" + value + "': " + reason);
}

// `value` read by `read` (std::stol, std::stod), which must take all of it; else fails with
// `what`.
template <typename T, typename Read>
T parse_whole(const std::string& source, const std::string& key, const std::string& value,
              Read read, const char* what) {
  std::size_t used = 0;
  T v{};
  try {
    v = read(value, &used);
  } catch (const std::exception&) {
    fail(source, key, value, what);
  }
  if (used != value.size()) fail(source, key, value, what);
  return v;
}

int parse_int(const std::string& source, const std::string& key, const std::string& value, long lo,
              long hi) {
  const long v = parse_whole<long>(
      source, key, value,
      [](const std::string& s, std::size_t* used) { return std::stol(s, used); }, "not an integer");
  if (v < lo || v > hi) {
    fail(source, key, value, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<int>(v);
}

// What is physically sensible for a value (and keeps every count of the cost model inside 64
// bits): a range with an open or closed lower end.
struct Bounds {
  double lo, hi;
  bool lo_open;
  const char* why;
};
// SRAMs: up to 1 GiB each (on-chip buffers are KiB to a few MiB).
constexpr Bounds kSramKb{0.0, 1024.0 * 1024.0, true, "KiB of on-chip SRAM, at most 1 GiB"};
// DRAM: from one byte per 1000 cycles to 1 MB per cycle (an ideal memory in tests).
constexpr Bounds kDramBytes{1e-3, 1e6, false, "bytes per cycle, from 0.001 to 1e6"};
// Clock: from 1 kHz up (it only turns cycles into seconds, so no count depends on its top).
constexpr Bounds kClockMhz{1e-3, HUGE_VAL, false, "MHz, at least 0.001"};
// Energy per event: 0 to 1 uJ (a DRAM bit costs tens of pJ, a 2-bit MAC a fraction of one).
constexpr Bounds kEventPj{0.0, 1e6, false, "pJ per event, from 0 to 1e6"};

double parse_double(const std::string& source, const std::string& key, const std::string& value,
                    const Bounds& b) {
  const double v = parse_whole<double>(
      source, key, value,
      [](const std::string& s, std::size_t* used) { return std::stod(s, used); }, "not a number");
  if (!std::isfinite(v)) fail(source, key, value, "not a number");
  const bool low = b.lo_open ? !(v > b.lo) : !(v >= b.lo);
  if (low || v > b.hi) {
    const std::string range =
        std::isfinite(b.hi)
            ? std::string("must be in ") + (b.lo_open ? "(" : "[") + format_double(b.lo) + ", " +
                  format_double(b.hi) + "]"
            : std::string("must be ") + (b.lo_open ? "> " : ">= ") + format_double(b.lo);
    fail(source, key, value,
         range + " (" + b.why + ")" +
             (b.lo == 0 ? (b.lo_open ? "; must be > 0" : "; must be >= 0") : ""));
  }
  return v;
}

bool parse_bool(const std::string& source, const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  fail(source, key, value, "must be true or false");
}

const common::NamedValue<Dataflow> kDataflowNames[] = {
    {Dataflow::kOS, "os"}, {Dataflow::kWS, "ws"}, {Dataflow::kIS, "is"}};

// A .cfg may spell the dataflow in lower or in upper case ("ws", "WS"; not "Ws").
Dataflow parse_dataflow(const std::string& source, const std::string& key,
                        const std::string& value) {
  for (const common::NamedValue<Dataflow>& entry : kDataflowNames) {
    std::string upper = entry.name;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (value == entry.name || value == upper) return entry.value;
  }
  fail(source, key, value, "unknown dataflow (expected " + common::names_list(kDataflowNames) + ")");
}

// The keys of a .cfg in canonical order, with how each is read into a HwConfig.
struct KeySpec {
  const char* key;
  std::function<void(HwConfig&, const std::string& source, const std::string& value)> set;
  std::function<std::string(const HwConfig&)> get;
};

// The key of an integer field in lo..hi.
KeySpec int_key(const char* key, int HwConfig::*field, long lo, long hi) {
  return {key,
          [=](HwConfig& c, const std::string& s, const std::string& v) {
            c.*field = parse_int(s, key, v, lo, hi);
          },
          [=](const HwConfig& c) { return std::to_string(c.*field); }};
}

// The key of a real field within `bounds`, written back in its shortest exact text.
KeySpec double_key(const char* key, double HwConfig::*field, const Bounds& bounds) {
  return {key,
          [=](HwConfig& c, const std::string& s, const std::string& v) {
            c.*field = parse_double(s, key, v, bounds);
          },
          [=](const HwConfig& c) { return format_double(c.*field); }};
}

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      int_key("array.rows", &HwConfig::rows, 1, 4096),
      int_key("array.cols", &HwConfig::cols, 1, 4096),
      int_key("array.bits", &HwConfig::bits, 1, 16),
      int_key("array.acc_bits", &HwConfig::acc_bits, 1, 64),
      {"array.dataflow",
       [](HwConfig& c, const std::string& s, const std::string& v) {
         c.dataflow = parse_dataflow(s, "array.dataflow", v);
       },
       [](const HwConfig& c) { return std::string(to_string(c.dataflow)); }},
      double_key("memory.ifmap_sram_kb", &HwConfig::ifmap_sram_kb, kSramKb),
      double_key("memory.filter_sram_kb", &HwConfig::filter_sram_kb, kSramKb),
      double_key("memory.ofmap_sram_kb", &HwConfig::ofmap_sram_kb, kSramKb),
      {"memory.double_buffered",
       [](HwConfig& c, const std::string& s, const std::string& v) {
         c.double_buffered = parse_bool(s, "memory.double_buffered", v);
       },
       [](const HwConfig& c) { return std::string(c.double_buffered ? "true" : "false"); }},
      double_key("memory.dram_bytes_per_cycle", &HwConfig::dram_bytes_per_cycle, kDramBytes),
      double_key("clock.mhz", &HwConfig::clock_mhz, kClockMhz),
      double_key("energy.mac_pj", &HwConfig::mac_pj, kEventPj),
      double_key("energy.idle_pe_pj", &HwConfig::idle_pe_pj, kEventPj),
      double_key("energy.ifmap_sram_pj_per_bit", &HwConfig::ifmap_sram_pj_per_bit, kEventPj),
      double_key("energy.filter_sram_pj_per_bit", &HwConfig::filter_sram_pj_per_bit, kEventPj),
      double_key("energy.ofmap_sram_pj_per_bit", &HwConfig::ofmap_sram_pj_per_bit, kEventPj),
      double_key("energy.dram_pj_per_bit", &HwConfig::dram_pj_per_bit, kEventPj),
  };
  return specs;
}

std::int64_t kb_to_bits(double kb) {
  return static_cast<std::int64_t>(std::floor(kb * 1024.0 * 8.0));
}

void validate_cross_fields(const HwConfig& c, const std::map<std::string, std::string>& values) {
  auto value_of = [&](const char* key) {
    auto it = values.find(key);
    return it == values.end() ? std::string() : it->second;
  };
  if (c.acc_bits < 2 * c.bits) {
    fail(
        c.source, "array.acc_bits", value_of("array.acc_bits"),
        "must be at least 2 * array.bits (" + std::to_string(2 * c.bits) + ") to hold one product");
  }
  const std::int64_t tile_words = static_cast<std::int64_t>(c.rows) * c.cols;
  const std::string how = c.double_buffered ? " (half of the double-buffered SRAM)" : "";
  if (c.ifmap_working_bits() < tile_words * c.bits) {
    fail(
        c.source, "memory.ifmap_sram_kb", value_of("memory.ifmap_sram_kb"),
        "too small to hold one fold: needs " + std::to_string(tile_words * c.bits) + " bits" + how);
  }
  if (c.filter_working_bits() < tile_words * c.bits) {
    fail(
        c.source, "memory.filter_sram_kb", value_of("memory.filter_sram_kb"),
        "too small to hold one fold: needs " + std::to_string(tile_words * c.bits) + " bits" + how);
  }
  if (c.ofmap_working_bits() < tile_words * c.acc_bits) {
    fail(c.source, "memory.ofmap_sram_kb", value_of("memory.ofmap_sram_kb"),
         "too small to hold one fold of psums: needs " + std::to_string(tile_words * c.acc_bits) +
             " bits" + how);
  }
}

std::string stem_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = base.rfind(".cfg");
  if (dot != std::string::npos && dot + 4 == base.size()) base = base.substr(0, dot);
  return base;
}

}  // namespace

const char* to_string(Dataflow dataflow) {
  return common::name_of(kDataflowNames, dataflow);
}

std::optional<Dataflow> dataflow_named(const std::string& name) {
  return common::value_named(kDataflowNames, name);
}

std::int64_t HwConfig::ifmap_working_bits() const {
  return kb_to_bits(ifmap_sram_kb) / (double_buffered ? 2 : 1);
}
std::int64_t HwConfig::filter_working_bits() const {
  return kb_to_bits(filter_sram_kb) / (double_buffered ? 2 : 1);
}
std::int64_t HwConfig::ofmap_working_bits() const {
  return kb_to_bits(ofmap_sram_kb) / (double_buffered ? 2 : 1);
}

std::string HwConfig::fingerprint() const {
  std::string out = "cost_model=" + std::to_string(kCostModelVersion);
  for (const auto& spec : key_specs()) {
    if (!out.empty()) out += ';';
    out += spec.key;
    out += '=';
    out += spec.get(*this);
  }
  return out;
}

std::map<std::string, std::string> HwConfig::to_key_values() const {
  std::map<std::string, std::string> kv;
  kv["general.name"] = name;
  for (const auto& spec : key_specs()) kv[spec.key] = spec.get(*this);
  return kv;
}

std::string HwConfig::to_cfg_text() const {
  std::ostringstream out;
  out << "[general]\nname = " << name << "\n";
  std::string section;
  for (const auto& spec : key_specs()) {
    std::string key = spec.key;
    auto dot = key.find('.');
    std::string sec = key.substr(0, dot);
    if (sec != section) {
      out << "\n[" << sec << "]\n";
      section = sec;
    }
    out << key.substr(dot + 1) << " = " << spec.get(*this) << "\n";
  }
  return out.str();
}

HwConfig hw_config_from_key_values(const std::map<std::string, std::string>& values,
                                   const std::string& source_name) {
  HwConfig c;
  c.source = source_name;
  c.name = stem_of(source_name);
  for (const auto& [key, value] : values) {
    if (key == "general.name") continue;
    bool known = false;
    for (const auto& spec : key_specs()) known = known || key == spec.key;
    if (!known) fail(source_name, key, value, "unknown key");
  }
  auto name_it = values.find("general.name");
  if (name_it != values.end() && !name_it->second.empty()) c.name = name_it->second;
  for (const auto& spec : key_specs()) {
    auto it = values.find(spec.key);
    if (it == values.end()) fail(source_name, spec.key, "", "missing key");
    spec.set(c, source_name, it->second);
  }
  validate_cross_fields(c, values);
  return c;
}

HwConfig parse_hw_config(const std::string& text, const std::string& source_name) {
  // Boost.Program_options' INI syntax: '#' starts a comment anywhere in a line, ';' a whole line.
  common::IniSyntax syntax;
  syntax.trailing_comments = "#";
  syntax.trailing_comment_needs_space = false;
  syntax.empty_names_allowed = true;  // "[]" or "= 1" end up as unknown keys
  std::map<std::string, std::string> values;
  for (const common::IniEntry& e : common::parse_ini(text, source_name, syntax)) {
    const std::string full = e.section.empty() ? e.key : e.section + "." + e.key;
    if (values.count(full)) fail(source_name, full, e.value, "duplicate key");
    values[full] = e.value;
  }
  return hw_config_from_key_values(values, source_name);
}

HwConfig load_hw_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error("cannot read hardware config '" + path +
                             "': it is a directory (name a .cfg file)");
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read hardware config '" + path + "'");
  return parse_hw_config(common::read_input_file(path, common::InputKind::kText, "hardware config"), path);
}

HwConfig with_overrides(const HwConfig& base, const std::map<std::string, std::string>& overrides) {
  auto kv = base.to_key_values();
  std::string source = base.source;
  for (const auto& [key, value] : overrides) {
    if (!kv.count(key)) fail(base.source + " (override)", key, value, "unknown key");
    kv[key] = value;
  }
  if (!overrides.empty()) source += " (with overrides)";
  HwConfig c = hw_config_from_key_values(kv, source);
  if (!overrides.count("general.name")) c.name = base.name;
  return c;
}

}  // namespace nce::sim
