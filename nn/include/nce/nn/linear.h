// Fully connected layer: y = x W^T + b.
// x: N x in (any NCHW tensor, flattened per image: in = C*H*W), y: N x out (H = W = 1).
// W: row-major [out_alloc][in_alloc]; the layer uses the prefix rows [0, out) and columns [0, in):
// element (o, i) is at weight[o*weight_ld + i], weight_ld = in_alloc (0 means in). bias: out floats
// or null (no bias).
#pragma once

#include "nce/nn/tensor.h"

namespace nce::nn {

struct LinearParams {
  int in = 0;
  int out = 0;
  int weight_ld = 0;
  int ld() const { return weight_ld > 0 ? weight_ld : in; }
};

void linear_forward(const LinearParams& p, const Tensor& x, const float* weight, const float* bias,
                    Tensor& y);
// dweight (+=, if not null), dbias (+=, if not null), dx = dL/dx with x's shape (if not null).
void linear_backward(const LinearParams& p, const Tensor& x, const float* weight, const Tensor& dy,
                     float* dweight, float* dbias, Tensor* dx);

}  // namespace nce::nn
