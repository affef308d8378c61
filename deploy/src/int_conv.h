// Internal to nce_deploy: one conv op of the integer engine (int_engine.h) prepared for the
// kernels, and its GEMM + requantization over a range of output pixels (int_conv.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "nce/deploy/int_kernels.h"
#include "nce/deploy/int_model.h"

namespace nce::deploy::detail {

inline constexpr int kChunk = 64;  // output pixels per im2col + GEMM + requantization step

// A fused PACT add (FusedAdd) whose other input is codes 0..xs-1, as thresholds on the conv's
// accumulator (xs, levels <= 4; prepare_fused_thresholds): the add's code at channel m, other input
// x, is the number of j < levels with sign[m] * acc >= th[(x * levels + j) * Mp + m], the same
// function of acc and x as requantization, mapping, sum and PACT (each step is monotone in acc).
struct FusedThresholds {
  int xs = 0, levels = 0;  // xs == 0: none
  std::vector<std::int32_t> sign, th;
};

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
  FusedThresholds add_thresholds;  // of the residual add fused into this conv, if any
};

// Per-thread scratch of conv_range.
struct Scratch {
  std::vector<std::uint8_t> a;
  std::vector<std::int32_t> c, q;
};

// A residual add fused into the epilogue of the conv that produces one of its inputs (the conv's
// int32 output is then never stored): each requantized output v, as the conv would store it, and
// the add's other input x at the same place give
//   sum = ((v * mv + ov) >> sv) + ((x * mx + ox) >> sx)
// then PACT codes clamp((sum + half) >> frac_bits, 0, max_code) or ReLU min(max(sum, 0),
// INT32_MAX): the add op's own arithmetic (int_model.h), one pass over the map instead of two.
struct FusedAdd {
  std::int64_t mv = 1, ov = 0, mx = 1, ox = 0;
  int sv = 0, sx = 0;
  const std::uint8_t* x_codes = nullptr;  // the other input: codes (else x_fixed, int32)
  const std::int32_t* x_fixed = nullptr;
  bool pact = true;
  std::int64_t half = 0, max_code = 0;
  int frac_bits = 0;
  std::uint8_t* codes = nullptr;  // the add's output: codes (pact) or int32
  std::int32_t* fixed = nullptr;
  const FusedThresholds* thresholds = nullptr;  // the add as thresholds (AVX-512 only), or null
};

// Derives pc.add_thresholds for the fused add f (its pointers unused) whose other input holds codes
// 0..x_max, where that applies: PACT, x_max and f.max_code <= 3, no acc_bias, an int32 clamp,
// |acc| < 2^30, c_out a multiple of 16. Else leaves them empty.
void prepare_fused_thresholds(PreparedConv& pc, const FusedAdd& f, int x_max);

// The fused add's outputs at output pixels [p0, p0 + n) (f's maps are H_out x W_out x C, C =
// c_out) from the conv's int32 accumulators there (rows Mp apart; bias: the op's acc_bias rows
// when it has one), each requantized as conv op pc.op would store it. wide: AVX-512
// (fused_add_wide_supported()).
void fused_add_rows(const PreparedConv& pc, const std::int32_t* acc, const std::int64_t* bias,
                    int n, const FusedAdd& f, std::size_t p0, bool wide);
bool fused_add_wide_supported();

// Codes by thresholds with AVX-512 (needs fused_add_wide_supported(); M a multiple of 16) for n
// pixels: acc rows Mp apart, x and o rows M apart. The code at channel m is the number of j <
// levels with sign[m] * acc[m] >= th[(x * levels + j) * Mp + m], x the pixel's code at m in the
// other map (FusedThresholds) when xs > 1, else 0 (x unread: a conv's own thresholds).
// requant_row with AVX-512 (needs fused_add_wide_supported(); M a multiple of 8; bytes or int32
// whose clamp lo..hi fits them, as validate() ensures) for n pixels: acc (and bias) rows Mp apart,
// o rows M apart.
template <typename Out>
void requant_rows_wide(const PreparedConv& pc, const std::int32_t* acc, const std::int64_t* bias,
                       int n, Out* o);

void threshold_rows_wide(const std::int32_t* sign, const std::int32_t* th, int xs, int levels,
                         int M, int Mp, const std::int32_t* acc, int n, const std::uint8_t* x,
                         std::uint8_t* o);  // the CPU has AVX-512 F, BW, DQ and VL

// Packs the weights and derives the requantization (thresholds where they apply). in_max: the
// largest value of the op's input.
PreparedConv prepare(const ConvOp& op, int in_max);

// in: H x W x C bytes -> out: the pooled / shifted byte map the conv reads (h_in x w_in x c_in).
void preprocess_input(const ConvOp& op, const std::uint8_t* in, int h, int w, std::uint8_t* out);

// GEMM + requantization of output pixels [p0, p1) of one image. src: the byte map (for the
// implicit path: the zero-padded map, (h_in + 2 pad) x (w_in + 2 pad) x c_in); out: the output
// value (bytes or int32, H_out x W_out x C_out, before any out_pool). fused (int32 outputs
// only, no out_pool): out is not written; the fused add's output is, at the same pixels.
// out_pad > 0 (the implicit path, no fused add): out is the zero-padded map of the output
// ((H_out + 2 out_pad) x (W_out + 2 out_pad) x C_out) that the next conv reads in place, and
// only its interior is written.
template <typename Out>
void conv_range(const PreparedConv& pc, const std::uint8_t* src, int p0, int p1, KernelKind kernel,
                Scratch& s, Out* out, const FusedAdd* fused = nullptr, int out_pad = 0);

// The zero-padded copy of a channels-last map (the implicit GEMM's operand).
void pad_map(const std::uint8_t* in, int h, int w, int C, int cp, int pad,
             std::vector<std::uint8_t>& out);
// Its interior alone, into out ((h + 2 pad) x (w + 2 pad) x cp), whose borders and channels
// C..cp-1 are zero already: a buffer zeroed once and only ever written here.
void pad_interior(const std::uint8_t* in, int h, int w, int C, int cp, int pad,
                  std::uint8_t* out);

}  // namespace nce::deploy::detail
