#include "nce/models/topology.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "nce/common/output_file.h"
#include "nce/common/text.h"

namespace nce::models {

namespace {

const char* const kHeader =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides, Stride width, Quantized, Pad,";

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out = common::split_list(line);
  // SCALE-Sim's rows end with a comma (it drops the last cell of every row); nce reads rows with
  // or without it: drop the empty tail cells only.
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

bool parse_int(const std::string& cell, int& v) {
  size_t used = 0;
  try {
    v = std::stoi(cell, &used);
  } catch (const std::exception&) {
    return false;
  }
  return !cell.empty() && used == cell.size();
}

std::string file_stem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

}  // namespace

void write_topology_csv(const Network& net, std::ostream& out) {
  out << kHeader << "\n";
  for (const auto& l : net.layers) {
    out << l.name << ", " << l.h_in + 2 * l.pad << ", " << l.w_in + 2 * l.pad << ", " << l.k << ", "
        << l.k << ", " << l.c_in << ", " << l.c_out << ", " << l.stride << ", " << l.stride << ", "
        << (l.quantized ? 1 : 0) << ", " << l.pad << ",\n";
  }
}

void write_topology_csv(const Network& net, const std::string& path) {
  std::ostringstream out;
  write_topology_csv(net, out);
  common::write_file_atomic(path, out.str());
}

TopologyFormat detect_topology_format(std::istream& in) {
  std::string line;
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = split_csv(line);
    if (cells.empty()) continue;
    const std::string second = cells.size() > 1 ? common::to_lower(cells[1]) : "";
    return second == "m" ? TopologyFormat::kGemm : TopologyFormat::kConv;
  }
  return TopologyFormat::kConv;
}

std::vector<TopologyRow> read_topology_rows(std::istream& in, const std::string& source_name,
                                            TopologyFormat format) {
  static const char* const kConvColumns[] = {"Layer name",    "IFMAP Height", "IFMAP Width",
                                             "Filter Height", "Filter Width", "Channels",
                                             "Num Filter",    "Strides",      "Stride width"};
  static const char* const kGemmColumns[] = {"Layer", "M", "N", "K"};
  const bool gemm = format == TopologyFormat::kGemm;
  const size_t min_cells = gemm ? 4 : 8;
  std::vector<TopologyRow> rows;
  std::string line;
  int line_no = 0;
  bool header_seen = false;
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("topology CSV '" + source_name + "' (" + source_name + ":" +
                                std::to_string(line_no) + "), line " + std::to_string(line_no) +
                                ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (common::trim(line).empty()) continue;
    const std::vector<std::string> cells = split_csv(line);
    if (!header_seen) {
      header_seen = true;
      int v = 0;
      if (cells.size() >= min_cells && parse_int(cells[1], v)) {
        fail("expected the header row, got the layer row '" + common::trim(line) +
             "' (SCALE-Sim would silently skip it as the header): add the header line");
      }
      continue;
    }
    if (cells.size() < min_cells) {
      fail(gemm ? "expected 4 columns (Layer, M, N, K), got " + std::to_string(cells.size())
                : "expected 8 columns (Layer name, IFMAP Height, IFMAP Width, Filter Height, "
                  "Filter Width, Channels, Num Filter, Strides), got " +
                      std::to_string(cells.size()));
    }
    if (cells[0].empty()) fail("empty layer name");
    std::vector<int> v(cells.size(), 0);
    const size_t named = gemm ? 4 : 9;
    for (size_t c = 1; c < cells.size(); ++c) {
      const std::string column = c < named ? std::string(gemm ? kGemmColumns[c] : kConvColumns[c])
                                           : "column " + std::to_string(c + 1);
      if (!parse_int(cells[c], v[c])) {
        fail("column '" + column + "' is '" + cells[c] + "', not an integer");
      }
      const int lo = c < named ? 1 : 0;  // extra columns (Quantized, Pad) may be 0
      if (v[c] < lo) {
        fail("column '" + column + "' is " + cells[c] + "; it must be >= " + std::to_string(lo));
      }
    }
    TopologyRow r;
    r.name = cells[0];
    r.line = line_no;
    if (gemm) {
      // SCALE-Sim's topology_utils.load_arrays_gemm: [name, M, K, 1, K, 1, N, 1, 1].
      r.ifmap_h = v[1];
      r.ifmap_w = v[3];
      r.filter_h = 1;
      r.filter_w = v[3];
      r.channels = 1;
      r.num_filters = v[2];
    } else {
      r.ifmap_h = v[1];
      r.ifmap_w = v[2];
      r.filter_h = v[3];
      r.filter_w = v[4];
      r.channels = v[5];
      r.num_filters = v[6];
      r.stride_h = v[7];
      r.stride_w = cells.size() >= 9 ? v[8] : v[7];
      r.extra.assign(v.begin() + std::min<size_t>(9, v.size()), v.end());
    }
    if (r.filter_h > r.ifmap_h || r.filter_w > r.ifmap_w) {
      fail("filter " + std::to_string(r.filter_h) + "x" + std::to_string(r.filter_w) +
           " is larger than the IFMAP " + std::to_string(r.ifmap_h) + "x" +
           std::to_string(r.ifmap_w));
    }
    // Bounds that keep every count of the layer (MACs, GEMM sizes) inside 64 bits.
    if (r.channels > kMaxWidth || r.num_filters > kMaxWidth) {
      fail("'" + r.name + "' has " + std::to_string(r.channels) + " channels and " +
           std::to_string(r.num_filters) + " filters; a layer may have at most " +
           std::to_string(kMaxWidth) + " of each");
    }
    if (r.ifmap_h > kMaxMapSize || r.ifmap_w > kMaxMapSize) {
      fail("IFMAP " + std::to_string(r.ifmap_h) + "x" + std::to_string(r.ifmap_w) + " of '" +
           r.name + "' is larger than " + std::to_string(kMaxMapSize) + " pixels a side");
    }
    const double layer_macs = static_cast<double>(r.filter_h) * r.filter_w * r.channels *
                              r.num_filters * ((r.ifmap_h - r.filter_h) / r.stride_h + 1) *
                              ((r.ifmap_w - r.filter_w) / r.stride_w + 1);
    if (layer_macs > kMaxLayerMacs) {
      fail("'" + r.name + "' has " + std::to_string(layer_macs) + " MACs, more than the " +
           std::to_string(kMaxLayerMacs) + " nce counts for one layer");
    }
    if (!gemm && r.name.find("DP") != std::string::npos) {
      // Depthwise, as SCALE-Sim reads it: one layer per channel, each on one channel.
      const int channels = r.channels;
      for (int ch = 0; ch < channels; ++ch) {
        TopologyRow d = r;
        d.name = r.name + "Channel_" + std::to_string(ch);
        d.channels = 1;
        rows.push_back(d);
      }
    } else {
      rows.push_back(r);
    }
  }
  if (!header_seen) fail("the file is empty (no header row)");
  if (rows.empty()) fail("no layer rows after the header");
  return rows;
}

