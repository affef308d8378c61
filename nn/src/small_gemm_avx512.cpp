// small_gemm.h's kernels for AVX-512F (32 zmm registers): 8 x 48 tiles of Y, 48-pixel panels.
// Compiled with -march=x86-64-v4 (search/CMakeLists.txt); the rules of small_gemm_kernels.h
// apply.
#include "small_gemm_kernels.h"

#if NCE_NN_X86_LEVELS

#if !defined(__AVX512F__) || !defined(__AVX512BW__)
#error "small_gemm_avx512.cpp is compiled with -march=x86-64-v4 (search/CMakeLists.txt)"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace nce::nn::detail {
namespace {

inline int min_int(int a, int b) {
  return a < b ? a : b;
}

// Tile of MR rows x (NV vectors of 16) columns; `mask` applies to the last vector.
template <int MR, int NV>
inline void tile(int M, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
                 std::ptrdiff_t ldy, bool accumulate, __mmask16 mask) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? mask : static_cast<__mmask16>(0xFFFF);
      acc[r][v] =
          accumulate ? _mm512_maskz_loadu_ps(mk, Y + r * ldy + 16 * v) : _mm512_setzero_ps();
    }
  for (int k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    __m512 bv[NV];
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? mask : static_cast<__mmask16>(0xFFFF);
      bv[v] = _mm512_maskz_loadu_ps(mk, b + 16 * v);
    }
    const float* a = At + static_cast<std::ptrdiff_t>(k) * M;
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? mask : static_cast<__mmask16>(0xFFFF);
      _mm512_mask_storeu_ps(Y + r * ldy + 16 * v, mk, acc[r][v]);
    }
}

// clang-format off
// The main 8 x 48 tile with named accumulators (GCC spills arrays of vectors to the stack).
void tile_8x48(int M, int K, const float* At, const float* B, float* Y, std::ptrdiff_t ldy,
               bool accumulate) {
#define NCE_ACC(r) __m512 c##r##0, c##r##1, c##r##2;
  NCE_ACC(0)
  NCE_ACC(1)
  NCE_ACC(2)
  NCE_ACC(3) NCE_ACC(4) NCE_ACC(5) NCE_ACC(6) NCE_ACC(7)
#undef NCE_ACC
#define NCE_INIT(r)                                                               \
  c##r##0 = accumulate ? _mm512_loadu_ps(Y + r * ldy) : _mm512_setzero_ps();      \
  c##r##1 = accumulate ? _mm512_loadu_ps(Y + r * ldy + 16) : _mm512_setzero_ps(); \
  c##r##2 = accumulate ? _mm512_loadu_ps(Y + r * ldy + 32) : _mm512_setzero_ps();
      NCE_INIT(0) NCE_INIT(1) NCE_INIT(2) NCE_INIT(3) NCE_INIT(4) NCE_INIT(5) NCE_INIT(6)
          NCE_INIT(7)
#undef NCE_INIT
              for (int k = 0; k < K; ++k) {
    const float* b = B + k * 48;
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16),
                 b2 = _mm512_loadu_ps(b + 32);
    const float* a = At + static_cast<std::ptrdiff_t>(k) * M;
#define NCE_FMA(r)                              \
  {                                             \
    const __m512 av = _mm512_set1_ps(a[r]);     \
    c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0); \
    c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1); \
    c##r##2 = _mm512_fmadd_ps(av, b2, c##r##2); \
  }
    NCE_FMA(0) NCE_FMA(1) NCE_FMA(2) NCE_FMA(3) NCE_FMA(4) NCE_FMA(5) NCE_FMA(6) NCE_FMA(7)
#undef NCE_FMA
  }
