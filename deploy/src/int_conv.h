// Internal to nce_deploy: one conv op of the integer engine (int_engine.h) prepared for the
// kernels, and its GEMM + requantization over a range of output pixels (int_conv.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "nce/deploy/int_kernels.h"
#include "nce/deploy/int_model.h"

namespace nce::deploy::detail {

inline constexpr int kChunk = 64;  // output pixels per im2col + GEMM + requantization step

// A conv op prepared for the kernels.
struct PreparedConv {
  const ConvOp* op = nullptr;
  PackedWeights weights;
  int K = 0;
  int src_max = 0;          // the largest value of the im2col operand
  bool direct = false;      // 1x1, stride 1, no pad, c_in % 4 == 0: the map is the operand
  int cp = 0;               // channel stride of the implicit operand
  bool implicit = false;    // k > 1, k * c_in % 4 == 0: reads the zero-padded map in place
  bool preprocess = false;  // in_pool or input_shift: build a byte map first
  std::vector<std::int64_t> shift64;  // the requantization, padded to Mp, shifts widened
  std::vector<std::int32_t> mult;
  std::vector<std::int64_t> off;
  std::vector<std::int64_t> bias_t;  // acc_bias as plane x Mp (contiguous per pixel)
  // Codes of at most 4 bits without accumulator offsets: the requantization as thresholds, the
  // same function of the accumulator (derived from it by bisection): code = number of j with
  // sign[m] * acc >= threshold[j][m].
  bool thresholds = false;
  int levels = 0;
  std::vector<std::int32_t> sign, threshold;  // M; levels x Mp
};

// Per-thread scratch of conv_range.
struct Scratch {
  std::vector<std::uint8_t> a;
  std::vector<std::int32_t> c, q;
};

// Packs the weights and derives the requantization (thresholds where they apply). in_max: the
// largest value of the op's input.
PreparedConv prepare(const ConvOp& op, int in_max);

// in: H x W x C bytes -> out: the pooled / shifted byte map the conv reads (h_in x w_in x c_in).
void preprocess_input(const ConvOp& op, const std::uint8_t* in, int h, int w, std::uint8_t* out);

// GEMM + requantization of output pixels [p0, p1) of one image. src: the byte map (for the
// implicit path: the zero-padded map, (h_in + 2 pad) x (w_in + 2 pad) x c_in); out: the output
// value (bytes or int32, H_out x W_out x C_out, before any out_pool).
template <typename Out>
void conv_range(const PreparedConv& pc, const std::uint8_t* src, int p0, int p1, KernelKind kernel,
                Scratch& s, Out* out);

// The zero-padded copy of a channels-last map (the implicit GEMM's operand).
void pad_map(const std::uint8_t* in, int h, int w, int C, int cp, int pad,
             std::vector<std::uint8_t>& out);

}  // namespace nce::deploy::detail
