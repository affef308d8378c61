#include "nce/models/topology.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nce::models {

namespace {

const char* const kHeader =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,";

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) out.push_back(trim(cell));
  // A trailing comma leaves an empty last cell in some writers; getline drops it. Drop any
  // remaining empty tail cells too.
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
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
        << l.k << ", " << l.c_in << ", " << l.c_out << ", " << l.stride << ",\n";
  }
}

void write_topology_csv(const Network& net, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error("cannot write topology CSV '" + path + "'");
    write_topology_csv(net, out);
    if (!out.flush()) throw std::runtime_error("cannot write topology CSV '" + path + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot move '" + tmp + "' to '" + path + "'");
  }
}

Network read_topology_csv(std::istream& in, const std::string& source_name) {
  static const char* const kColumns[] = {"Layer name",    "IFMAP Height", "IFMAP Width",
                                         "Filter Height", "Filter Width", "Channels",
                                         "Num Filter",    "Strides"};
  Network net;
  net.model = file_stem(source_name);
  net.family = Family::kTopology;
  std::string line;
  int line_no = 0;
  bool header_seen = false;
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("topology CSV '" + source_name + "', line " +
                                std::to_string(line_no) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    std::vector<std::string> cells = split_csv(line);
    if (!header_seen) {
      header_seen = true;
      if (cells.empty() || cells[0] != kColumns[0]) {
        fail("expected the header row starting with 'Layer name', got '" + trim(line) + "'");
      }
      if (cells.size() < 8)
        fail("the header has " + std::to_string(cells.size()) +
             " columns; a topology needs 8 (Layer name ... Strides)");
      continue;
    }
    if (cells.size() < 8) {
      fail(
          "expected 8 columns (Layer name, IFMAP Height, IFMAP Width, Filter Height, "
          "Filter Width, Channels, Num Filter, Strides), got " +
          std::to_string(cells.size()));
    }
    int v[8] = {0};
    for (int c = 1; c < 8; ++c) {
      size_t used = 0;
      try {
        v[c] = std::stoi(cells[c], &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (cells[c].empty() || used != cells[c].size()) {
        fail(std::string("column '") + kColumns[c] + "' is '" + cells[c] + "', not an integer");
      }
      if (v[c] < 1) {
        fail(std::string("column '") + kColumns[c] + "' is " + cells[c] + "; it must be >= 1");
      }
    }
    if (cells[0].empty()) fail("empty layer name");
    if (v[3] != v[4]) {
      fail("filter " + cells[3] + "x" + cells[4] + " is not square; nce models square kernels");
    }
    if (v[3] > v[1] || v[4] > v[2]) {
      fail("filter " + cells[3] + "x" + cells[4] + " is larger than the IFMAP " + cells[1] + "x" +
           cells[2]);
    }
    Layer l;
    l.name = cells[0];
    l.kind = LayerKind::kConv;
    l.h_in = v[1];
    l.w_in = v[2];
    l.k = v[3];
    l.c_in = v[5];
    l.c_out = v[6];
    l.stride = v[7];
    l.pad = 0;
    l.h_out = (l.h_in - l.k) / l.stride + 1;
    l.w_out = (l.w_in - l.k) / l.stride + 1;
    l.quantized = true;
    // Bounds that keep every count of the layer (MACs, GEMM sizes) inside 64 bits.
    if (l.c_in > kMaxWidth || l.c_out > kMaxWidth) {
      fail("'" + l.name + "' has " + cells[5] + " channels and " + cells[6] +
           " filters; a layer may have at most " + std::to_string(kMaxWidth) + " of each");
    }
    if (l.h_in > kMaxMapSize || l.w_in > kMaxMapSize) {
      fail("IFMAP " + cells[1] + "x" + cells[2] + " of '" + l.name + "' is larger than " +
           std::to_string(kMaxMapSize) + " pixels a side");
    }
    const double macs = static_cast<double>(l.k) * l.k * l.c_in * l.c_out * l.h_out * l.w_out;
    if (macs > kMaxLayerMacs) {
      fail("'" + l.name + "' has " + std::to_string(macs) + " MACs, more than the " +
           std::to_string(kMaxLayerMacs) + " nce counts for one layer");
    }
    net.layers.push_back(l);
  }
  if (!header_seen) fail("the file is empty (no header row)");
  if (net.layers.empty()) fail("no layer rows after the header");
  return net;
}

Network read_topology_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot open topology CSV '" + path + "'");
  return read_topology_csv(in, path);
}

}  // namespace nce::models
