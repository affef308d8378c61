#include "nce/sim/scalesim_compat.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nce::sim {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot read ") + what + " '" + path + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

int to_int(const std::string& source, const std::string& key, const std::string& value, int lo) {
  std::size_t used = 0;
  long v = 0;
  try {
    v = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || v < lo || v > 1'000'000'000) {
    throw std::invalid_argument(source + ": key '" + key + "' = '" + value +
                                "': expected an integer >= " + std::to_string(lo));
  }
  return static_cast<int>(v);
}

// The ofmap write buffer of SCALE-Sim v2 in CALC mode, reduced to counts.
class OfmapWriteBufferReplay {
 public:
  OfmapWriteBufferReplay(std::int64_t total_words, std::int64_t line_width)
      : total_(total_words),
        active_((total_words + 1) / 2),  // ceil(total * 0.5)
        drain_size_(total_words - (total_words + 1) / 2),
        width_(line_width),
        free_(total_words) {}

  std::int64_t drain_size() const { return drain_size_; }

  // Serves one demand line with `valid` words arriving at `cycle`; returns the service cycle.
  std::int64_t serve(std::int64_t cycle, std::int64_t valid) {
    std::int64_t current = cycle;
    for (std::int64_t e = 0; e < valid; ++e) {
      store_one();
      if (current < drain_end_) {
        if (free_ <= 0) current = drain_end_;
      } else if (free_ < active_) {
        flush_partial_line();
        drain_end_ = drain(current);
        current = drain_end_;
      }
    }
    return current;
  }

 private:
  void store_one() {
    --free_;
    if (++line_fill_ == width_) {
      lines_.push_back(width_);
      line_fill_ = 0;
    }
  }
  void flush_partial_line() {
    if (line_fill_ > 0) {
      lines_.push_back(line_fill_);
      line_fill_ = 0;
    }
  }
  std::int64_t drain(std::int64_t start_cycle) {
    const std::int64_t want = (drain_size_ + width_ - 1) / width_;
    const std::int64_t end_line =
        std::min<std::int64_t>(drain_start_ + want, static_cast<std::int64_t>(lines_.size()));
    const std::int64_t n = end_line - drain_start_;
    if (n <= 0) {
      throw std::invalid_argument(
          "SCALE-Sim replay: the ofmap SRAM drains an empty buffer here (SCALE-Sim v2 fails on "
          "this configuration); use a larger ofmapsramszkB");
    }
    // Every drained line counts as full except the -1 padding of the last one.
    const std::int64_t words =
        n * width_ - (width_ - lines_[static_cast<std::size_t>(end_line - 1)]);
    free_ += words;
    drain_start_ = end_line;
    return start_cycle + n - 1;
  }

  std::int64_t total_, active_, drain_size_, width_;
  std::int64_t free_;
  std::int64_t line_fill_ = 0;
  std::vector<std::int64_t> lines_;  // valid words per trace line
  std::int64_t drain_start_ = 0;
  std::int64_t drain_end_ = 0;
};

}  // namespace

ScaleSimConfig parse_scalesim_config(const std::string& text, const std::string& source) {
  std::map<std::string, std::string> values;  // "section.key" lower-cased -> value
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = lower(trim(line.substr(1, line.size() - 2)));
      continue;
    }
    auto sep = line.find_first_of(":=");
    if (sep == std::string::npos) {
      throw std::invalid_argument(source + ": expected 'key : value', got '" + line + "'");
    }
    values[section + "." + lower(trim(line.substr(0, sep)))] = trim(line.substr(sep + 1));
  }
  auto get = [&](const std::string& key, bool required) -> std::string {
    auto it = values.find(key);
    if (it == values.end()) {
      if (required) throw std::invalid_argument(source + ": key '" + key + "' is missing");
      return "";
    }
    return it->second;
  };
  ScaleSimConfig c;
  c.run_name = get("general.run_name", false);
  c.array_rows = to_int(source, "architecture_presets.ArrayHeight",
                        get("architecture_presets.arrayheight", true), 1);
  c.array_cols = to_int(source, "architecture_presets.ArrayWidth",
                        get("architecture_presets.arraywidth", true), 1);
  c.ofmap_sram_kb = to_int(source, "architecture_presets.OfmapSramSzkB",
                           get("architecture_presets.ofmapsramszkb", true), 1);
  const std::string ifmap = get("architecture_presets.ifmapsramszkb", false);
  const std::string filter = get("architecture_presets.filtersramszkb", false);
  if (!ifmap.empty())
    c.ifmap_sram_kb = to_int(source, "architecture_presets.IfmapSramSzkB", ifmap, 1);
  if (!filter.empty()) {
    c.filter_sram_kb = to_int(source, "architecture_presets.FilterSramSzkB", filter, 1);
  }
  const std::string df = trim(get("architecture_presets.dataflow", true));
  if (df == "os") {
    c.dataflow = Dataflow::kOS;
  } else if (df == "ws") {
    c.dataflow = Dataflow::kWS;
  } else if (df == "is") {
    c.dataflow = Dataflow::kIS;
  } else {
    throw std::invalid_argument(source + ": key 'architecture_presets.Dataflow' = '" + df +
                                "': unknown dataflow (expected os, ws or is)");
  }
  const std::string bw = get("run_presets.interfacebandwidth", true);
  if (bw != "CALC") {
    throw std::invalid_argument(source + ": key 'run_presets.InterfaceBandwidth' = '" + bw +
                                "': only CALC is reproduced (USER bandwidth runs are not)");
  }
  c.calc_bandwidth = true;
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

