// SCALE-Sim v2 compatibility: read SCALE-Sim's own .cfg and topology CSV and report, layer by
// layer, every figure SCALE-Sim v2 writes for them with `InterfaceBandwidth: CALC` or `USER`: its
// COMPUTE_REPORT.csv (total and stall cycles, overall util, mapping efficiency, compute util),
// BANDWIDTH_REPORT.csv (average SRAM and DRAM words/cycle per operand) and
// DETAILED_ACCESS_REPORT.csv (start/stop cycles and access counts of every SRAM and DRAM stream).
// Conventions learnt by reading scalesim-project/scale-sim-v2 (scalesim/compute/
// systolic_compute_{os,ws,is}.py, compute/operand_matrix.py,
// memory/double_buffered_scratchpad_mem.py, memory/read_buffer_estimate_bw.py,
// memory/write_buffer.py, topology_utils.py, scale_config.py) and proven against its reports
// (tests/data/sim/scalesim/, bench/scalesim_oracle.sh); no code taken.
//
// The model, per layer (see sim/README.md, "SCALE-Sim v2 compatibility", for the derivation):
//  * GEMM: K = Fh*Fw*C, N = Ho*Wo with Ho = ceil((H - Fh + s) / s) (inputs given padded),
//    M = filters; OS: Sr = N, Sc = M, T = K; WS: Sr = K, Sc = M, T = N; IS: Sr = K, Sc = N, T = M.
//    Folds ceil(Sr/R) x ceil(Sc/C), column fold outer, row fold inner; a fold is a block of
//    demand lines (one per cycle): OS T + R + C - 2, WS/IS 2R + C + T - 2.
//  * Cycles: reads never stall in CALC mode; the ofmap write buffer (ofmap SRAM words, half
//    active, drained ArrayWidth words a cycle) stalls the array when it must drain while full. Its
//    bookkeeping is replayed on the count of ofmap words per demand line (bulk, not per word).
//    Total cycles = the service cycle of the last line = lines - 1 + stalls.
//  * DRAM reads: SCALE-Sim's CALC read buffer groups the new addresses into sets of
//    floor(SRAM words / 100); an address is a hit if it was inserted since the last time 50 sets
//    filled ("epoch"). With fewer distinct addresses than one epoch (the common case) the reads
//    are the distinct addresses (closed form); otherwise the address stream is walked in
//    SCALE-Sim's demand order.
//  * USER: the read buffers stall too (read_buffer.py: sets of the prefetch matrix, a miss rotates
//    the active window and costs a prefetch at the given bandwidth); every line is served by the
//    three buffers at one issue cycle, the array stalls for the longest. See sim/README.md.
//  * Floats are computed in SCALE-Sim's order of operations (per-fold sums left to right, as
//    Python <= 3.11's sum() does) and printed as Python's repr.
//
// Topology files are read by nce's one topology reader (models/topology.h, read_topology_rows):
// SCALE-Sim's conv rows (the 9th column, Stride width, honoured; further columns ignored as
// SCALE-Sim ignores them), "DP" layers expanded per channel and GEMM-mode rows mapped as SCALE-Sim
// does.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "nce/sim/hw_config.h"