#define NCE_STORE(r)                           \
  _mm512_storeu_ps(Y + r * ldy, c##r##0);      \
  _mm512_storeu_ps(Y + r * ldy + 16, c##r##1); \
  _mm512_storeu_ps(Y + r * ldy + 32, c##r##2);
  NCE_STORE(0)
  NCE_STORE(1) NCE_STORE(2) NCE_STORE(3) NCE_STORE(4) NCE_STORE(5) NCE_STORE(6) NCE_STORE(7)
#undef NCE_STORE
}

// 8 x 16 tile (masked columns) with named accumulators.
void tile_8x16(int M, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate, __mmask16 mask) {
  __m512 c0, c1, c2, c3, c4, c5, c6, c7;
#define NCE_INIT(r) \
  c##r = accumulate ? _mm512_maskz_loadu_ps(mask, Y + r * ldy) : _mm512_setzero_ps();
  NCE_INIT(0)
  NCE_INIT(1)
  NCE_INIT(2)
  NCE_INIT(3) NCE_INIT(4) NCE_INIT(5) NCE_INIT(6) NCE_INIT(7)
#undef NCE_INIT
      for (int k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(B + k * ldb);
    const float* a = At + static_cast<std::ptrdiff_t>(k) * M;
#define NCE_FMA(r) c##r = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, c##r);
    NCE_FMA(0) NCE_FMA(1) NCE_FMA(2) NCE_FMA(3) NCE_FMA(4) NCE_FMA(5) NCE_FMA(6) NCE_FMA(7)
#undef NCE_FMA
  }
#define NCE_STORE(r) _mm512_mask_storeu_ps(Y + r * ldy, mask, c##r);
  NCE_STORE(0)
  NCE_STORE(1) NCE_STORE(2) NCE_STORE(3) NCE_STORE(4) NCE_STORE(5) NCE_STORE(6) NCE_STORE(7)
#undef NCE_STORE
}

// clang-format on

template <int NV>
void rows(int M, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
          std::ptrdiff_t ldy, bool accumulate, __mmask16 mask) {
  int m = 0;
  if (NV == 3 && mask == 0xFFFF && ldb == 48) {
    for (; m + 8 <= M; m += 8) tile_8x48(M, K, At + m, B, Y + m * ldy, ldy, accumulate);
  }
  if (NV == 1) {
    for (; m + 8 <= M; m += 8) tile_8x16(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
  }
  for (; m + 8 <= M; m += 8) tile<8, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
  with_tail_rows<7>(M - m, [&](auto rows_left) {
    tile<decltype(rows_left)::value, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
  });
}

// Copies 48 floats (lanes of `bits` from src, zeros elsewhere) to dst.
inline void masked_copy48(const float* src, float* dst, std::uint64_t bits) {
  _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(static_cast<__mmask16>(bits), src));
  _mm512_storeu_ps(dst + 16, _mm512_maskz_loadu_ps(static_cast<__mmask16>(bits >> 16), src + 16));
  _mm512_storeu_ps(dst + 32, _mm512_maskz_loadu_ps(static_cast<__mmask16>(bits >> 32), src + 32));
}

// Calls f(panel, n, width) for every 48-pixel block [n, n + width) of a "same" conv's implicit
// im2col: K = c_in*k*k rows of 48 (channels outer, taps inner) in a per-thread panel, loaded from
// the image under the block's tap masks (conv_same_block_masks, 48-pixel blocks).
template <class F>
void for_each_same_panel48(int c_in, int h, int w, int k, const float* x,
                           const std::uint64_t* block_masks, F&& f) {
  const int pad = (k - 1) / 2, kk = k * k, K = c_in * kk, N = h * w;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(h) * w;
  float* pb = thread_buffer(BufferSlot::kPanel, static_cast<std::size_t>(K) * 48);
  std::ptrdiff_t offsets[64];
  for (int t = 0; t < kk && t < 64; ++t)
    offsets[t] = static_cast<std::ptrdiff_t>(t / k - pad) * w + (t % k - pad);
  for (int n = 0; n < N; n += 48) {
    const std::uint64_t* masks = block_masks + static_cast<std::ptrdiff_t>(n / 48) * kk;
    for (int c = 0; c < c_in; ++c) {
      const float* xc = x + c * plane + n;
      for (int t = 0; t < kk; ++t)
        masked_copy48(xc + offsets[t], pb + static_cast<std::ptrdiff_t>(c * kk + t) * 48, masks[t]);
    }
    f(static_cast<const float*>(pb), n, min_int(48, N - n));
  }
}

// dWt rows [k0, k0+R) x columns [m0, m0 + 16*NV) += panel rows (stride 48, `width` pixels) x
// dy_t rows (stride M). `mask` covers the last column vector.
template <int NV>
inline void wgrad_tile(int R, int width, const float* panel, const float* dyt, int M, float* dwt,
                       __mmask16 mask) {
  // clang-format off
  if (R == 8) {
    const __mmask16 m0 = NV == 1 ? mask : 0xFFFF, m1 = NV == 2 ? mask : 0xFFFF, m2 = mask;
#define NCE_LD(r)                                                                              \
  __m512 c##r##0 = _mm512_maskz_loadu_ps(m0, dwt + r * M);                                     \
  __m512 c##r##1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, dwt + r * M + 16) : _mm512_setzero_ps(); \
  __m512 c##r##2 = NV > 2 ? _mm512_maskz_loadu_ps(m2, dwt + r * M + 32) : _mm512_setzero_ps();
    NCE_LD(0)
    NCE_LD(1)
    NCE_LD(2) NCE_LD(3) NCE_LD(4) NCE_LD(5) NCE_LD(6) NCE_LD(7)
#undef NCE_LD
        for (int j = 0; j < width; ++j) {
      const float* bj = dyt + j * M;
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, bj);
      const __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, bj + 16) : _mm512_setzero_ps();
      const __m512 b2 = NV > 2 ? _mm512_maskz_loadu_ps(m2, bj + 32) : _mm512_setzero_ps();
#define NCE_FMA(r)                                         \
  {                                                        \
    const __m512 a = _mm512_set1_ps(panel[r * 48 + j]);    \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);             \
    if (NV > 1) c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1); \
    if (NV > 2) c##r##2 = _mm512_fmadd_ps(a, b2, c##r##2); \
  }
      NCE_FMA(0) NCE_FMA(1) NCE_FMA(2) NCE_FMA(3) NCE_FMA(4) NCE_FMA(5) NCE_FMA(6) NCE_FMA(7)
#undef NCE_FMA
    }