std::vector<ScaleSimLayer> read_scalesim_topology(std::istream& in, const std::string& source) {
  std::vector<ScaleSimLayer> layers;
  std::string line;
  int line_no = 0;
  bool header = true;
  while (std::getline(in, line)) {
    ++line_no;
    line = trim(line);
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(trim(cell));
    while (!cells.empty() && cells.back().empty()) cells.pop_back();
    const std::string where = source + ":" + std::to_string(line_no);
    if (cells.size() != 8 && cells.size() != 9) {
      throw std::invalid_argument(where + ": expected 8 or 9 columns, got " +
                                  std::to_string(cells.size()) + " in '" + line + "'");
    }
    static const char* kColumns[] = {"Layer name",    "IFMAP Height", "IFMAP Width",
                                     "Filter Height", "Filter Width", "Channels",
                                     "Num Filter",    "Strides",      "Stride width"};
    std::vector<int> v(cells.size(), 0);
    for (std::size_t i = 1; i < cells.size(); ++i) v[i] = to_int(where, kColumns[i], cells[i], 1);
    ScaleSimLayer l;
    l.name = cells[0];
    l.ifmap_h = v[1];
    l.ifmap_w = v[2];
    l.filter_h = v[3];
    l.filter_w = v[4];
    l.channels = v[5];
    l.num_filters = v[6];
    l.stride_h = v[7];
    l.stride_w = cells.size() == 9 ? v[8] : v[7];
    if (l.filter_h > l.ifmap_h) {
      throw std::invalid_argument(where + ": Filter Height " + std::to_string(l.filter_h) +
                                  " > IFMAP Height " + std::to_string(l.ifmap_h));
    }
    if (l.filter_w > l.ifmap_w) {
      throw std::invalid_argument(where + ": Filter Width " + std::to_string(l.filter_w) +
                                  " > IFMAP Width " + std::to_string(l.ifmap_w));
    }
    if (l.name.find("DP") != std::string::npos) {
      const int channels = l.channels;
      for (int ch = 0; ch < channels; ++ch) {
        ScaleSimLayer d = l;
        d.name = l.name + "Channel_" + std::to_string(ch);
        d.channels = 1;
        layers.push_back(d);
      }
    } else {
      layers.push_back(l);
    }
  }
  return layers;
}

std::vector<ScaleSimLayer> load_scalesim_topology(const std::string& path) {
  std::istringstream in(read_file(path, "SCALE-Sim topology"));
  return read_scalesim_topology(in, path);
}

ScaleSimLayerCycles scalesim_layer_cycles(const ScaleSimConfig& cfg, const ScaleSimLayer& layer) {
  const std::int64_t R = cfg.array_rows, C = cfg.array_cols;
  const std::int64_t K = layer.window(), N = layer.ofmap_pixels(), M = layer.num_filters;
  std::int64_t Sr = 0, Sc = 0, T = 0;
  switch (cfg.dataflow) {
    case Dataflow::kOS:
      Sr = N, Sc = M, T = K;
      break;
    case Dataflow::kWS:
      Sr = K, Sc = M, T = N;
      break;
    case Dataflow::kIS:
      Sr = K, Sc = N, T = M;
      break;
  }
  const std::int64_t row_folds = (Sr + R - 1) / R, col_folds = (Sc + C - 1) / C;
  const bool os = cfg.dataflow == Dataflow::kOS;
  const std::int64_t fold_lines = os ? T + R + C - 2 : 2 * R + C + T - 2;

  ScaleSimLayerCycles out;
  out.name = layer.name;
  out.folds = row_folds * col_folds;
  out.demand_lines = out.folds * fold_lines;

  double eff_sum = 0;
  std::int64_t stored = 0;
  for (std::int64_t fc = 0; fc < col_folds; ++fc) {
    for (std::int64_t fr = 0; fr < row_folds; ++fr) {
      const std::int64_t r_used = std::min(R, Sr - fr * R), c_used = std::min(C, Sc - fc * C);
      eff_sum += static_cast<double>(r_used * c_used) / static_cast<double>(R * C);
      stored += os ? r_used * c_used : T * c_used;
    }
  }
  out.mapping_efficiency = 100.0 * eff_sum / static_cast<double>(out.folds);

  OfmapWriteBufferReplay buffer(static_cast<std::int64_t>(cfg.ofmap_sram_kb) * 1024, C);
  if (stored > buffer.drain_size()) {
    // Replay line by line: the valid ofmap words in line r of a fold are the skewed columns c <
    // c_used whose pre-skew row r - c lies in the fold's data rows [lo, hi].
    std::int64_t line = 0, stalls = 0, last_service = 0;
    for (std::int64_t fc = 0; fc < col_folds; ++fc) {
      for (std::int64_t fr = 0; fr < row_folds; ++fr) {
        const std::int64_t r_used = std::min(R, Sr - fr * R), c_used = std::min(C, Sc - fc * C);
        const std::int64_t lo = os ? T - 1 + (R - r_used) : 2 * R - 1;
        const std::int64_t hi = os ? T - 1 + R - 1 : 2 * R - 1 + T - 1;
        for (std::int64_t r = 0; r < fold_lines; ++r, ++line) {
          const std::int64_t c_lo = std::max<std::int64_t>(0, r - hi);
          const std::int64_t c_hi = std::min<std::int64_t>(c_used - 1, r - lo);
          const std::int64_t valid = c_hi >= c_lo ? c_hi - c_lo + 1 : 0;
          const std::int64_t cycle = line + stalls;
          last_service = buffer.serve(cycle, valid);
          stalls += last_service - cycle;
        }
      }
    }
    out.stall_cycles = stalls;
    out.compute_cycles = last_service;
  } else {
    out.stall_cycles = 0;
    out.compute_cycles = out.demand_lines - 1;
  }
  return out;
}

}  // namespace nce::sim
