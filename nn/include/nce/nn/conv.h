// 2-D convolution (cross-correlation, as in PyTorch) with forward and backward.
//
// Shapes: x is N x c_in x h_in x w_in, y is N x c_out x h_out x w_out (NCHW, see tensor.h), with
// h_out = (h_in + 2*pad - k) / stride + 1 (same for w). Zero padding.
// Weights: row-major [c_out_alloc][c_in_alloc][k][k]; the conv uses the prefix of the allocation:
// filters [0, c_out) and input channels [0, c_in). Filter o, channel c, tap (ky, kx) is at
// weight[o*weight_ld + (c*k + ky)*k + kx] with weight_ld = c_in_alloc*k*k (the allocated row
// length). weight_ld = 0 means c_in*k*k (the whole allocation is active). This is what the
// supernet needs: candidates are prefixes of the widest weight tensor (docs/algorithm.md §3).
//
// Kernels (the active level's, nce/nn/isa.h: AVX-512, AVX2 + FMA or portable loops): Y = W *
// im2col(x) with a register-tiled GEMM that broadcasts W and streams im2col rows (8 filters x 48
// pixels per tile under AVX-512, 4 x 24 under AVX2 with W packed in 4-filter tiles). For stride-1
// "same" convs the im2col rows are built on the fly from the image with masked loads, one panel of
// pixels at a time, so the im2col matrix is never written; under AVX2 the other convs (strides)
// gather their panels from the image the same way. The backward computes dx as the forward conv
// of dy with the flipped filters (stride 1) or as W^T dy + col2im (other strides), and dW^T with
// a second register-tiled kernel over the same on-the-fly im2col panels.
// Both cores: images are split over OpenMP threads (small problems run on one thread). Results do
// not depend on timing (static schedule, fixed reduction order).
#pragma once

#include <cstdint>
#include <vector>

#include "nce/nn/tensor.h"

namespace nce::nn {

struct ConvParams {
  int c_in = 0;   // active input channels (= x.c())
  int c_out = 0;  // active filters (= y.c())
  int k = 1;
  int stride = 1;
  int pad = 0;
  int weight_ld = 0;  // allocated row length of the weight matrix; 0: c_in*k*k
  int ld() const { return weight_ld > 0 ? weight_ld : c_in * k * k; }
  int out_size(int in) const { return (in + 2 * pad - k) / stride + 1; }
};

// Scratch memory reused between calls (im2col buffers, per-thread weight-gradient partial sums).
// One workspace must not be used by two calls at the same time.
struct ConvWorkspace {
  std::vector<std::vector<float, Aligned64Allocator<float>>> per_thread;
  std::vector<std::vector<float, Aligned64Allocator<float>>> per_thread_grad;  // per image chunk
  std::vector<float, Aligned64Allocator<float>> wt;       // W^T for the forward GEMM
  std::vector<float, Aligned64Allocator<float>> flipped;  // the backward-data GEMM's operand
  std::vector<float, Aligned64Allocator<float>> scratch;  // the GEMM operands before packing
  std::vector<std::uint64_t> masks;  // implicit im2col masks for masks_key (h, w, k, block)
  int masks_key[4] = {0, 0, 0, 0};
  std::vector<std::int32_t> gather;  // gathered-im2col offsets for gather_key (h, w, k, stride, pad)
  int gather_key[5] = {0, 0, 0, 0, 0};
};

// y = conv(x, weight). y is resized.
void conv2d_forward(const ConvParams& p, const Tensor& x, const float* weight, Tensor& y,
                    ConvWorkspace& ws);

// Given dy (shape of y): dweight[o*ld + j] += dL/dweight (accumulated, prefix block only; null:
// skipped, e.g. a step that needs only dx);
// dx (if not null) = dL/dx, or dx += dL/dx when accumulate_dx is true (dx must then have x's
// shape already).
void conv2d_backward(const ConvParams& p, const Tensor& x, const float* weight, const Tensor& dy,
                     float* dweight, Tensor* dx, bool accumulate_dx, ConvWorkspace& ws);

// Reference implementations (plain loops) for tests; same contract.
void conv2d_forward_reference(const ConvParams& p, const Tensor& x, const float* weight, Tensor& y);

}  // namespace nce::nn