#define NCE_ST(r)                                                   \
  _mm512_mask_storeu_ps(dwt + r * M, m0, c##r##0);                  \
  if (NV > 1) _mm512_mask_storeu_ps(dwt + r * M + 16, m1, c##r##1); \
  if (NV > 2) _mm512_mask_storeu_ps(dwt + r * M + 32, m2, c##r##2);
    NCE_ST(0)
    NCE_ST(1)
    NCE_ST(2) NCE_ST(3) NCE_ST(4) NCE_ST(5) NCE_ST(6) NCE_ST(7)
#undef NCE_ST
        return;
  }
  // clang-format on
  for (int r = 0; r < R; ++r) {
    __m512 c[NV];
    for (int v = 0; v < NV; ++v)
      c[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? mask : 0xFFFF, dwt + r * M + 16 * v);
    for (int j = 0; j < width; ++j) {
      const __m512 a = _mm512_set1_ps(panel[r * 48 + j]);
      for (int v = 0; v < NV; ++v)
        c[v] = _mm512_fmadd_ps(
            a, _mm512_maskz_loadu_ps(v == NV - 1 ? mask : 0xFFFF, dyt + j * M + 16 * v), c[v]);
    }
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(dwt + r * M + 16 * v, v == NV - 1 ? mask : 0xFFFF, c[v]);
  }
}

// One 48-pixel block: every (8-row, up to 48-column) tile of dWt.
void wgrad_block(int M, int K, int width, const float* panel, const float* dyt, float* dwt) {
  for (int k = 0; k < K; k += 8) {
    const int R = min_int(8, K - k);
    const float* pk = panel + static_cast<std::ptrdiff_t>(k) * 48;
    float* dk = dwt + static_cast<std::ptrdiff_t>(k) * M;
    int m = 0;
    for (; m + 48 <= M; m += 48) wgrad_tile<3>(R, width, pk, dyt + m, M, dk + m, 0xFFFF);
    const int left = M - m;
    if (left > 32) {
      wgrad_tile<3>(R, width, pk, dyt + m, M, dk + m,
                    static_cast<__mmask16>((1u << (left - 32)) - 1u) | (left == 48 ? 0xFFFF : 0));
    } else if (left > 16) {
      wgrad_tile<2>(R, width, pk, dyt + m, M, dk + m,
                    left == 32 ? static_cast<__mmask16>(0xFFFF)
                               : static_cast<__mmask16>((1u << (left - 16)) - 1u));
    } else if (left > 0) {
      wgrad_tile<1>(
          R, width, pk, dyt + m, M, dk + m,
          left == 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u));
    }
  }
}

