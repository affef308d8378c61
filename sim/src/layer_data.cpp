#include "nce/sim/layer_data.h"

#include <random>
#include <stdexcept>

#include "nce/sim/layer_cost.h"

namespace nce::sim {

ConvLayerData random_layer_data(const ConvGeometry& geo, bool quantized, int bits,
                                std::uint64_t seed) {
  if (bits < 1 || bits > 16) throw std::invalid_argument("operand bits must be 1..16");
  ConvLayerData d;
  d.geo = geo;
  d.quantized = quantized;
  d.operand_bits = quantized ? bits : kFullPrecisionBits;
  std::mt19937_64 rng(seed);
  std::int32_t a_lo = 0, a_hi = 0, w_lo = 0, w_hi = 0;
  if (quantized) {
    a_hi = (1 << bits) - 1;
    w_lo = -(1 << (bits - 1));
    w_hi = (1 << (bits - 1)) - 1;
  } else {
    a_lo = w_lo = -128;
    a_hi = w_hi = 127;
  }
  std::uniform_int_distribution<std::int32_t> act(a_lo, a_hi), wgt(w_lo, w_hi);
  d.input.resize(static_cast<std::size_t>(geo.c_in) * geo.h_in * geo.w_in);
  for (auto& v : d.input) v = act(rng);
  d.weights.resize(static_cast<std::size_t>(geo.c_out) * geo.c_in * geo.k * geo.k);
  for (auto& v : d.weights) v = wgt(rng);
  return d;
}

std::vector<std::int32_t> im2col(const ConvLayerData& d) {
  const auto& g = d.geo;
  const std::int64_t K = g.K(), N = g.N();
  std::vector<std::int32_t> a(static_cast<std::size_t>(N * K), 0);
  for (int oy = 0; oy < g.h_out; ++oy) {
    for (int ox = 0; ox < g.w_out; ++ox) {
      std::int32_t* row = &a[static_cast<std::size_t>((oy * g.w_out + ox) * K)];
      for (int c = 0; c < g.c_in; ++c) {
        for (int ky = 0; ky < g.k; ++ky) {
          const int iy = oy * g.stride - g.pad + ky;
          for (int kx = 0; kx < g.k; ++kx) {
            const int ix = ox * g.stride - g.pad + kx;
            if (iy < 0 || iy >= g.h_in || ix < 0 || ix >= g.w_in) continue;
            row[(c * g.k + ky) * g.k + kx] =
                d.input[(static_cast<std::size_t>(c) * g.h_in + iy) * g.w_in + ix];
          }
        }
      }
    }
  }
  return a;
}

std::vector<std::int32_t> lower_weights(const ConvLayerData& d) {
  const auto& g = d.geo;
  const std::int64_t K = g.K(), M = g.M();
  std::vector<std::int32_t> w(static_cast<std::size_t>(K * M));
  for (std::int64_t m = 0; m < M; ++m) {
    for (std::int64_t k = 0; k < K; ++k) {
      w[static_cast<std::size_t>(k * M + m)] = d.weights[static_cast<std::size_t>(m * K + k)];
    }
  }
  return w;
}

std::int64_t wrap_to_bits(std::int64_t v, int bits) {
  if (bits >= 64) return v;
  const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
  std::uint64_t u = static_cast<std::uint64_t>(v) & mask;
  if (u & (std::uint64_t{1} << (bits - 1))) u |= ~mask;
  return static_cast<std::int64_t>(u);
}

std::vector<std::int64_t> reference_conv(const ConvGeometry& g,
                                         const std::vector<std::int32_t>& input,
                                         const std::vector<std::int32_t>& weights, int acc_bits) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(g.c_out) * g.h_out * g.w_out, 0);
  for (int m = 0; m < g.c_out; ++m) {
    for (int oy = 0; oy < g.h_out; ++oy) {
      for (int ox = 0; ox < g.w_out; ++ox) {
        std::int64_t acc = 0;
        for (int c = 0; c < g.c_in; ++c) {
          for (int ky = 0; ky < g.k; ++ky) {
            const int iy = oy * g.stride - g.pad + ky;
            if (iy < 0 || iy >= g.h_in) continue;
            for (int kx = 0; kx < g.k; ++kx) {
              const int ix = ox * g.stride - g.pad + kx;
              if (ix < 0 || ix >= g.w_in) continue;
              acc += static_cast<std::int64_t>(
                         input[(static_cast<std::size_t>(c) * g.h_in + iy) * g.w_in + ix]) *
                     weights[((static_cast<std::size_t>(m) * g.c_in + c) * g.k + ky) * g.k + kx];
            }
          }
        }
        out[(static_cast<std::size_t>(m) * g.h_out + oy) * g.w_out + ox] =
            wrap_to_bits(acc, acc_bits);
      }
    }
  }
  return out;
}

std::vector<std::int32_t> slice_operand(const std::vector<std::int32_t>& values, int bits,
                                        int index) {
  const int slices = full_precision_slices(bits);
  if (slices == 1) return values;
  std::vector<std::int32_t> out(values.size());
  const std::int32_t mask = (1 << bits) - 1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int32_t shifted = values[i] >> (bits * index);  // arithmetic shift
    out[i] = index == slices - 1 ? shifted : (shifted & mask);
  }
  return out;
}

std::vector<std::int64_t> reference_layer_output(const ConvLayerData& d, int bits, int acc_bits) {
  if (d.quantized) return reference_conv(d.geo, d.input, d.weights, acc_bits);
  const int slices = full_precision_slices(bits);
  std::vector<std::int64_t> out(static_cast<std::size_t>(d.geo.c_out) * d.geo.h_out * d.geo.w_out,
                                0);
  for (int i = 0; i < slices; ++i) {
    const auto a = slice_operand(d.input, bits, i);
    for (int j = 0; j < slices; ++j) {
      const auto w = slice_operand(d.weights, bits, j);
      const auto pass = reference_conv(d.geo, a, w, acc_bits);
      const int shift = bits * (i + j);
      for (std::size_t n = 0; n < out.size(); ++n) {
        out[n] += static_cast<std::int64_t>(static_cast<std::uint64_t>(pass[n]) << shift);
      }
    }
  }
  return out;
}

}  // namespace nce::sim
