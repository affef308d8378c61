// Residual add of two NCHW tensors with the same N, H, W and possibly different channel counts:
// the narrower one is added into the first channels of the wider one (docs/algorithm.md §4).
#pragma once

#include "nce/nn/activation.h"
#include "nce/nn/tensor.h"

namespace nce::nn {

// y = a (+) b with y.c() = max(a.c(), b.c()). y may alias a or b when it is the wider one.
void residual_add(const Tensor& a, const Tensor& b, Tensor& y);

// Backward: the gradient of an input with c channels is the first c channels of dy.
// d = dy[:, :c] (d resized), or d += dy[:, :c] when accumulate is true (d must have that shape).
void residual_add_backward(const Tensor& dy, int c, Tensor& d, bool accumulate = false);

// Fused y = act(a (+) b) (the block output); the sum is not stored.
void residual_add_act_forward(const ActParams& act, const Tensor& a, const Tensor& b, Tensor& y);
// Backward: g holds dL/dy on entry and dL/d(sum) on return (the gradient of the wider input;
// the narrower one's is its first channels). (PACT) *dclip accumulates.
void residual_add_act_backward(const ActParams& act, const Tensor& a, const Tensor& b, Tensor& g,
                               float* dclip);

}  // namespace nce::nn
