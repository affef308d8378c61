// SCALE-Sim topology CSV export and import (HW-SPEC.md, "Compatibility with SCALE-Sim v2").
//
// Columns: Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
// Num Filter, Strides — one row per conv/FC, a header row first, an optional trailing comma on each
// row (SCALE-Sim writes one). Inputs are given already padded: export writes h_in + 2*pad; import
// sets pad = 0 and h_out = (IFMAP - Filter) / Stride + 1. An FC is written as a 1x1 conv on a
// 1x1 map. Pooling is not part of the format: a shortcut's 2x2 average pool is applied before
// export (its row carries the pooled map).
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "nce/models/network.h"

namespace nce::models {

void write_topology_csv(const Network& net, std::ostream& out);
// Writes atomically (temp file + rename); throws std::runtime_error naming the path on failure.
void write_topology_csv(const Network& net, const std::string& path);

// Reads a topology CSV into a Network of family kTopology (no widths, no blocks; every layer a
// quantized conv; model = the file's stem). Throws std::invalid_argument naming the source,
// the line, the column and the value for a malformed row.
Network read_topology_csv(std::istream& in, const std::string& source_name);
Network read_topology_csv(const std::string& path);

}  // namespace nce::models
