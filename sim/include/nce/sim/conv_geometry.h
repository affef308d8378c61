// The geometry of one conv/FC layer as the array sees it: enough to lower it to a GEMM and to know
// which ifmap words an im2col tile touches (operand_reuse.h).
//
// GEMM (docs/hardware.md §2): K = k*k*c_in (reduction, im2col column kk = (c*k + ky)*k + kx),
// N = h_out*w_out (output pixels, row n = oy*w_out + ox), M = c_out. Input pixel of (n, kk):
// (c, oy*stride - pad + ky, ox*stride - pad + kx); positions outside the h_in x w_in map are
// zero padding (generated, never stored or fetched).
#pragma once

#include <cstdint>

#include "nce/models/network.h"

namespace nce::sim {

struct ConvGeometry {
  int c_in = 0, c_out = 0, k = 1, stride = 1, pad = 0;
  int h_in = 0, w_in = 0, h_out = 0, w_out = 0;
  std::int64_t K() const { return static_cast<std::int64_t>(k) * k * c_in; }
  std::int64_t N() const { return static_cast<std::int64_t>(h_out) * w_out; }
  std::int64_t M() const { return c_out; }
  bool empty() const { return c_in <= 0; }
  bool operator==(const ConvGeometry& o) const;
};

ConvGeometry geometry_of(const models::Layer& layer);

// A plain GEMM (K, N, M) as a conv: a 1x1 stride-1 conv with c_in = K on a 1 x N map and M
// filters, so every ifmap word is used by one im2col row only (no overlapping windows).
ConvGeometry gemm_geometry(std::int64_t K, std::int64_t N, std::int64_t M);

}  // namespace nce::sim
