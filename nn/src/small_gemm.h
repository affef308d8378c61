// Internal: Y (M x N) = A (M x K) * B (K x N) for the convolutions' skinny shapes (M = filters,
// small; N = output pixels; K = k*k*C_in), without packing the big operand. A is given
// transposed (At: K x M, row-major) so that one k step broadcasts M consecutive floats; B rows are
// contiguous (im2col output). The micro-kernel keeps an 8 x 48 tile of Y in registers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nce::nn::detail {

// The kernels below read A in the layout pack_at writes (under AVX2: 4-row tiles of A, each
// contiguous over k; otherwise At unchanged). At: K x M row-major; packed: M*K floats.
void pack_at(int M, int K, const float* At, float* packed);

// Y[m*ldy + n] (+)= sum_k At[k*M + m] * B[k*ldb + n], At given packed (pack_at).
void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate);

// A stride-1 "same" convolution (output map = input map, pad = (k-1)/2, k odd) as the GEMM
// above with B = im2col(x) built on the fly, 48 columns at a time, by masked loads: the im2col
// matrix is never written. x: c_in x h x w (one image); At: (c_in*k*k) x M; Y: M x (h*w).
// At packed by pack_at(M, c_in*k*k). masks: from conv_same_masks(h, w, k) (depends on the map only; compute once per layer call).
void conv_same_gemm(int M, int c_in, int h, int w, int k, const float* At, const float* x, float* Y,
                    bool accumulate, const std::uint64_t* masks);
// For every 48-pixel block of the output and every tap: bit j = pixel j of the block reads inside
// the input map. Layout [block][tap].
void conv_same_masks(int h, int w, int k, std::vector<std::uint64_t>& masks);
// The pixels per block of those masks (the active level's; part of a cache key for them).
int conv_same_block();
bool conv_same_gemm_supported();

// Any other conv (strides, other paddings) at the AVX2 level: the im2col panels are gathered from
// the image with per-block offset tables instead of building the im2col matrix. offs: from
// conv_gather_offsets (depends on the geometry only). Y = W x im2col(x) (not accumulated);
// dWt += im2col(x) x dY^T as weight_grad_explicit.
bool conv_gather_supported();
void conv_gather_offsets(int h, int w, int k, int stride, int pad, int ho, int wo,
                         std::vector<std::int32_t>& offs);
void conv_gather_gemm(int M, int c_in, int h, int w, int k, int ho, int wo, const float* At,
                      const float* x, float* Y, const std::int32_t* offs);
void weight_grad_gather(int M, int c_in, int h, int w, int k, int ho, int wo, const float* dy_t,
                        const float* x, float* dwt, const std::int32_t* offs);

// dst (cols x rows, row-major) = src (rows x cols, row-major) transposed.
void transpose(int rows, int cols, const float* src, float* dst);

// Weight gradient of a conv, accumulated over one image: dWt[k*M + m] += sum_n B[k, n] * dY[m, n]
// (dWt = dW^T, K x M) where B = im2col(x) (K x N). dy_t is dY transposed (N x M, row-major).
// B comes either from an explicit im2col matrix (col, row stride ldb)...
void weight_grad_explicit(int M, int K, int N, const float* dy_t, const float* col,
                          std::ptrdiff_t ldb, float* dwt);
// ... or, for a stride-1 "same" conv, straight from the image (see conv_same_gemm).
void weight_grad_same(int M, int c_in, int h, int w, int k, const float* dy_t, const float* x,
                      float* dwt, const std::uint64_t* masks);

}  // namespace nce::nn::detail
