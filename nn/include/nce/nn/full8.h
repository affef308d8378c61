// The accelerator's 8-bit rule for the full-precision layers (stem, 1x1 shortcuts, FC): one
// definition for both sides of it, the float network that emulates it in training
// (NetworkOptions::int8_full_precision) and the exporter that writes the integer codes the array
// multiplies (deploy/README.md, "What the exporter computes").
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nce::nn {

// Rounds a layer's weights w [c_out][c_in][kk] (row-major; kk = k*k taps) to the 8-bit rule, per
// output channel m:
//   s_m = max_j |w[m][j] * f[c(j)]| / 127        (1 for a channel of zeros),
//   codes[m][j] = clamp(round(w[m][j] * f[c(j)] / s_m), -127, 127)   (halves away from zero)
// so that w[m][j] ~ codes[m][j] * s_m / f[c(j)]. f: one factor per input channel (the stem's
// normalization folded into its weights), empty = all 1. Resizes codes to c_out*c_in*kk and
// scales to c_out (s_m in real units per code, before any cast to float).
void full8_codes(const float* w, int c_out, int c_in, int kk, const std::vector<double>& f,
                 std::vector<std::int8_t>& codes, std::vector<double>& scales);

}  // namespace nce::nn