namespace nce::sim {

// Limits of a SCALE-Sim config nce accepts (those of its own hw configs): an array of at most
// 4096 x 4096 PEs, SRAMs of at most 1 GiB each, a USER bandwidth of at most 2^20 words a cycle.
// Within them, and within the topology reader's layer limits, a product of the layer's and the
// array's counts that still overflows int64 is an error naming the config, the layer and the
// product (scalesim_layer_report), never a wrapped number.
inline constexpr int kMaxScaleSimArray = 4096;
inline constexpr int kMaxScaleSimSramKb = 1024 * 1024;
inline constexpr int kMaxScaleSimBandwidth = 1 << 20;

struct ScaleSimConfig {
  std::string source;  // the file (or name) it was read from, for errors
  std::string run_name;
  int array_rows = 0;  // ArrayHeight
  int array_cols = 0;  // ArrayWidth
  int ifmap_sram_kb = 0;
  int filter_sram_kb = 0;
  int ofmap_sram_kb = 0;
  Dataflow dataflow = Dataflow::kWS;
  bool calc_bandwidth = true;  // InterfaceBandwidth: CALC; false: USER
  // USER: Bandwidth (words/cycle, comma-separated; SCALE-Sim uses the first for every operand).
  std::vector<int> bandwidths;
  int user_bandwidth() const { return bandwidths.empty() ? 0 : bandwidths.front(); }
};

// Throws std::invalid_argument naming the file, the key and the value: a missing key (run_name,
// ArrayHeight, ArrayWidth, IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB, Dataflow,
// InterfaceBandwidth), a value that is not a positive integer (zero included) or is above its
// limit (kMaxScaleSimArray, kMaxScaleSimSramKb, kMaxScaleSimBandwidth), an unknown dataflow,
// InterfaceBandwidth other than CALC or USER, USER without a Bandwidth of positive integers. Keys
// are case-insensitive (Python's configparser); the
// offsets, Bandwidth and MemoryBanks are read by SCALE-Sim but change no reported figure here.
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

enum class ScaleSimTopologyKind { kConv, kGemm };

// Throws std::invalid_argument naming the source, the line and the value (read_topology_rows'
// errors: an empty file, a header without rows, a first line that is a layer row - SCALE-Sim
// would silently skip it -, a short row, a value that is not a positive integer, a filter larger
// than its ifmap).
std::vector<ScaleSimLayer> read_scalesim_topology(
    std::istream& in, const std::string& source,
    ScaleSimTopologyKind kind = ScaleSimTopologyKind::kConv);
std::vector<ScaleSimLayer> load_scalesim_topology(
    const std::string& path, ScaleSimTopologyKind kind = ScaleSimTopologyKind::kConv);

// GEMM when the header's second column is "M" (SCALE-Sim's "Layer, M, N, K,"), else conv.
ScaleSimTopologyKind detect_scalesim_topology_kind(const std::string& path);

// Every figure of one layer's rows in SCALE-Sim's three reports. Cycles are SCALE-Sim's cycle
// numbers (the DRAM prefetch of the first fold starts before cycle 0: negative start cycles).
struct ScaleSimLayerReport {
  std::string name;
  std::int64_t folds = 0;
  std::int64_t demand_lines = 0;  // sum over folds of the per-fold line count

  // COMPUTE_REPORT.csv
  std::int64_t compute_cycles = 0;  // "Total Cycles": demand_lines - 1 + stall_cycles
  std::int64_t stall_cycles = 0;    // ofmap write-buffer drain stalls
  double overall_util = 0;          // percent: MACs * 100 / (compute_cycles * R * C)
  double mapping_efficiency = 0;    // percent, mean over folds of used PEs / R*C
  double compute_util = 0;          // percent, mean over folds of MACs / (R*C * fold cycles)

  // DETAILED_ACCESS_REPORT.csv (operands in the order ifmap, filter, ofmap)
  struct Stream {
    std::int64_t start_cycle = 0, stop_cycle = 0;
    std::int64_t accesses = 0;  // SRAM: reads (ofmap: writes); DRAM: words read (ofmap: written)
  };
  Stream sram[3];
  Stream dram[3];

  // BANDWIDTH_REPORT.csv: SRAM accesses / compute_cycles; DRAM accesses / (stop - start + 1).
  double avg_sram_bw(int operand) const;
  double avg_dram_bw(int operand) const;
};

// Throws std::invalid_argument where SCALE-Sim v2 itself fails on the input (an ofmap SRAM that
// drains an empty buffer, a read buffer whose epochs fill twice in one cycle).
// with_dram_reads = false leaves dram[0] and dram[1] (ifmap and filter DRAM reads, the only
// figures that may need the address stream walked) at zero: in CALC mode reads never stall, so
// COMPUTE_REPORT and the SRAM figures do not depend on them.
ScaleSimLayerReport scalesim_layer_report(const ScaleSimConfig& cfg, const ScaleSimLayer& layer,
                                          bool with_dram_reads = true);

// Kept for callers of the cycle-only interface: the same figures.
using ScaleSimLayerCycles = ScaleSimLayerReport;
inline ScaleSimLayerReport scalesim_layer_cycles(const ScaleSimConfig& cfg,
                                                 const ScaleSimLayer& layer) {
  return scalesim_layer_report(cfg, layer);
}

// Python's repr() of a double ("38.675022381378696", "45.0", "1e-05"), as SCALE-Sim's reports
// print floats.
std::string python_float_repr(double v);

// SCALE-Sim's three report files, byte for byte (header line + one row per layer, LayerID from 0,
// ", " separators, trailing comma).
void write_scalesim_compute_report(const std::vector<ScaleSimLayerReport>& layers,
                                   std::ostream& out);
void write_scalesim_bandwidth_report(const std::vector<ScaleSimLayerReport>& layers,
                                     std::ostream& out);
void write_scalesim_detailed_access_report(const std::vector<ScaleSimLayerReport>& layers,
                                           std::ostream& out);

}  // namespace nce::sim
