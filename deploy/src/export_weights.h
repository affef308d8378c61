// Internal to nce_deploy: what export_int_model (exporter.cpp) reads from a checkpoint and the
// integer numbers it makes of it: options, tensors, requantization scalars, weight codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "nce/nn/checkpoint.h"
#include "nce/nn/quantizer.h"

namespace nce::deploy::export_detail {

inline constexpr int kAddFracBits = 16;  // fixed-point bits of a residual add below one code step
inline constexpr double kFixedUnit =
    1.0 / 65536.0;  // real per unit of ReLU (non-PACT) fixed values
inline constexpr int kStemBiasFracBits =
    8;  // the stem's accumulator offsets, in 2^-8 accumulator units
inline constexpr int kHeadMultiplierBits = 24;

// A checkpoint's options and state tensors by name; fail() throws the exporter's error.
struct Ctx {
  const nn::Checkpoint& ck;
  std::string source;
  std::map<std::string, const std::vector<float>*> state;
  std::map<std::string, std::string> options;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(source + ": cannot export as an integer model: " + what);
  }
  const std::string& option(const std::string& key) const {
    auto it = options.find(key);
    if (it == options.end()) fail("the checkpoint has no option '" + key + "'");
    return it->second;
  }
  bool has(const std::string& name) const { return state.count(name) > 0; }
  // The tensor `name` of n finite values; fails when it is missing, of another size or not
  // finite.
  const std::vector<float>& tensor(const std::string& name, std::size_t n) const;
};

int to_int(const Ctx& c, const std::string& key);        // option key as an integer
double to_double(const Ctx& c, const std::string& key);  // option key as a number

// round(t * f + g) as (t * multiplier + offset) >> shift.
struct Scalar {
  std::int32_t multiplier = 0;
  std::int64_t offset = 0;
  int shift = 0;
};

// f and g as a Scalar with a 30-bit multiplier (in [2^29, 2^30)) and an int64 offset; fails
// naming `layer` when they do not fit.
Scalar make_requant(double f, double g, const Ctx& c, const std::string& layer);

// A layer's weights as the float network applies them, and (when quantized) their codes.
struct LayerWeights {
  std::vector<float> w;  // what the float forward multiplies with (wq or w)
  bool quantized = false;
  std::vector<int> codes;  // b-bit signed codes c
  int alpha = 1, beta = 0;
  double scale = 0.0;  // weight = scale * (alpha*c + beta)
};

// The n weights of layer `name` (tensor "<name>.weight"), quantized by `kind` at `bits` when
// `quantize`; fails when a quantized weight is not on the quantizer's levels.
LayerWeights layer_weights(const Ctx& c, const std::string& name, std::size_t n, bool quantize,
                           nn::QuantizerKind kind, int bits);

// Full-precision (8-bit) weights per output channel: codes and scales. When the layer is
// quantized and its effective integers fit a signed byte, they are used exactly; otherwise the
// float weights are rounded to the 8-bit rule (nn::full8_codes, the float network's rule too).
// in_factor: one factor per input channel (c_in of them).
void full8_weights(const LayerWeights& lw, int c_out, std::vector<std::int8_t>& codes,
                   std::vector<float>& scales, const std::vector<double>& in_factor, int c_in,
                   int kk);

}  // namespace nce::deploy::export_detail
