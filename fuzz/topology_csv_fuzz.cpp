// libFuzzer target: the SCALE-Sim topology CSV reader (models/topology.h). Invariants checked on
// every input:
//   * bad input is std::invalid_argument (never another exception, a crash or UB);
//   * every layer of an accepted file has positive shapes and counts that fit 64 bits
//     (MACs, PARAMs, GEMM K x N x M), and the file written back reads back to the same layers.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "nce/models/topology.h"

namespace {

bool same_layers(const nce::models::Network& a, const nce::models::Network& b) {
  if (a.layers.size() != b.layers.size()) return false;
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const auto& x = a.layers[i];
    const auto& y = b.layers[i];
    if (x.c_in != y.c_in || x.c_out != y.c_out || x.k != y.k || x.stride != y.stride ||
        x.h_in != y.h_in || x.w_in != y.w_in || x.h_out != y.h_out || x.w_out != y.w_out) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  nce::models::Network net;
  try {
    net = nce::models::read_topology_csv(in, "fuzz.csv");
  } catch (const std::invalid_argument&) {
    return 0;
  }
  for (const auto& l : net.layers) {
    if (l.h_out < 1 || l.w_out < 1 || l.c_in < 1 || l.c_out < 1) __builtin_trap();
    if (l.macs() <= 0 || l.params() <= 0) __builtin_trap();
    const auto g = l.gemm();
    if (g.K <= 0 || g.N <= 0 || g.M <= 0) __builtin_trap();
  }
  if (net.macs() <= 0) __builtin_trap();
  std::ostringstream out;
  nce::models::write_topology_csv(net, out);
  std::istringstream back(out.str());
  if (!same_layers(net, nce::models::read_topology_csv(back, "back.csv"))) __builtin_trap();
  return 0;
}
