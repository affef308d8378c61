#include "small_gemm.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
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


#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
#define NCE_NN_AVX2 1
namespace {

// AVX2 + FMA (16 ymm registers): the same broadcast GEMMs as the AVX-512 path with 4 x 24 tiles
// of Y (12 accumulators) and 24-pixel panels (kBlock).

// An empty asm that "changes" v: the compiler must load v once into a register instead of folding
// the load into every FMA that uses it.
inline void keep_in_register(__m256& v) {
#if defined(__GNUC__)
  __asm__("" : "+x"(v));
#else
  (void)v;
#endif
}

// Lanes j of a vector whose bit j of `bits` is set (8 bits).
inline __m256i lane_mask(unsigned bits) {
  const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits)), sel), sel);
}

// Copies 24 floats (lanes of `bits` from src, zeros elsewhere) to dst.
inline void masked_copy24(const float* src, float* dst, std::uint64_t bits) {
  if ((bits & 0xFFFFFF) == 0xFFFFFF) {
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
    _mm256_storeu_ps(dst + 16, _mm256_loadu_ps(src + 16));
  } else if ((bits & 0xFFFFFF) == 0) {
    const __m256 z = _mm256_setzero_ps();
    _mm256_storeu_ps(dst, z);
    _mm256_storeu_ps(dst + 8, z);
    _mm256_storeu_ps(dst + 16, z);
  } else {
    _mm256_storeu_ps(dst, _mm256_maskload_ps(src, lane_mask(bits & 0xFF)));
    _mm256_storeu_ps(dst + 8, _mm256_maskload_ps(src + 8, lane_mask((bits >> 8) & 0xFF)));
    _mm256_storeu_ps(dst + 16, _mm256_maskload_ps(src + 16, lane_mask((bits >> 16) & 0xFF)));
  }
}

// Y rows [0, R) x 24 columns (+)= At (stride M) x panel (K x 24, contiguous). No masks: the
// callers give full 24-column blocks (a temporary for the tails), so that 12 accumulators, 3
// panel vectors and the broadcast fit the 16 registers.
template <int R>
void tile_rx24(int K, const float* At, const float* B, float* Y, std::ptrdiff_t ldy,
               bool accumulate) {
  __m256 c[R][3];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < 3; ++v)
      c[r][v] = accumulate ? _mm256_loadu_ps(Y + r * ldy + 8 * v) : _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const float* b = B + k * 24;
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16);
    // Keep the panel vectors in registers: folded into the FMAs, they would be loaded R times.
    keep_in_register(b0), keep_in_register(b1), keep_in_register(b2);
    const float* a = At + static_cast<std::ptrdiff_t>(k) * R;  // packed: R rows per k
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
      c[r][2] = _mm256_fmadd_ps(av, b2, c[r][2]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < 3; ++v) _mm256_storeu_ps(Y + r * ldy + 8 * v, c[r][v]);
}

// Every row of Y for one 24-column panel; `width` < 24 goes through a 24-column temporary.
void rows24(int M, int K, const float* At, const float* panel, float* Y, std::ptrdiff_t ldy,
            bool accumulate, int width) {
  thread_local std::vector<float> tmp;
  float* out = Y;
  std::ptrdiff_t ld = ldy;
  if (width < 24) {
    if (tmp.size() < static_cast<std::size_t>(M) * 24) tmp.resize(static_cast<std::size_t>(M) * 24);
    out = tmp.data(), ld = 24;
    if (accumulate)
      for (int m = 0; m < M; ++m) std::copy(Y + m * ldy, Y + m * ldy + width, out + m * 24);
  }
  // At is packed (pack_at): the K x R block of rows [m, m + R) starts at At + m*K.
  int m = 0;
  for (; m + 4 <= M; m += 4) tile_rx24<4>(K, At + m * K, panel, out + m * ld, ld, accumulate);
  switch (M - m) {
    case 1:
      tile_rx24<1>(K, At + m * K, panel, out + m * ld, ld, accumulate);
      break;
    case 2:
      tile_rx24<2>(K, At + m * K, panel, out + m * ld, ld, accumulate);
      break;
    case 3:
      tile_rx24<3>(K, At + m * K, panel, out + m * ld, ld, accumulate);
      break;
    default:
      break;
  }
  if (width < 24)
    for (int r = 0; r < M; ++r) std::copy(out + r * 24, out + r * 24 + width, Y + r * ldy);
}

