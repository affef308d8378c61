// Internal to nce_nn: the accelerator's 8-bit rule for the full-precision layers (stem, 1x1
// shortcuts, FC), emulated in float when NetworkOptions::int8_full_precision is set, so that a
// network trains and evaluates as `nce export` + `nce infer` run it (deploy/README.md, "What the
// exporter computes").
#pragma once

#include <cstddef>
#include <vector>

#include "nce/nn/full8.h"
#include "nce/nn/tensor.h"

namespace nce::nn {

// Weights [c_out][c_in][kk] onto the 8-bit rule (full8_codes in nce/nn/full8.h, the exporter's
// codes), back in float: wq = codes * s_m / f. f: one factor per input channel (the stem's 1 / std
// of the input normalization, which the exporter folds into the weights before it rounds them),
// empty = 1. w and wq may be the same array. Straight-through backward.
void quantize_full8(const float* w, int c_out, int c_in, int kk, const std::vector<float>& f,
                    float* wq);

// The head's input as the integer engine forms it: per image (row of `feat`, N x C), S = value *
// plane / unit (the integer sum over the pooled plane, in units of `unit`: the PACT step of codes,
// or 2^-16 for ReLU values), e = the fewest right shifts (rounding half up) that bring max S to
// <= 127, and each feature becomes round_half_up(S / 2^e) * 2^e * unit / plane. In place;
// straight-through backward.
void quantize_head_input(Tensor& feat, double unit, int plane);

}  // namespace nce::nn