Network read_topology_csv(std::istream& in, const std::string& source_name) {
  Network net;
  net.model = file_stem(source_name);
  net.family = Family::kTopology;
  for (const TopologyRow& r : read_topology_rows(in, source_name, TopologyFormat::kConv)) {
    auto fail = [&](const std::string& why) {
      throw std::invalid_argument("topology CSV '" + source_name + "' (" + source_name + ":" +
                                  std::to_string(r.line) + "), line " + std::to_string(r.line) +
                                  ": " + why);
    };
    if (r.filter_h != r.filter_w) {
      fail("filter " + std::to_string(r.filter_h) + "x" + std::to_string(r.filter_w) +
           " is not square; nce models square kernels");
    }
    if (r.stride_h != r.stride_w) {
      fail("stride " + std::to_string(r.stride_h) + "x" + std::to_string(r.stride_w) +
           " is not square; nce models one stride");
    }
    const int quantized = r.extra.size() >= 1 ? r.extra[0] : 1;
    const int pad = r.extra.size() >= 2 ? r.extra[1] : 0;
    if (quantized != 0 && quantized != 1) {
      fail("column 'Quantized' is " + std::to_string(quantized) + "; it must be 0 or 1");
    }
    if (2 * pad >= r.ifmap_h || 2 * pad >= r.ifmap_w) {
      fail("column 'Pad' is " + std::to_string(pad) + ": the padded IFMAP " +
           std::to_string(r.ifmap_h) + "x" + std::to_string(r.ifmap_w) + " is not larger");
    }
    Layer l;
    l.name = r.name;
    l.kind = LayerKind::kConv;
    l.h_in = r.ifmap_h - 2 * pad;
    l.w_in = r.ifmap_w - 2 * pad;
    l.k = r.filter_h;
    l.c_in = r.channels;
    l.c_out = r.num_filters;
    l.stride = r.stride_h;
    l.pad = pad;
    l.h_out = (r.ifmap_h - l.k) / l.stride + 1;
    l.w_out = (r.ifmap_w - l.k) / l.stride + 1;
    l.quantized = quantized == 1;
    net.layers.push_back(l);
  }
  return net;
}

Network read_topology_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot open topology CSV '" + path + "'");
  return read_topology_csv(in, path);
}

}  // namespace nce::models