// dWt rows [0, R) (R <= 6) x columns [0, 16) += panel rows (stride 24, `width` pixels) x dy_t
// rows (stride M). Full: 16 columns; otherwise masks m0, m1 for the two vectors.
template <int R, bool Full>
void wgrad_tile16(int width, const float* panel, const float* dyt, int M, float* dwt, __m256i m0,
                  __m256i m1) {
  __m256 c[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    c[r][0] = Full ? _mm256_loadu_ps(dwt + r * M) : _mm256_maskload_ps(dwt + r * M, m0);
    c[r][1] = Full ? _mm256_loadu_ps(dwt + r * M + 8) : _mm256_maskload_ps(dwt + r * M + 8, m1);
  }
  for (int j = 0; j < width; ++j) {
    const float* bj = dyt + j * M;
    __m256 b0 = Full ? _mm256_loadu_ps(bj) : _mm256_maskload_ps(bj, m0);
    __m256 b1 = Full ? _mm256_loadu_ps(bj + 8) : _mm256_maskload_ps(bj + 8, m1);
    keep_in_register(b0), keep_in_register(b1);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(panel + r * 24 + j);
      c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    if (Full) {
      _mm256_storeu_ps(dwt + r * M, c[r][0]);
      _mm256_storeu_ps(dwt + r * M + 8, c[r][1]);
    } else {
      _mm256_maskstore_ps(dwt + r * M, m0, c[r][0]);
      _mm256_maskstore_ps(dwt + r * M + 8, m1, c[r][1]);
    }
  }
}

template <int R>
void wgrad_rows(int M, int width, const float* panel, const float* dyt, float* dwt) {
  int m = 0;
  const __m256i all = _mm256_set1_epi32(-1);
  for (; m + 16 <= M; m += 16)
    wgrad_tile16<R, true>(width, panel, dyt + m, M, dwt + m, all, all);
  const int left = M - m;
  if (left > 0) {
    const __m256i m0 = lane_mask(left >= 8 ? 0xFF : (1u << left) - 1u);
    const __m256i m1 = lane_mask(left <= 8 ? 0u : (1u << (left - 8)) - 1u);
    wgrad_tile16<R, false>(width, panel, dyt + m, M, dwt + m, m0, m1);
  }
}

// One 24-pixel block: dWt (K x M) += panel (K x 24) x dy_t block (width x M).
void wgrad_block24(int M, int K, int width, const float* panel, const float* dyt, float* dwt) {
  int k = 0;
  for (; k + 6 <= K; k += 6) wgrad_rows<6>(M, width, panel + k * 24, dyt, dwt + k * M);
  const float* pk = panel + k * 24;
  float* dk = dwt + k * M;
  switch (K - k) {
    case 1:
      wgrad_rows<1>(M, width, pk, dyt, dk);
      break;
    case 2:
      wgrad_rows<2>(M, width, pk, dyt, dk);
      break;
    case 3:
      wgrad_rows<3>(M, width, pk, dyt, dk);
      break;
    case 4:
      wgrad_rows<4>(M, width, pk, dyt, dk);
      break;
    case 5:
      wgrad_rows<5>(M, width, pk, dyt, dk);
      break;
    default:
      break;
  }
}

// Bits [0, width) set.
inline std::uint64_t low_bits(int width) {
  return width >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
}