void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate) {
  // B's rows are often 4 KiB apart (a 32x32 map): copy each 48-column block into a contiguous
  // panel first, or the K rows of a block fight over the same L1 sets.
  float* pb = thread_buffer(BufferSlot::kPanel, static_cast<std::size_t>(K) * 48);
  int n = 0;
  for (; n + 48 <= N; n += 48) {
    for (int k = 0; k < K; ++k) {
      const float* src = B + k * ldb + n;
      float* dst = pb + k * 48;
      _mm512_storeu_ps(dst, _mm512_loadu_ps(src));
      _mm512_storeu_ps(dst + 16, _mm512_loadu_ps(src + 16));
      _mm512_storeu_ps(dst + 32, _mm512_loadu_ps(src + 32));
    }
    rows<3>(M, K, At, pb, 48, Y + n, ldy, accumulate, 0xFFFF);
  }
  for (; n < N; n += 16) {
    const int left = N - n;
    const __mmask16 mask =
        left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
    for (int k = 0; k < K; ++k)
      _mm512_storeu_ps(pb + k * 16, _mm512_maskz_loadu_ps(mask, B + k * ldb + n));
    rows<1>(M, K, At, pb, 16, Y + n, ldy, accumulate, mask);
  }
}

void weight_grad_explicit(int M, int K, int N, const float* dy_t, const float* col,
                          std::ptrdiff_t ldb, float* dwt) {
  float* pb = thread_buffer(BufferSlot::kPanel, static_cast<std::size_t>(K) * 48);
  for (int n = 0; n < N; n += 48) {
    const int width = min_int(48, N - n);
    const std::uint64_t m = width == 48 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
    for (int k = 0; k < K; ++k)
      masked_copy48(col + k * ldb + n, pb + static_cast<std::ptrdiff_t>(k) * 48, m);
    wgrad_block(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  }
}

void weight_grad_same(int M, int c_in, int h, int w, int k, const float* dy_t, const float* x,
                      float* dwt, const std::uint64_t* block_masks) {
  const int K = c_in * k * k;
  for_each_same_panel48(c_in, h, w, k, x, block_masks, [&](const float* pb, int n, int width) {
    wgrad_block(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
}

void conv_same_gemm(int M, int c_in, int h, int w, int k, const float* At, const float* x, float* Y,
                    bool accumulate, const std::uint64_t* block_masks) {
  const int K = c_in * k * k, N = h * w;
  for_each_same_panel48(c_in, h, w, k, x, block_masks, [&](const float* pb, int n, int width) {
    if (width == 48) {
      rows<3>(M, K, At, pb, 48, Y + n, N, accumulate, 0xFFFF);
      return;
    }
    // Tail: up to three 16-column blocks out of the same panel (stride 48).
    for (int j = 0; j < width; j += 16) {
      const int left = width - j;
      const __mmask16 mask =
          left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
      rows<1>(M, K, At, pb + j, 48, Y + n + j, N, accumulate, mask);
    }
  });
}

// A is used as given: one k step broadcasts M consecutive floats of At.
void pack_at(int M, int K, const float* At, float* packed) {
  std::memcpy(packed, At,
              sizeof(float) * static_cast<std::size_t>(M) * static_cast<std::size_t>(K));
}

}  // namespace

const GemmKernels kAvx512Kernels = {
    "avx512",
    48,
    pack_at,
    gemm_at_b,
    weight_grad_explicit,
    conv_same_gemm,
    weight_grad_same,
    nullptr,  // no gather kernels: strided convs build their im2col matrix
    nullptr,
    transpose_avx2,
};

}  // namespace nce::nn::detail

#endif  // NCE_NN_X86_LEVELS
