// Internal: Y (M x N) = A (M x K) * B (K x N) for the convolutions' skinny shapes (M = filters,
// small; N = output pixels; K = k*k*C_in), without packing the big operand. A is given
// transposed (At: K x M, row-major) so that one k step broadcasts M consecutive floats; B rows are
// contiguous (im2col output). The micro-kernel keeps an 8 x 48 tile of Y in registers.
#pragma once

#include <cstddef>

namespace nce::nn::detail {

// Y[m*ldy + n] (+)= sum_k At[k*M + m] * B[k*ldb + n].
void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate);

}  // namespace nce::nn::detail