// Panel (K x 24) of implicit im2col rows for pixels [n, n + 24) of a "same" conv. Channels outer,
// taps inner: the few input rows of one channel stay in L1 for all its taps (channel planes are
// often 4 KiB apart, so a taps-outer order would cycle through more lines of one L1 set than it
// has ways). The lane masks of each tap are built once per block.
inline void same_panel(int c_in, int kk, std::ptrdiff_t plane, const std::ptrdiff_t* offsets,
                       const float* x, int n, const std::uint64_t* masks, float* pb) {
  constexpr int kMaxTaps = 49;
  __m256i lanes[kMaxTaps][3];
  unsigned char kind[kMaxTaps];  // 0: no lane valid, 1: all valid, 2: masked
  for (int t = 0; t < kk; ++t) {
    const std::uint64_t bits = masks[t] & 0xFFFFFF;
    kind[t] = bits == 0 ? 0 : bits == 0xFFFFFF ? 1 : 2;
    lanes[t][0] = lane_mask(bits & 0xFF);
    lanes[t][1] = lane_mask((bits >> 8) & 0xFF);
    lanes[t][2] = lane_mask((bits >> 16) & 0xFF);
  }
  const __m256 z = _mm256_setzero_ps();
  float* dst = pb;
  for (int c = 0; c < c_in; ++c) {
    const float* xc = x + c * plane + n;
    for (int t = 0; t < kk; ++t, dst += 24) {
      const float* src = xc + offsets[t];
      if (kind[t] == 1) {
        _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
        _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
        _mm256_storeu_ps(dst + 16, _mm256_loadu_ps(src + 16));
      } else if (kind[t] == 0) {
        _mm256_storeu_ps(dst, z);
        _mm256_storeu_ps(dst + 8, z);
        _mm256_storeu_ps(dst + 16, z);
      } else {
        _mm256_storeu_ps(dst, _mm256_maskload_ps(src, lanes[t][0]));
        _mm256_storeu_ps(dst + 8, _mm256_maskload_ps(src + 8, lanes[t][1]));
        _mm256_storeu_ps(dst + 16, _mm256_maskload_ps(src + 16, lanes[t][2]));
      }
    }
  }
}

// Calls f(panel, n, width) for every 24-column block [n, n + width) of the K x N matrix B (row
// stride ldb), copied into a contiguous per-thread K x 24 panel first (B's rows are often 4 KiB
// apart, and K rows of one block would fight over the same L1 sets).
template <class F>
void for_each_copied_panel24(int K, int N, const float* B, std::ptrdiff_t ldb, F&& f) {
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(K) * 24)
    panel.resize(static_cast<std::size_t>(K) * 24);
  float* pb = panel.data();
  for (int n = 0; n < N; n += 24) {
    const int width = std::min(24, N - n);
    const std::uint64_t m = low_bits(width);
    for (int k = 0; k < K; ++k) masked_copy24(B + k * ldb + n, pb + k * 24, m);
    f(static_cast<const float*>(pb), n, width);
  }
}

// Calls f(panel, n, width) for every 24-pixel panel [n, n + width) of a "same" conv's implicit
// im2col (K = c_in*k*k rows of 24, built by same_panel into a per-thread buffer).
template <class F>
void for_each_same_panel24(int c_in, int h, int w, int k, const float* x,
                           const std::uint64_t* block_masks, F&& f) {
  const int pad = (k - 1) / 2, kk = k * k, K = c_in * kk, N = h * w;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(h) * w;
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(K) * 24)
    panel.resize(static_cast<std::size_t>(K) * 24);
  float* pb = panel.data();
  std::ptrdiff_t offsets[49];  // same_panel's kMaxTaps: k <= 7
  for (int t = 0; t < kk && t < 49; ++t)
    offsets[t] = static_cast<std::ptrdiff_t>(t / k - pad) * w + (t % k - pad);
  for (int n = 0; n < N; n += 24) {
    same_panel(c_in, kk, plane, offsets, x, n,
               block_masks + static_cast<std::ptrdiff_t>(n / 24) * kk, pb);
    f(static_cast<const float*>(pb), n, std::min(24, N - n));
  }
}

// Panel (K x 24) of explicit-geometry im2col rows (any stride and padding) gathered from the
// image: offs holds, for each tap, the 24 pixels' offsets in a channel plane (-1: zero).
inline void gather_panel(int c_in, int kk, std::ptrdiff_t plane, const std::int32_t* offs,
                         const float* x, float* pb) {
  const __m256i neg = _mm256_set1_epi32(-1);
  const __m256 z = _mm256_setzero_ps();
  for (int c = 0; c < c_in; ++c) {
    const float* xc = x + c * plane;
    for (int t = 0; t < kk; ++t, pb += 24) {
      const std::int32_t* o = offs + t * 24;
      for (int v = 0; v < 3; ++v) {
        const __m256i iv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 8 * v));
        const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(iv, neg));
        _mm256_storeu_ps(pb + 8 * v, _mm256_mask_i32gather_ps(z, xc, iv, valid, 4));
      }
    }
  }
}

