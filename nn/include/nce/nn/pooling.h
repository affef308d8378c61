// Pooling over NCHW tensors (see tensor.h): max and average pooling with a square window k,
// stride and zero padding pad (h_out = (h + 2*pad - k)/stride + 1), and global average pooling.
// Max pooling ignores padded positions; average pooling divides by k*k (padding counts as zeros,
// PyTorch's count_include_pad = true).
#pragma once

#include <cstdint>
#include <vector>

#include "nce/nn/tensor.h"

namespace nce::nn {

struct PoolParams {
  int k = 2;
  int stride = 2;
  int pad = 0;
  int out_size(int in) const { return (in + 2 * pad - k) / stride + 1; }
};

// y resized; argmax[j] = the index inside its input plane (y*W + x) of output element j's maximum.
void max_pool_forward(const PoolParams& p, const Tensor& x, Tensor& y,
                      std::vector<std::int32_t>& argmax);
// dx = dL/dx with x's shape (x only gives the shape).
void max_pool_backward(const PoolParams& p, const Tensor& x, const Tensor& dy,
                       const std::vector<std::int32_t>& argmax, Tensor& dx);

void avg_pool_forward(const PoolParams& p, const Tensor& x, Tensor& y);
void avg_pool_backward(const PoolParams& p, const Tensor& x, const Tensor& dy, Tensor& dx);

// y is N x C x 1 x 1: the mean of each plane.
void global_avg_pool_forward(const Tensor& x, Tensor& y);
// dx (N x C x h x w) = dy / (h*w) broadcast over each plane.
void global_avg_pool_backward(const Tensor& dy, int h, int w, Tensor& dx);

}  // namespace nce::nn
