// Real operands for one conv/FC layer, their lowering to the GEMM the array runs, and the plain
// integer reference the cycle-accurate model is checked against.
//
// Layouts (row-major, int32 values):
//   input   C_in x H_in x W_in   (CHW, one image)
//   weights C_out x C_in x k x k (OIHW)
//   A = im2col(input): N x K, row n = output pixel oy*W_out + ox, column k = (c*k + ky)*k + kx,
//       zero padding outside the map
//   W = lower_weights(weights): K x M
//   output: C_out x H_out x W_out (= M x N), int64, wrapped to acc_bits (two's complement)
// Value ranges: quantized layers: activations unsigned b-bit [0, 2^b - 1], weights signed b-bit
// [-2^(b-1), 2^(b-1) - 1]; full-precision layers: both signed 8-bit [-128, 127].
#pragma once

#include <cstdint>
#include <vector>

#include "nce/models/network.h"
#include "nce/sim/conv_geometry.h"

namespace nce::sim {

struct ConvLayerData {
  ConvGeometry geo;
  bool quantized = true;
  int operand_bits = 2;  // b for quantized layers, 8 for full-precision layers
  std::vector<std::int32_t> input;
  std::vector<std::int32_t> weights;
};

// Uniform random operands in the ranges above (deterministic for a seed).
ConvLayerData random_layer_data(const ConvGeometry& geo, bool quantized, int bits,
                                std::uint64_t seed);

std::vector<std::int32_t> im2col(const ConvLayerData& data);
std::vector<std::int32_t> lower_weights(const ConvLayerData& data);

// Two's complement wrap of v to `bits` bits (1..64), sign-extended back to int64.
std::int64_t wrap_to_bits(std::int64_t v, int bits);

// Direct convolution (no lowering), accumulated in int64, wrapped to acc_bits.
std::vector<std::int64_t> reference_conv(const ConvGeometry& geo,
                                         const std::vector<std::int32_t>& input,
                                         const std::vector<std::int32_t>& weights, int acc_bits);

// Bit-serial slice `index` of 8-bit two's complement values on a b-bit array (see layer_cost.h):
// low slices unsigned (v >> b*index) & (2^b - 1), the top slice signed v >> b*(slices-1).
std::vector<std::int32_t> slice_operand(const std::vector<std::int32_t>& values, int bits,
                                        int index);

// The output a layer must produce on a b-bit array with acc_bits accumulators: quantized layers
// reference_conv; full-precision layers sum over slice pairs (i, j) of
// reference_conv(slice_i(input), slice_j(weights)) << b*(i+j) (each pass wrapped to acc_bits,
// the combination in int64). With enough acc_bits this equals the exact 8-bit convolution.
std::vector<std::int64_t> reference_layer_output(const ConvLayerData& data, int bits, int acc_bits);

}  // namespace nce::sim
