// SCALE-Sim v2's three report files (COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT),
// written byte for byte from ScaleSimLayerReport rows, floats as Python's repr.
#include "nce/sim/scalesim_compat.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

namespace nce::sim {

double ScaleSimLayerReport::avg_sram_bw(int operand) const {
  return static_cast<double>(sram[operand].accesses) / static_cast<double>(compute_cycles);
}
double ScaleSimLayerReport::avg_dram_bw(int operand) const {
  const auto& d = dram[operand];
  return static_cast<double>(d.accesses) / static_cast<double>(d.stop_cycle - d.start_cycle + 1);
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string s(buf, res.ptr);  // "-d.ddde+XX"
  const auto e_pos = s.find('e');
  const int exp10 = std::stoi(s.substr(e_pos + 1));
  std::string mant = s.substr(0, e_pos);
  const bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char ch : mant)
    if (ch != '.') digits += ch;
  std::string out = neg ? "-" : "";
  if (exp10 >= -4 && exp10 < 16) {
    // Python's repr: fixed notation when the exponent lies in [-4, 16).
    const int point = exp10 + 1;  // digits before the decimal point
    if (point <= 0) {
      out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= point) {
      out += digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(point)) + "." +
             digits.substr(static_cast<std::size_t>(point));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char e[16];
  std::snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out + e;
}

namespace {

std::string cycle_repr(std::int64_t c) {
  return python_float_repr(static_cast<double>(c));
}

// One report: its header line, then a row per layer: the LayerID (from 0), the cells `write_cells`
// puts out (each led by ", "), a trailing comma.
template <typename WriteCells>
void write_report(const std::vector<ScaleSimLayerReport>& layers, std::ostream& out,
                  const char* header, WriteCells&& write_cells) {
  out << header;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    out << i;
    write_cells(layers[i]);
    out << ",\n";
  }
}

}  // namespace

void write_scalesim_compute_report(const std::vector<ScaleSimLayerReport>& layers,
                                   std::ostream& out) {
  write_report(layers, out,
               "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, "
               "Compute Util %,\n",
               [&](const ScaleSimLayerReport& r) {
                 out << ", " << r.compute_cycles << ", " << r.stall_cycles << ", "
                     << python_float_repr(r.overall_util) << ", "
                     << python_float_repr(r.mapping_efficiency) << ", "
                     << python_float_repr(r.compute_util);
               });
}

void write_scalesim_bandwidth_report(const std::vector<ScaleSimLayerReport>& layers,
                                     std::ostream& out) {
  write_report(layers, out,
               "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM "
               "BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,\n",
               [&](const ScaleSimLayerReport& r) {
                 for (int op = 0; op < 3; ++op) out << ", " << python_float_repr(r.avg_sram_bw(op));
                 for (int op = 0; op < 3; ++op) out << ", " << python_float_repr(r.avg_dram_bw(op));
               });
}

void write_scalesim_detailed_access_report(const std::vector<ScaleSimLayerReport>& layers,
                                           std::ostream& out) {
  write_report(
      layers, out,
      "LayerID, SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, SRAM Filter "
      "Start Cycle, SRAM Filter Stop Cycle, SRAM Filter Reads, SRAM OFMAP Start Cycle, SRAM "
      "OFMAP Stop Cycle, SRAM OFMAP Writes, DRAM IFMAP Start Cycle, DRAM IFMAP Stop Cycle, DRAM "
      "IFMAP Reads, DRAM Filter Start Cycle, DRAM Filter Stop Cycle, DRAM Filter Reads, DRAM "
      "OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,\n",
      [&](const ScaleSimLayerReport& r) {
        for (const auto* s :
             {&r.sram[0], &r.sram[1], &r.sram[2], &r.dram[0], &r.dram[1], &r.dram[2]}) {
          out << ", " << cycle_repr(s->start_cycle) << ", " << cycle_repr(s->stop_cycle) << ", "
              << s->accesses;
        }
      });
}

}  // namespace nce::sim
