// Channel-wise interpolation (TAS, docs/algorithm.md §4): resizes a tensor from iC to oC channels,
//   out[:, o] = mean(x[:, floor(o*iC/oC) .. ceil((o+1)*iC/oC) - 1]),
// so two candidate outputs of different widths can be mixed. Backward spreads grad_out[o] equally
// over the channels it averaged. Tensors are NCHW (nn/tensor.h); iC == oC copies.
#pragma once

#include "nce/nn/tensor.h"

namespace nce::search {

void cwi_forward(const nn::Tensor& x, int out_channels, nn::Tensor& out);
// Accumulates into grad_x (shape of x) the gradient of out w.r.t. x.
void cwi_backward(const nn::Tensor& grad_out, nn::Tensor& grad_x);

// Same mapping, channel ranges only: [first, last) of the inputs averaged into output o.
void cwi_range(int in_channels, int out_channels, int o, int& first, int& last);

}  // namespace nce::search
