// Small helpers shared by the sim tests.
#pragma once

#include <string>

#include "nce/sim/conv_geometry.h"
#include "nce/sim/hw_config.h"

namespace nce::sim::testing {

// A valid config text for an R x C array; fields can be overridden afterwards.
inline HwConfig make_hw(int rows, int cols, const char* dataflow, int bits = 2, int acc_bits = 16,
                        double dram_bytes_per_cycle = 1e6, bool double_buffered = true,
                        double sram_kb = 1024) {
  std::string text = "[array]\nrows = " + std::to_string(rows) +
                     "\ncols = " + std::to_string(cols) + "\nbits = " + std::to_string(bits) +
                     "\nacc_bits = " + std::to_string(acc_bits) + "\ndataflow = " + dataflow +
                     "\n[memory]\nifmap_sram_kb = " + std::to_string(sram_kb) +
                     "\nfilter_sram_kb = " + std::to_string(sram_kb) +
                     "\nofmap_sram_kb = " + std::to_string(sram_kb) +
                     "\ndouble_buffered = " + (double_buffered ? "true" : "false") +
                     "\ndram_bytes_per_cycle = " + std::to_string(dram_bytes_per_cycle) +
                     "\n[clock]\nmhz = 100\n[energy]\nmac_pj = 0.06\nidle_pe_pj = 0.006\n"
                     "ifmap_sram_pj_per_bit = 0.3\nfilter_sram_pj_per_bit = 0.2\n"
                     "ofmap_sram_pj_per_bit = 0.5\ndram_pj_per_bit = 8\n";
  return parse_hw_config(text, "test.cfg");
}

// A conv of c_in -> c_out channels, a k x k kernel at `stride` with `pad` on an h x w map.
inline ConvGeometry conv(int c_in, int c_out, int k, int stride, int pad, int h, int w) {
  ConvGeometry g;
  g.c_in = c_in, g.c_out = c_out, g.k = k, g.stride = stride, g.pad = pad, g.h_in = h, g.w_in = w;
  g.h_out = (h + 2 * pad - k) / stride + 1;
  g.w_out = (w + 2 * pad - k) / stride + 1;
  return g;
}

}  // namespace nce::sim::testing