// Calls f(panel, n, width) for every 24-pixel panel [n, n + width) of an N-pixel output whose
// im2col rows gather_panel builds from the per-block offset tables offs (conv_gather_offsets).
template <class F>
void for_each_gathered_panel24(int c_in, int h, int w, int k, int N, const float* x,
                               const std::int32_t* offs, F&& f) {
  const int kk = k * k;
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(c_in) * kk * 24)
    panel.resize(static_cast<std::size_t>(c_in) * kk * 24);
  for (int n = 0; n < N; n += 24) {
    gather_panel(c_in, kk, static_cast<std::ptrdiff_t>(h) * w,
                 offs + static_cast<std::ptrdiff_t>(n / 24) * kk * 24, x, panel.data());
    f(static_cast<const float*>(panel.data()), n, std::min(24, N - n));
  }
}

}  // namespace
#endif

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
#elif defined(NCE_NN_AVX2)
  // As above: B's 24-column blocks are copied into a contiguous panel first.
  for_each_copied_panel24(K, N, B, ldb, [&](const float* pb, int n, int width) {
    rows24(M, K, At, pb, Y + n, ldy, accumulate, width);
  });
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

#if defined(__AVX512F__)
namespace {

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
    const int R = std::min(8, K - k);
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

}  // namespace
#endif

void weight_grad_explicit(int M, int K, int N, const float* dy_t, const float* col,
                          std::ptrdiff_t ldb, float* dwt) {
#if defined(__AVX512F__)
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(K) * 48)
    panel.resize(static_cast<std::size_t>(K) * 48);
  float* pb = panel.data();
  for (int n = 0; n < N; n += 48) {
    const int width = std::min(48, N - n);
    const std::uint64_t m = width == 48 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
    for (int k = 0; k < K; ++k) {
      const float* src = col + k * ldb + n;
      float* dst = pb + static_cast<std::ptrdiff_t>(k) * 48;
      _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src));
      _mm512_storeu_ps(dst + 16, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), src + 16));
      _mm512_storeu_ps(dst + 32, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 32), src + 32));
    }
    wgrad_block(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  }
#elif defined(NCE_NN_AVX2)
  for_each_copied_panel24(K, N, col, ldb, [&](const float* pb, int n, int width) {
    wgrad_block24(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
#else
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n)
      for (int m = 0; m < M; ++m) dwt[k * M + m] += col[k * ldb + n] * dy_t[n * M + m];
#endif
}

void weight_grad_same(int M, int c_in, int h, int w, int k, const float* dy_t, const float* x,
                      float* dwt, const std::uint64_t* block_masks) {
#if defined(__AVX512F__)
  const int pad = (k - 1) / 2, kk = k * k, K = c_in * kk, N = h * w;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(h) * w;
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(K) * 48)
    panel.resize(static_cast<std::size_t>(K) * 48);
  float* pb = panel.data();
  std::ptrdiff_t offsets[64];
  for (int t = 0; t < kk && t < 64; ++t)
    offsets[t] = static_cast<std::ptrdiff_t>(t / k - pad) * w + (t % k - pad);
  for (int n = 0; n < N; n += 48) {
    const int width = std::min(48, N - n);
    const std::uint64_t* masks = block_masks + static_cast<std::ptrdiff_t>(n / 48) * kk;
    for (int c = 0; c < c_in; ++c) {
      const float* xc = x + c * plane + n;
      for (int t = 0; t < kk; ++t) {
        const float* src = xc + offsets[t];
        float* dst = pb + static_cast<std::ptrdiff_t>(c * kk + t) * 48;
        const std::uint64_t m = masks[t];
        _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src));
        _mm512_storeu_ps(dst + 16,
                         _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), src + 16));
        _mm512_storeu_ps(dst + 32,
                         _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 32), src + 32));
      }
    }
    wgrad_block(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  }
