// Issue 14's kernel question: for b = 2, is the integer engine's GEMM faster as AVX-512 VNNI
// (vpdpbusd: 64 u8 x s8 products per instruction, what `nce infer` runs) or bit-serial
// (AND + VPOPCNTQ over bit planes: 512 one-bit products per instruction pair, 4 plane pairs for
// 2 x 2 bits)? Both compute the same int32 GEMM of ResNet-20's 3x3 convs (2-bit activation codes
// 0..3 times SAWB's effective 2-bit weights 2c+1 in {-3,-1,1,3}), single thread, checked equal.
//
// Bit-serial form: w = 2u - 3 with u = c + 2 in 0..3, so sum_k a w = 2 sum_k a u - 3 sum_k a, and
// sum_k a u = sum_{i,j in {0,1}} 2^(i+j) popcount(a_i & u_j) over the K-bit planes a_i, u_j.
// Timed: the GEMM alone, and the GEMM with the bit planes built from the byte operand (what the
// engine would do per conv, its im2col codes being bytes).
//
//   build/bench/nce_bench_bitserial [--rounds N] [--images N]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "nce/deploy/int_kernels.h"

namespace {

using nce::deploy::KernelKind;

struct Shape {
  const char* name;
  int n_per_image, K, M;
};

// Bit planes: A as [n][plane][kw] words, W as [m / 8][kw][plane][8] words.
struct Planes {
  int kw = 0;
  std::vector<std::uint64_t> a, w;
  std::vector<std::int32_t> row_sum;  // sum_k a per row
};

// 64 codes a step: vptestmb against bit 0 and bit 1 gives the two planes' words.
__attribute__((target("avx512f,avx512bw"))) void pack_a(const std::uint8_t* A, int N, int K,
                                                        int Kp, Planes& p) {
  p.kw = (K + 63) / 64;
  p.a.resize(static_cast<std::size_t>(N) * 2 * p.kw);
  p.row_sum.resize(static_cast<std::size_t>(N));
  const __m512i one = _mm512_set1_epi8(1), two = _mm512_set1_epi8(2);
  for (int n = 0; n < N; ++n) {
    const std::uint8_t* row = A + static_cast<std::size_t>(n) * Kp;
    std::uint64_t* out = p.a.data() + static_cast<std::size_t>(n) * 2 * p.kw;
    long long sum = 0;
    for (int w = 0; w < p.kw; ++w) {
      const int left = K - w * 64;
      const __mmask64 live = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
      const __m512i v = _mm512_maskz_loadu_epi8(live, row + w * 64);
      const std::uint64_t b0 = _mm512_test_epi8_mask(v, one), b1 = _mm512_test_epi8_mask(v, two);
      out[w] = b0;
      out[p.kw + w] = b1;
      sum += __builtin_popcountll(b0) + 2 * __builtin_popcountll(b1);
    }
    p.row_sum[static_cast<std::size_t>(n)] = static_cast<std::int32_t>(sum);
  }
}

// u = c + 2 (c the signed 2-bit code), w = 2u - 3.
void pack_w(const std::vector<int>& u, int M, int K, Planes& p) {
  p.kw = (K + 63) / 64;
  p.w.assign(static_cast<std::size_t>(M / 8) * p.kw * 2 * 8, 0);
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) {
      const int v = u[static_cast<std::size_t>(m) * K + k];
      for (int j = 0; j < 2; ++j)
        if ((v >> j) & 1)
          p.w[((static_cast<std::size_t>(m / 8) * p.kw + k / 64) * 2 + j) * 8 + m % 8] |=
              std::uint64_t{1} << (k % 64);
    }
}

