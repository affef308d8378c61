// small_gemm.h's kernels for AVX2 + FMA (16 ymm registers): 4 x 24 tiles of Y, 24-pixel panels,
// and the gathered im2col panels of strided convs; and the AVX transpose every wider set uses.
// Compiled with -march=x86-64-v3 (search/CMakeLists.txt); the rules of small_gemm_kernels.h apply.
#include "small_gemm_kernels.h"

#if NCE_NN_X86_LEVELS

#if !defined(__AVX2__) || !defined(__FMA__)
#error "small_gemm_avx2.cpp is compiled with -march=x86-64-v3 (search/CMakeLists.txt)"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace nce::nn::detail {

void transpose_avx2(int rows, int cols, const float* src, float* dst) {
  int r = 0;
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
        dst[static_cast<std::ptrdiff_t>(c) * rows + i] =
            src[static_cast<std::ptrdiff_t>(i) * cols + c];
  }
  // Remaining rows: contiguous writes, one read stream per row.
  if (r < rows)
    for (int c = 0; c < cols; ++c)
      for (int i = r; i < rows; ++i)
        dst[static_cast<std::ptrdiff_t>(c) * rows + i] =
            src[static_cast<std::ptrdiff_t>(i) * cols + c];
}

namespace {

inline int min_int(int a, int b) {
  return a < b ? a : b;
}

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
  float* out = Y;
  std::ptrdiff_t ld = ldy;
  if (width < 24) {
    out = thread_buffer(BufferSlot::kTile, static_cast<std::size_t>(M) * 24), ld = 24;
    if (accumulate)
      for (int m = 0; m < M; ++m)
        std::memcpy(out + m * 24, Y + m * ldy, sizeof(float) * static_cast<std::size_t>(width));
  }
  // At is packed (pack_at): the K x R block of rows [m, m + R) starts at At + m*K.
  int m = 0;
  for (; m + 4 <= M; m += 4) tile_rx24<4>(K, At + m * K, panel, out + m * ld, ld, accumulate);
  with_tail_rows<3>(M - m, [&](auto rows_left) {
    tile_rx24<decltype(rows_left)::value>(K, At + m * K, panel, out + m * ld, ld, accumulate);
  });
  if (width < 24)
    for (int r = 0; r < M; ++r)
      std::memcpy(Y + r * ldy, out + r * 24, sizeof(float) * static_cast<std::size_t>(width));
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
  for (; m + 16 <= M; m += 16) wgrad_tile16<R, true>(width, panel, dyt + m, M, dwt + m, all, all);
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
  with_tail_rows<5>(K - k, [&](auto rows_left) {
    wgrad_rows<decltype(rows_left)::value>(M, width, pk, dyt, dk);
  });
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
  float* pb = thread_buffer(BufferSlot::kPanel, static_cast<std::size_t>(K) * 24);
  for (int n = 0; n < N; n += 24) {
    const int width = min_int(24, N - n);
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
  float* pb = thread_buffer(BufferSlot::kPanel, static_cast<std::size_t>(K) * 24);
  std::ptrdiff_t offsets[49];  // same_panel's kMaxTaps: k <= 7
  for (int t = 0; t < kk && t < 49; ++t)
    offsets[t] = static_cast<std::ptrdiff_t>(t / k - pad) * w + (t % k - pad);
  for (int n = 0; n < N; n += 24) {
    same_panel(c_in, kk, plane, offsets, x, n,
               block_masks + static_cast<std::ptrdiff_t>(n / 24) * kk, pb);
    f(static_cast<const float*>(pb), n, min_int(24, N - n));
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
  float* pb = thread_buffer(BufferSlot::kPanel, static_cast<std::size_t>(c_in) * kk * 24);
  for (int n = 0; n < N; n += 24) {
    gather_panel(c_in, kk, static_cast<std::ptrdiff_t>(h) * w,
                 offs + static_cast<std::ptrdiff_t>(n / 24) * kk * 24, x, pb);
    f(static_cast<const float*>(pb), n, min_int(24, N - n));
  }
}

void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate) {
  // B's rows are often 4 KiB apart (a 32x32 map): its 24-column blocks are copied into a
  // contiguous panel first.
  for_each_copied_panel24(K, N, B, ldb, [&](const float* pb, int n, int width) {
    rows24(M, K, At, pb, Y + n, ldy, accumulate, width);
  });
}

void weight_grad_explicit(int M, int K, int N, const float* dy_t, const float* col,
                          std::ptrdiff_t ldb, float* dwt) {
  for_each_copied_panel24(K, N, col, ldb, [&](const float* pb, int n, int width) {
    wgrad_block24(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
}

void weight_grad_same(int M, int c_in, int h, int w, int k, const float* dy_t, const float* x,
                      float* dwt, const std::uint64_t* block_masks) {
  const int K = c_in * k * k;
  for_each_same_panel24(c_in, h, w, k, x, block_masks, [&](const float* pb, int n, int width) {
    wgrad_block24(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
}

void conv_same_gemm(int M, int c_in, int h, int w, int k, const float* At, const float* x, float* Y,
                    bool accumulate, const std::uint64_t* block_masks) {
  const int K = c_in * k * k, N = h * w;
  for_each_same_panel24(c_in, h, w, k, x, block_masks, [&](const float* pb, int n, int width) {
    rows24(M, K, At, pb, Y + n, N, accumulate, width);
  });
}

void conv_gather_gemm(int M, int c_in, int h, int w, int k, int ho, int wo, const float* At,
                      const float* x, float* Y, const std::int32_t* offs) {
  const int K = c_in * k * k, N = ho * wo;
  for_each_gathered_panel24(c_in, h, w, k, N, x, offs, [&](const float* pb, int n, int width) {
    rows24(M, K, At, pb, Y + n, N, false, width);
  });
}

void weight_grad_gather(int M, int c_in, int h, int w, int k, int ho, int wo, const float* dy_t,
                        const float* x, float* dwt, const std::int32_t* offs) {
  const int K = c_in * k * k, N = ho * wo;
  for_each_gathered_panel24(c_in, h, w, k, N, x, offs, [&](const float* pb, int n, int width) {
    wgrad_block24(M, K, width, pb, dy_t + static_cast<std::ptrdiff_t>(n) * M, dwt);
  });
}

void pack_at(int M, int K, const float* At, float* packed) {
  // Rows of A in tiles of 4 (the last one M % 4), each tile K x R, contiguous.
  for (int m = 0; m < M; m += 4) {
    const int R = min_int(4, M - m);
    float* dst = packed + static_cast<std::ptrdiff_t>(m) * K;
    for (int k = 0; k < K; ++k)
      for (int r = 0; r < R; ++r) dst[k * R + r] = At[static_cast<std::ptrdiff_t>(k) * M + m + r];
  }
}

}  // namespace

const GemmKernels kAvx2Kernels = {
    "avx2",
    24,
    pack_at,
    gemm_at_b,
    weight_grad_explicit,
    conv_same_gemm,
    weight_grad_same,
    conv_gather_gemm,
    weight_grad_gather,
    transpose_avx2,
};

}  // namespace nce::nn::detail

#endif  // NCE_NN_X86_LEVELS
