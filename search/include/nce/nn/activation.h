// Activations: ReLU and PACT (NCE-SPEC.md §1), elementwise over tensors of any shape.
//
// PACT with clip a and b bits: y = clip(x, 0, a), then (b < 32) y_q = round(y*n/a)*a/n with
// n = 2^b - 1 levels above zero (round half to even). b = 32: no quantization (y = clip(x, 0, a)).
// Gradients (straight-through for round): dy/dx = 1 for 0 <= x <= a, else 0; dy/da = 1 where
// x >= a (summed over elements). The L2 term on a is the optimizer's (Parameter::clip_l2).
#pragma once

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

}  // namespace nce::nn
