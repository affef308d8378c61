// Activations: ReLU and PACT (docs/algorithm.md §1), elementwise over tensors of any shape.
//
// PACT with clip a and b bits: y = clip(x, 0, a), then (b < 32) y_q = round(y*n/a)*a/n with
// n = 2^b - 1 levels above zero (round half to even). b = 32: no quantization (y = clip(x, 0, a)).
// Gradients (straight-through for round): dy/dx = 1 for 0 <= x <= a, else 0; dy/da = 1 where
// x >= a (summed over elements). The L2 term on a is the optimizer's (Parameter::clip_l2).
#pragma once

#include <cstddef>

#include "nce/nn/tensor.h"

namespace nce::nn {

// y = max(x, 0). y may alias x.
void relu_forward(const Tensor& x, Tensor& y);
// dx = dy * (x > 0); x is the forward input (or its output: same mask). dx may alias dy.
void relu_backward(const Tensor& x, const Tensor& dy, Tensor& dx);

// y = PACT_b(x; a). y may alias x.
void pact_forward(const Tensor& x, float clip, int bits, Tensor& y);
// dx = dy * [0 <= x <= a]; *dclip += sum(dy * [x >= a]). x is the forward input. dx may alias dy.
void pact_backward(const Tensor& x, float clip, const Tensor& dy, Tensor& dx, float* dclip);

// An activation as the fused kernels (batch_norm.h, residual.h) apply it.
struct ActParams {
  enum class Kind { kNone, kRelu, kPact };
  Kind kind = Kind::kNone;
  float clip = 0.0f;  // PACT
  int bits = 32;      // PACT: 32 = no quantization

  // Per-element helpers (vectorizable: no branches, no libm calls).
  struct Eval {
    float lo, hi, inv_step, step;
    bool quantize;
    float operator()(float v) const {
      v = v < lo ? lo : v;
      v = v > hi ? hi : v;
      if (!quantize) return v;
      // Round half to even for 0 <= v*inv_step < 2^22 (the magic-number trick).
      return ((v * inv_step + 12582912.0f) - 12582912.0f) * step;
    }
  };
  Eval eval() const {
    const bool q = kind == Kind::kPact && bits < 32 && clip > 0.0f;
    const float levels = static_cast<float>((1u << (bits < 32 ? bits : 1)) - 1u);
    return Eval{kind == Kind::kNone ? -3.4e38f : 0.0f, kind == Kind::kPact ? clip : 3.4e38f,
                q ? levels / clip : 0.0f, q ? clip / levels : 0.0f, q};
  }
  // out[j] = f(in[j]*scale + shift) for j < n (vectorized; the quantize test is hoisted).
  static void apply(const Eval& f, const float* in, float scale, float shift, float* out,
                    std::size_t n) {
    const float lo = f.lo, hi = f.hi;
    if (f.quantize) {
      const float inv = f.inv_step, st = f.step;
      for (std::size_t j = 0; j < n; ++j) {
        float v = in[j] * scale + shift;
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        out[j] = ((v * inv + 12582912.0f) - 12582912.0f) * st;
      }
    } else {
      for (std::size_t j = 0; j < n; ++j) {
        float v = in[j] * scale + shift;
        v = v < lo ? lo : v;
        out[j] = v > hi ? hi : v;
      }
    }
  }
  // Backward over n elements with pre-activation u[j] = in[j]*scale + shift: returns
  // sum(g[j] * [u[j] >= clip]) (PACT; 0 otherwise) and sets g[j] *= pass(u[j]).
  float backward(const float* in, float scale, float shift, float* g, std::size_t n) const;

  // Gradient mask for pre-activation v: ReLU v > 0; PACT 0 <= v <= clip; none: 1.
  float pass(float v) const {
    if (kind == Kind::kRelu) return v > 0.0f ? 1.0f : 0.0f;
    if (kind == Kind::kPact) return (v >= 0.0f && v <= clip) ? 1.0f : 0.0f;
    return 1.0f;
  }
  // PACT: 1 where v >= clip (d/d clip), else 0.
  float at_clip(float v) const { return kind == Kind::kPact && v >= clip ? 1.0f : 0.0f; }
};

}  // namespace nce::nn
