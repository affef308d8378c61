// SCALE-Sim topology CSV export and import (docs/hardware.md §7): the one
// reader of topology files, for nce networks (read_topology_csv) and for SCALE-Sim's compatibility
// mode (sim/scalesim_compat.h reads the same rows).
//
// Conv-mode columns: Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
// Num Filter, Strides[, Stride width[, Quantized[, Pad]]] — one row per conv/FC, a header row
// first, a trailing comma on each row (SCALE-Sim writes one and drops the last cell of every row:
// nce reads rows with or without it). Columns SCALE-Sim reads: the first 9 (Stride width defaults
// to Strides). SCALE-Sim ignores any further integer columns; nce uses two:
//   Quantized  1 = the layer runs at the array's b bits, 0 = it stays full precision (bit-serial
//              passes in nce's cost model: the stem, the FC, 1x1 shortcuts); default 1;
//   Pad        the zero padding (per side) already included in IFMAP Height/Width; default 0.
// Inputs are given already padded: export writes h_in + 2*pad and the Pad column, import reads
// h_in = IFMAP - 2*Pad. An FC is written as a 1x1 conv on a 1x1 map. Pooling is not part of the
// format: a shortcut's 2x2 average pool is applied before export (its row carries the pooled map).
// A layer whose name contains "DP" is depthwise: it expands into one layer per channel
// ("<name>Channel_<i>", Channels = 1), as SCALE-Sim does.
// GEMM-mode files (SCALE-Sim's -i gemm): "Layer, M, N, K," rows; a layer is SCALE-Sim's
// [M x K ifmap, 1 x K filter, 1 channel, N filters, stride 1].
// Errors: an empty file, a header without rows, a first line that is a layer row (SCALE-Sim would
// silently skip it as the header), a short row, a value that is not an integer >= 1, a filter
// larger than its ifmap: std::invalid_argument naming the source, the line, the column, the value.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "nce/models/network.h"

namespace nce::models {

enum class TopologyFormat { kConv, kGemm };

// One row as SCALE-Sim reads it (DP rows already expanded, GEMM rows already mapped).
struct TopologyRow {
  std::string name;
  int line = 0;  // 1-based line in the source
  int ifmap_h = 0, ifmap_w = 0, filter_h = 0, filter_w = 0, channels = 0, num_filters = 0;
  int stride_h = 1, stride_w = 1;
  std::vector<int> extra;  // integer columns after the 9th (SCALE-Sim ignores them)
};

// GEMM when the header's second cell is "M" (case-insensitive), else conv.
TopologyFormat detect_topology_format(std::istream& in);
std::vector<TopologyRow> read_topology_rows(std::istream& in, const std::string& source_name,
                                            TopologyFormat format = TopologyFormat::kConv);

void write_topology_csv(const Network& net, std::ostream& out);
// Writes atomically (temp file + rename); throws std::runtime_error naming the path on failure.
void write_topology_csv(const Network& net, const std::string& path);

// Reads a conv-mode topology CSV into a Network of family kTopology (no widths, no blocks; every
// layer a conv, quantized unless its Quantized column says 0; model = the file's stem). Beyond
// read_topology_rows' errors, nce refuses non-square filters and strides.
Network read_topology_csv(std::istream& in, const std::string& source_name);
Network read_topology_csv(const std::string& path);

}  // namespace nce::models