#elif defined(NCE_NN_AVX2)
  const int K = c_in * k * k;
  for_each_same_panel24(c_in, h, w, k, x, block_masks, [&](const float* pb, int n, int width) {
    wgrad_block24(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
#else
  (void)M, (void)c_in, (void)h, (void)w, (void)k, (void)dy_t, (void)x, (void)dwt;
  (void)block_masks;
#endif
}

void pack_at(int M, int K, const float* At, float* packed) {
#if defined(NCE_NN_AVX2)
  // Rows of A in tiles of 4 (the last one M % 4), each tile K x R, contiguous.
  for (int m = 0; m < M; m += 4) {
    const int R = std::min(4, M - m);
    float* dst = packed + static_cast<std::ptrdiff_t>(m) * K;
    for (int k = 0; k < K; ++k)
      for (int r = 0; r < R; ++r) dst[k * R + r] = At[static_cast<std::ptrdiff_t>(k) * M + m + r];
  }
#else
  std::copy(At, At + static_cast<std::ptrdiff_t>(M) * K, packed);
#endif
}

void transpose(int rows, int cols, const float* src, float* dst) {
  int r = 0;
#if defined(__AVX2__)
  for (; r + 8 <= rows; r += 8) {
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
      const float* s = src + static_cast<std::ptrdiff_t>(r) * cols + c;
      __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + cols),
             r2 = _mm256_loadu_ps(s + 2 * cols), r3 = _mm256_loadu_ps(s + 3 * cols),
             r4 = _mm256_loadu_ps(s + 4 * cols), r5 = _mm256_loadu_ps(s + 5 * cols),
             r6 = _mm256_loadu_ps(s + 6 * cols), r7 = _mm256_loadu_ps(s + 7 * cols);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                   t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                   t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                   t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      r0 = _mm256_permute2f128_ps(u0, u4, 0x20);
      r1 = _mm256_permute2f128_ps(u1, u5, 0x20);
      r2 = _mm256_permute2f128_ps(u2, u6, 0x20);
      r3 = _mm256_permute2f128_ps(u3, u7, 0x20);
      r4 = _mm256_permute2f128_ps(u0, u4, 0x31);
      r5 = _mm256_permute2f128_ps(u1, u5, 0x31);
      r6 = _mm256_permute2f128_ps(u2, u6, 0x31);
      r7 = _mm256_permute2f128_ps(u3, u7, 0x31);
      float* d = dst + static_cast<std::ptrdiff_t>(c) * rows + r;
      _mm256_storeu_ps(d, r0);
      _mm256_storeu_ps(d + rows, r1);
      _mm256_storeu_ps(d + 2 * rows, r2);
      _mm256_storeu_ps(d + 3 * rows, r3);
      _mm256_storeu_ps(d + 4 * rows, r4);
      _mm256_storeu_ps(d + 5 * rows, r5);
      _mm256_storeu_ps(d + 6 * rows, r6);
      _mm256_storeu_ps(d + 7 * rows, r7);
    }
    for (; c < cols; ++c)
      for (int i = r; i < r + 8; ++i)
        dst[static_cast<std::ptrdiff_t>(c) * rows + i] = src[static_cast<std::ptrdiff_t>(i) * cols + c];
  }
#endif
  // Remaining rows: contiguous writes, one read stream per row.
  if (r < rows)
    for (int c = 0; c < cols; ++c)
      for (int i = r; i < rows; ++i)
        dst[static_cast<std::ptrdiff_t>(c) * rows + i] = src[static_cast<std::ptrdiff_t>(i) * cols + c];
}

bool conv_gather_supported() {
#if defined(NCE_NN_AVX2)
  return true;
#else
  return false;
#endif
}

void conv_gather_offsets(int h, int w, int k, int stride, int pad, int ho, int wo,
                         std::vector<std::int32_t>& offs) {
  const int kk = k * k, N = ho * wo, blocks = (N + 23) / 24;
  offs.assign(static_cast<std::size_t>(blocks) * kk * 24, -1);
  for (int b = 0; b < blocks; ++b)
    for (int j = 0; j < 24 && b * 24 + j < N; ++j) {
      const int oy = (b * 24 + j) / wo, ox = (b * 24 + j) % wo;
      for (int t = 0; t < kk; ++t) {
        const int iy = oy * stride - pad + t / k, ix = ox * stride - pad + t % k;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
          offs[(static_cast<std::size_t>(b) * kk + t) * 24 + j] = iy * w + ix;
      }
    }
}

void conv_gather_gemm(int M, int c_in, int h, int w, int k, int ho, int wo, const float* At,
                      const float* x, float* Y, const std::int32_t* offs) {
#if defined(NCE_NN_AVX2)
  const int K = c_in * k * k, N = ho * wo;
  for_each_gathered_panel24(c_in, h, w, k, N, x, offs, [&](const float* pb, int n, int width) {
    rows24(M, K, At, pb, Y + n, N, false, width);
  });
#else
  (void)M, (void)c_in, (void)h, (void)w, (void)k, (void)ho, (void)wo, (void)At, (void)x, (void)Y;
  (void)offs;
#endif
}

