#include "nce/sim/conv_geometry.h"

#include <stdexcept>
#include <string>
#include <tuple>

namespace nce::sim {

bool ConvGeometry::operator==(const ConvGeometry& o) const {
  return std::tie(c_in, c_out, k, stride, pad, h_in, w_in, h_out, w_out) ==
         std::tie(o.c_in, o.c_out, o.k, o.stride, o.pad, o.h_in, o.w_in, o.h_out, o.w_out);
}

ConvGeometry geometry_of(const models::Layer& layer) {
  return {layer.c_in, layer.c_out, layer.k,     layer.stride, layer.pad,
          layer.h_in, layer.w_in,  layer.h_out, layer.w_out};
}

ConvGeometry gemm_geometry(std::int64_t K, std::int64_t N, std::int64_t M) {
  constexpr std::int64_t kMax = 1LL << 30;
  if (K <= 0 || N <= 0 || M <= 0 || K > kMax || N > kMax || M > kMax) {
    throw std::invalid_argument("GEMM shape K=" + std::to_string(K) + " N=" + std::to_string(N) +
                                " M=" + std::to_string(M) + " must be positive (and < 2^30)");
  }
  ConvGeometry g;
  g.c_in = static_cast<int>(K);
  g.c_out = static_cast<int>(M);
  g.h_in = g.h_out = 1;
  g.w_in = g.w_out = static_cast<int>(N);
  return g;
}

}  // namespace nce::sim