__attribute__((target("avx512f,avx512vpopcntdq"))) void gemm_bitserial(const Planes& p, int N,
                                                                        int M, std::int32_t* C,
                                                                        int ldc) {
  const int kw = p.kw;
  for (int g = 0; g < M / 8; ++g) {
    const std::uint64_t* wg = p.w.data() + static_cast<std::size_t>(g) * kw * 16;
    for (int n = 0; n < N; n += 4) {
      __m512i acc[4][4];
      for (auto& r : acc)
        for (auto& x : r) x = _mm512_setzero_si512();
      const int rows = std::min(4, N - n);
      for (int w = 0; w < kw; ++w) {
        const __m512i u0 = _mm512_loadu_si512(wg + (w * 2 + 0) * 8);
        const __m512i u1 = _mm512_loadu_si512(wg + (w * 2 + 1) * 8);
        for (int r = 0; r < 4; ++r) {
          if (r >= rows) break;
          const std::uint64_t* an = p.a.data() + static_cast<std::size_t>(n + r) * 2 * kw;
          const __m512i a0 = _mm512_set1_epi64(static_cast<long long>(an[w]));
          const __m512i a1 = _mm512_set1_epi64(static_cast<long long>(an[kw + w]));
          acc[r][0] = _mm512_add_epi64(acc[r][0], _mm512_popcnt_epi64(_mm512_and_si512(a0, u0)));
          acc[r][1] = _mm512_add_epi64(acc[r][1], _mm512_popcnt_epi64(_mm512_and_si512(a0, u1)));
          acc[r][2] = _mm512_add_epi64(acc[r][2], _mm512_popcnt_epi64(_mm512_and_si512(a1, u0)));
          acc[r][3] = _mm512_add_epi64(acc[r][3], _mm512_popcnt_epi64(_mm512_and_si512(a1, u1)));
        }
      }
      for (int r = 0; r < rows; ++r) {
        // sum a u = acc00 + 2 (acc01 + acc10) + 4 acc11; C = 2 sum a u - 3 sum a.
        __m512i s = _mm512_add_epi64(
            acc[r][0], _mm512_slli_epi64(_mm512_add_epi64(acc[r][1], acc[r][2]), 1));
        s = _mm512_add_epi64(s, _mm512_slli_epi64(acc[r][3], 2));
        const __m512i c = _mm512_sub_epi64(
            _mm512_slli_epi64(s, 1),
            _mm512_set1_epi64(3LL * p.row_sum[static_cast<std::size_t>(n + r)]));
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(C + static_cast<std::size_t>(n + r) * ldc + g * 8),
            _mm512_cvtepi64_epi32(c));
      }
    }
  }
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7, images = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (a == "--images") images = std::atoi(argv[i + 1]);
  }
  if (!__builtin_cpu_supports("avx512vpopcntdq") ||
      !nce::deploy::kernel_supported(KernelKind::kVnni)) {
    std::fprintf(stderr, "nce_bench_bitserial: this CPU lacks AVX-512 VPOPCNTDQ or VNNI\n");
    return 2;
  }
  const Shape shapes[] = {{"stage 1 (32x32, 16 -> 16)", 1024, 144, 16},
                          {"stage 2 (16x16, 32 -> 32)", 256, 288, 32},
                          {"stage 3 (8x8, 64 -> 64)", 64, 576, 64}};
  std::mt19937 rng(1);
  std::printf("ResNet-20 3x3 convs as GEMMs, %d images per call, 1 thread, %d interleaved rounds "
              "(medians)\n",
              images, rounds);
  std::printf("%-28s %10s %12s %16s %10s %12s\n", "layer", "VNNI us", "bit-serial", "+ plane packing",
              "VNNI/bs", "VNNI/(bs+pk)");
  for (const Shape& s : shapes) {
    const int N = s.n_per_image * images, K = s.K, M = s.M;
    const int Kp = nce::deploy::padded_k(K);
    std::vector<std::uint8_t> A(static_cast<std::size_t>(N) * Kp, 0);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) A[static_cast<std::size_t>(n) * Kp + k] = rng() % 4;
    std::vector<int> u(static_cast<std::size_t>(M) * K);
    std::vector<std::int8_t> w8(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) {
      u[i] = static_cast<int>(rng() % 4);
      w8[i] = static_cast<std::int8_t>(2 * u[i] - 3);
    }
    const nce::deploy::PackedWeights W = nce::deploy::pack_weights(w8.data(), M, K);
    Planes p;
    pack_w(u, M, K, p);
    const int ldc = W.Mp;
    std::vector<std::int32_t> cv(static_cast<std::size_t>(N) * ldc), cb(cv.size());
    // Equal results first.
    nce::deploy::gemm_u8s8(KernelKind::kVnni, A.data(), N, 3, W, cv.data(), ldc);
    pack_a(A.data(), N, K, Kp, p);
    gemm_bitserial(p, N, M, cb.data(), ldc);
    for (int n = 0; n < N; ++n)
      for (int m = 0; m < M; ++m)
        if (cv[static_cast<std::size_t>(n) * ldc + m] != cb[static_cast<std::size_t>(n) * ldc + m]) {
          std::fprintf(stderr, "%s: bit-serial differs at (%d, %d): %d vs VNNI %d\n", s.name, n, m,
                       cb[static_cast<std::size_t>(n) * ldc + m],
                       cv[static_cast<std::size_t>(n) * ldc + m]);
          return 1;
        }
    std::vector<double> tv, tb, tp;
    const int reps = std::max(1, 2000000 / (N * M * K / 64));
    for (int r = 0; r < rounds; ++r) {
      double t0 = now();
      for (int i = 0; i < reps; ++i)
        nce::deploy::gemm_u8s8(KernelKind::kVnni, A.data(), N, 3, W, cv.data(), ldc);
      tv.push_back((now() - t0) / reps);
      t0 = now();
      for (int i = 0; i < reps; ++i) gemm_bitserial(p, N, M, cb.data(), ldc);
      tb.push_back((now() - t0) / reps);
      t0 = now();
      for (int i = 0; i < reps; ++i) {
        pack_a(A.data(), N, K, Kp, p);
        gemm_bitserial(p, N, M, cb.data(), ldc);
      }
      tp.push_back((now() - t0) / reps);
    }
    const double v = median(tv) * 1e6, b = median(tb) * 1e6, pk = median(tp) * 1e6;
    std::printf("%-28s %10.1f %12.1f %16.1f %9.2fx %11.2fx\n", s.name, v, b, pk, v / b, v / pk);
  }
  return 0;
}
