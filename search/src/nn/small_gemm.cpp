#include "small_gemm.h"

#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nce::nn::detail {
namespace {

#if defined(__AVX512F__)

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

// The main 8 x 48 tile with named accumulators (GCC spills arrays of vectors to the stack).
void tile_8x48(int M, int K, const float* At, const float* B, float* Y, std::ptrdiff_t ldy,
               bool accumulate) {
#define NCE_ACC(r) __m512 c##r##0, c##r##1, c##r##2;
  NCE_ACC(0)
  NCE_ACC(1) NCE_ACC(2) NCE_ACC(3) NCE_ACC(4) NCE_ACC(5) NCE_ACC(6) NCE_ACC(7)
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
void tile_8x16(int M, int K, const float* At, const float* B, float* Y, std::ptrdiff_t ldy,
               bool accumulate, __mmask16 mask) {
  __m512 c0, c1, c2, c3, c4, c5, c6, c7;
#define NCE_INIT(r) \
  c##r = accumulate ? _mm512_maskz_loadu_ps(mask, Y + r * ldy) : _mm512_setzero_ps();
  NCE_INIT(0)
  NCE_INIT(1) NCE_INIT(2) NCE_INIT(3) NCE_INIT(4) NCE_INIT(5) NCE_INIT(6) NCE_INIT(7)
#undef NCE_INIT
      for (int k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(B + k * 16);
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

template <int NV>
void rows(int M, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
          std::ptrdiff_t ldy, bool accumulate, __mmask16 mask) {
  int m = 0;
  if (NV == 3 && mask == 0xFFFF && ldb == 48) {
    for (; m + 8 <= M; m += 8) tile_8x48(M, K, At + m, B, Y + m * ldy, ldy, accumulate);
  }
  if (NV == 1 && ldb == 16) {
    for (; m + 8 <= M; m += 8) tile_8x16(M, K, At + m, B, Y + m * ldy, ldy, accumulate, mask);
  }
  for (; m + 8 <= M; m += 8) tile<8, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
  switch (M - m) {
    case 0:
      break;
    case 1:
      tile<1, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
    case 2:
      tile<2, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
    case 3:
      tile<3, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
    case 4:
      tile<4, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
    case 5:
      tile<5, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
    case 6:
      tile<6, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
    default:
      tile<7, NV>(M, K, At + m, B, ldb, Y + m * ldy, ldy, accumulate, mask);
      break;
  }
}

#endif

}  // namespace

void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate) {
#if defined(__AVX512F__)
  // B's rows are often 4 KiB apart (a 32x32 map): copy each 48-column block into a contiguous
  // panel first, or the K rows of a block fight over the same L1 sets.
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(K) * 48)
    panel.resize(static_cast<std::size_t>(K) * 48);
  float* pb = panel.data();
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
#else
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
#endif
}

}  // namespace nce::nn::detail
