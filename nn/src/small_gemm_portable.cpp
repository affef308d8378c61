// small_gemm.h's kernels as plain loops, for builds without AVX2: the reference the vector sets
// are tested against, and what runs where they are not compiled. It has no implicit-im2col or
// gather kernels (the convolution builds its im2col matrix instead).
#include <algorithm>
#include <cstdint>

#include "small_gemm_kernels.h"

namespace nce::nn::detail {
namespace {

void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate) {
  for (int m = 0; m < M; ++m) {
    float* y = Y + m * ldy;
    if (!accumulate)
      for (int n = 0; n < N; ++n) y[n] = 0.0f;
    for (int k = 0; k < K; ++k) {
      const float a = At[static_cast<std::ptrdiff_t>(k) * M + m];
      const float* b = B + k * ldb;
      for (int n = 0; n < N; ++n) y[n] += a * b[n];
    }
  }
}

void weight_grad_explicit(int M, int K, int N, const float* dy_t, const float* col,
                          std::ptrdiff_t ldb, float* dwt) {
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n)
      for (int m = 0; m < M; ++m) dwt[k * M + m] += col[k * ldb + n] * dy_t[n * M + m];
}

void pack_at(int M, int K, const float* At, float* packed) {
  std::copy(At, At + static_cast<std::ptrdiff_t>(M) * K, packed);
}

}  // namespace

void transpose_portable(int rows, int cols, const float* src, float* dst) {
  // Contiguous writes, one read stream per row.
  for (int c = 0; c < cols; ++c)
    for (int i = 0; i < rows; ++i)
      dst[static_cast<std::ptrdiff_t>(c) * rows + i] =
          src[static_cast<std::ptrdiff_t>(i) * cols + c];
}

const GemmKernels kPortableKernels = {
    "portable",
    48,  // conv_same_masks' block where no vector set is compiled (no kernel reads the masks)
    pack_at,    gemm_at_b, weight_grad_explicit, nullptr, nullptr,
    nullptr,    nullptr,   transpose_portable,
};

}  // namespace nce::nn::detail
