// SCALE-Sim v2 compatibility: read SCALE-Sim's own .cfg and topology CSV and report the compute
// cycles SCALE-Sim v2 reports for them with `InterfaceBandwidth: CALC` (its COMPUTE_REPORT.csv
// "Total Cycles" / the "Compute cycles" it prints), per layer. Conventions learnt from
// scalesim-project/scale-sim-v2 (scalesim/compute/systolic_compute_{os,ws,is}.py,
// memory/double_buffered_scratchpad_mem.py, memory/write_buffer.py, topology_utils.py,
// scale_config.py); no code taken from it.
//
// Per layer: ofmap Ho = ceil((H - Fh + s) / s) (inputs are already padded), Sr/Sc/T by dataflow as
// in fold_plan.h (OS: Ho*Wo, M, K; WS: K, M, Ho*Wo; IS: K, Ho*Wo, M) with K = Fh*Fw*C, folds
// ceil(Sr/R)*ceil(Sc/C) each contributing a block of "demand lines" (one per cycle):
//   OS: T + R + C - 2 lines;   WS and IS: 2R + C + T - 2 lines.
// SCALE-Sim walks the lines one per cycle; in CALC mode reads never stall, but the ofmap write
// buffer (ofmapsramszkB * 1024 one-byte words, half active, drained ArrayWidth words per cycle) can
// stall when a drain is due. The reported cycles are the cycle of the last line:
//   lines - 1 + ofmap drain stalls.
// The drain stalls are reproduced exactly by replaying the write buffer's bookkeeping on the count
// of valid ofmap words in each demand line (no addresses needed). With a big ofmap SRAM there are
// none and the cycles are lines - 1.
//
// Topology rows: "name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
// Num Filter, Strides[, Stride width]," (header line skipped, blank lines skipped, the trailing
// comma optional here). Like SCALE-Sim, a layer whose name contains "DP" is depthwise: it expands
// into one layer per channel, each with Channels = 1.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "nce/sim/hw_config.h"

namespace nce::sim {

struct ScaleSimConfig {
  std::string run_name;
  int array_rows = 0;  // ArrayHeight
  int array_cols = 0;  // ArrayWidth
  int ifmap_sram_kb = 0;
  int filter_sram_kb = 0;
  int ofmap_sram_kb = 0;
  Dataflow dataflow = Dataflow::kWS;
  bool calc_bandwidth = true;  // InterfaceBandwidth: CALC (USER is rejected by the compat mode)
};

// Throws std::invalid_argument naming the file, the key and the value (missing keys, bad numbers,
// an unknown dataflow, InterfaceBandwidth other than CALC).
ScaleSimConfig load_scalesim_config(const std::string& path);
ScaleSimConfig parse_scalesim_config(const std::string& text, const std::string& source_name);

struct ScaleSimLayer {
  std::string name;
  int ifmap_h = 0, ifmap_w = 0;
  int filter_h = 0, filter_w = 0;
  int channels = 0;
  int num_filters = 0;
  int stride_h = 1, stride_w = 1;

  int ofmap_h() const;
  int ofmap_w() const;
  std::int64_t window() const { return static_cast<std::int64_t>(filter_h) * filter_w * channels; }
  std::int64_t ofmap_pixels() const { return static_cast<std::int64_t>(ofmap_h()) * ofmap_w(); }
};

// Throws std::invalid_argument naming the source, the line and the value.
std::vector<ScaleSimLayer> read_scalesim_topology(std::istream& in, const std::string& source);
std::vector<ScaleSimLayer> load_scalesim_topology(const std::string& path);

struct ScaleSimLayerCycles {
  std::string name;
  std::int64_t demand_lines = 0;    // sum over folds of the per-fold line count
  std::int64_t stall_cycles = 0;    // ofmap write-buffer drain stalls
  std::int64_t compute_cycles = 0;  // what SCALE-Sim reports: demand_lines - 1 + stall_cycles
  std::int64_t folds = 0;
  double mapping_efficiency = 0;  // percent, as SCALE-Sim reports it
};

ScaleSimLayerCycles scalesim_layer_cycles(const ScaleSimConfig& cfg, const ScaleSimLayer& layer);

}  // namespace nce::sim