void weight_grad_gather(int M, int c_in, int h, int w, int k, int ho, int wo, const float* dy_t,
                        const float* x, float* dwt, const std::int32_t* offs) {
#if defined(NCE_NN_AVX2)
  const int K = c_in * k * k, N = ho * wo;
  for_each_gathered_panel24(c_in, h, w, k, N, x, offs, [&](const float* pb, int n, int width) {
    wgrad_block24(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
#else
  (void)M, (void)c_in, (void)h, (void)w, (void)k, (void)ho, (void)wo, (void)dy_t, (void)x;
  (void)dwt, (void)offs;
#endif
}

bool conv_same_gemm_supported() {
#if defined(__AVX512F__) || defined(NCE_NN_AVX2)
  return true;
#else
  return false;
#endif
}

void conv_same_masks(int h, int w, int k, std::vector<std::uint64_t>& masks) {
#if defined(NCE_NN_AVX2)
  constexpr int kBlock = 24;  // the AVX2 panels
#else
  constexpr int kBlock = 48;
#endif
  const int pad = (k - 1) / 2, kk = k * k, N = h * w;
  const int blocks = (N + kBlock - 1) / kBlock;
  masks.assign(static_cast<std::size_t>(blocks) * kk, 0);
  for (int b = 0; b < blocks; ++b) {
    const int n = b * kBlock, width = std::min(kBlock, N - n);
    for (int j = 0; j < width; ++j) {
      const int oy = (n + j) / w, ox = (n + j) % w;
      for (int t = 0; t < kk; ++t) {
        const int iy = oy + t / k - pad, ix = ox + t % k - pad;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
          masks[static_cast<std::size_t>(b) * kk + t] |= std::uint64_t{1} << j;
      }
    }
  }
}

void conv_same_gemm(int M, int c_in, int h, int w, int k, const float* At, const float* x, float* Y,
                    bool accumulate, const std::uint64_t* block_masks) {
#if defined(__AVX512F__)
  const int pad = (k - 1) / 2, kk = k * k, K = c_in * kk, N = h * w;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(h) * w;
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<std::size_t>(K) * 48)
    panel.resize(static_cast<std::size_t>(K) * 48);
  float* pb = panel.data();
  std::ptrdiff_t offsets[64];
  for (int t = 0; t < kk && t < 64; ++t)
    offsets[t] = static_cast<std::ptrdiff_t>(t / k - pad) * w + (t % k - pad);
  for (int n = 0; n < N; n += 48) {
    const int width = std::min(48, N - n);
    const std::uint64_t* masks = block_masks + static_cast<std::ptrdiff_t>(n / 48) * kk;
    for (int c = 0; c < c_in; ++c) {
      const float* xc = x + c * plane + n;
      for (int t = 0; t < kk; ++t) {
        const float* src = xc + offsets[t];
        float* dst = pb + static_cast<std::ptrdiff_t>(c * kk + t) * 48;
        const std::uint64_t m = masks[t];
        _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src));
        _mm512_storeu_ps(dst + 16,
                         _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), src + 16));
        _mm512_storeu_ps(dst + 32,
                         _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 32), src + 32));
      }
    }
    if (width == 48) {
      rows<3>(M, K, At, pb, 48, Y + n, N, accumulate, 0xFFFF);
    } else {
      // Tail: up to three 16-column blocks out of the same panel (stride 48).
      for (int j = 0; j < width; j += 16) {
        const int left = width - j;
        const __mmask16 mask =
            left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
        rows<1>(M, K, At, pb + j, 48, Y + n + j, N, accumulate, mask);
      }
    }
  }
#elif defined(NCE_NN_AVX2)
  const int K = c_in * k * k, N = h * w;
  for_each_same_panel24(c_in, h, w, k, x, block_masks, [&](const float* pb, int n, int width) {
    rows24(M, K, At, pb, Y + n, N, accumulate, width);
  });
#else
  (void)M, (void)c_in, (void)h, (void)w, (void)k, (void)At, (void)x, (void)Y, (void)accumulate;
  (void)block_masks;
#endif
}

}  // namespace nce::nn::detail
