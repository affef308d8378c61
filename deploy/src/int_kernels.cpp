#include "nce/deploy/int_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "nce/common/name_table.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NCE_DEPLOY_X86 1
#endif

namespace nce::deploy {

namespace {

const common::NamedValue<KernelKind> kKernelNames[] = {
    {KernelKind::kPortable, "portable"}, {KernelKind::kAvx2, "avx2"}, {KernelKind::kVnni, "vnni"}};

}  // namespace

const char* to_string(KernelKind kind) {
  return common::name_of(kKernelNames, kind);
}

bool kernel_supported(KernelKind kind) {
  if (kind == KernelKind::kPortable) return true;
#if defined(NCE_DEPLOY_X86)
  __builtin_cpu_init();
  if (kind == KernelKind::kAvx2) return __builtin_cpu_supports("avx2");
  if (kind == KernelKind::kVnni)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#endif
  return false;
}

KernelKind best_kernel() {
  if (kernel_supported(KernelKind::kVnni)) return KernelKind::kVnni;
  if (kernel_supported(KernelKind::kAvx2)) return KernelKind::kAvx2;
  return KernelKind::kPortable;
}

KernelKind parse_kernel(const std::string& name) {
  if (name == "auto") return best_kernel();
  const std::optional<KernelKind> named = common::value_named(kKernelNames, name);
  if (!named) {
    throw std::invalid_argument("engine '" + name + "': want " + common::names_list(kKernelNames, ", ") +
                                " or auto");
  }
  const KernelKind k = *named;
  if (!kernel_supported(k))
    throw std::runtime_error("engine '" + name + "': this CPU does not have its instructions");
  return k;
}

PackedWeights pack_weights(const std::int8_t* w, int M, int K) {
  PackedWeights p;
  p.K = K;
  p.M = M;
  p.Kp = padded_k(K);
  p.Mp = padded_m(M);
  p.data.assign(static_cast<std::size_t>(p.Kp) * p.Mp, 0);
  for (int m = 0; m < M; ++m) {
    for (int k = 0; k < K; ++k) {
      const std::int8_t v = w[static_cast<std::size_t>(m) * K + k];
      p.max_abs = std::max(p.max_abs, std::abs(static_cast<int>(v)));
      p.data[(static_cast<std::size_t>(k / 4) * p.Mp + m) * 4 + k % 4] = v;
    }
  }
  return p;
}

bool avx2_exact(int max_a, int max_abs_w) {
  return 2L * max_a * max_abs_w <= 32767L;
}

namespace {

// Row r's bytes of segment g start at A.base + r * A.pixel_stride + g * A.segment_stride.
void gemm_portable(const Operand& A, int N, const PackedWeights& W, std::int32_t* C, int ldc) {
  const int k4s = A.segment_bytes / 4;
  for (int n = 0; n < N; ++n) {
    std::int32_t* c = C + static_cast<std::size_t>(n) * ldc;
    for (int m = 0; m < W.Mp; ++m) c[m] = 0;
    const std::int8_t* b = W.data.data();
    for (int g = 0; g < A.segments; ++g) {
      const std::uint8_t* a = A.base + n * A.pixel_stride + g * A.segment_stride;
      for (int k4 = 0; k4 < k4s; ++k4, b += static_cast<std::size_t>(W.Mp) * 4) {
        const int a0 = a[4 * k4], a1 = a[4 * k4 + 1], a2 = a[4 * k4 + 2], a3 = a[4 * k4 + 3];
        if ((a0 | a1 | a2 | a3) == 0) continue;
        for (int m = 0; m < W.Mp; ++m) {
          const std::int8_t* bm = b + 4 * m;
          c[m] += a0 * bm[0] + a1 * bm[1] + a2 * bm[2] + a3 * bm[3];
        }
      }
    }
  }
}

#if defined(NCE_DEPLOY_X86)

#define NCE_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define NCE_AVX2_TARGET __attribute__((target("avx2")))

inline std::int32_t load4(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// NR pixels x MV vectors of 16 channels, starting at pixel n0 and channel m0.
template <int NR, int MV>
NCE_VNNI_TARGET void vnni_tile(const Operand& A, int n0, const PackedWeights& W, int m0,
                               std::int32_t* C, int ldc) {
  __m512i acc[NR][MV];
#pragma GCC unroll 16
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < MV; ++v) acc[r][v] = _mm512_setzero_si512();
  const int k4s = A.segment_bytes / 4;
  const std::ptrdiff_t ps = A.pixel_stride;
  const std::int8_t* b = W.data.data() + static_cast<std::size_t>(m0) * 4;
  const std::size_t bstep = static_cast<std::size_t>(W.Mp) * 4;
  for (int g = 0; g < A.segments; ++g) {
    const std::uint8_t* a = A.base + n0 * ps + g * A.segment_stride;
    for (int k4 = 0; k4 < k4s; ++k4, b += bstep, a += 4) {
      __m512i bv[MV];
#pragma GCC unroll 4
      for (int v = 0; v < MV; ++v) bv[v] = _mm512_loadu_si512(b + 64 * v);
#pragma GCC unroll 16
      for (int r = 0; r < NR; ++r) {
        const __m512i av = _mm512_set1_epi32(load4(a + r * ps));
#pragma GCC unroll 4
        for (int v = 0; v < MV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < MV; ++v)
      _mm512_storeu_si512(C + static_cast<std::size_t>(n0 + r) * ldc + m0 + 16 * v, acc[r][v]);
}

template <int MV, int NR>
NCE_VNNI_TARGET void vnni_rest(const Operand& A, int n0, int rest, const PackedWeights& W, int m0,
                               std::int32_t* C, int ldc) {
  if constexpr (NR > 0) {
    if (rest == NR) {
      vnni_tile<NR, MV>(A, n0, W, m0, C, ldc);
    } else {
      vnni_rest<MV, NR - 1>(A, n0, rest, W, m0, C, ldc);
    }
  }
}

template <int MV, int NRMAX>
NCE_VNNI_TARGET void vnni_block(const Operand& A, int N, const PackedWeights& W, int m0,
                                std::int32_t* C, int ldc) {
  int n = 0;
  for (; n + NRMAX <= N; n += NRMAX) vnni_tile<NRMAX, MV>(A, n, W, m0, C, ldc);
  if (n < N) vnni_rest<MV, NRMAX - 1>(A, n, N - n, W, m0, C, ldc);
}

NCE_VNNI_TARGET void gemm_vnni(const Operand& A, int N, const PackedWeights& W, std::int32_t* C,
                               int ldc) {
  int m0 = 0;
  int left = W.Mp / 16;
  while (left > 0) {
    if (left >= 4) {
      vnni_block<4, 4>(A, N, W, m0, C, ldc);
      m0 += 64;
      left -= 4;
    } else if (left == 3) {
      vnni_block<3, 7>(A, N, W, m0, C, ldc);
      m0 += 48;
      left -= 3;
    } else if (left == 2) {
      vnni_block<2, 8>(A, N, W, m0, C, ldc);
      m0 += 32;
      left -= 2;
    } else {
      vnni_block<1, 16>(A, N, W, m0, C, ldc);
      m0 += 16;
      left -= 1;
    }
  }
}

// NR pixels x 16 channels (two vectors of 8) starting at pixel n0, channel m0.
template <int NR>
NCE_AVX2_TARGET void avx2_tile(const Operand& A, int n0, const PackedWeights& W, int m0,
                               std::int32_t* C, int ldc) {
  __m256i acc[NR][2];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const int k4s = A.segment_bytes / 4;
  const std::ptrdiff_t ps = A.pixel_stride;
  const std::int8_t* b = W.data.data() + static_cast<std::size_t>(m0) * 4;
  const std::size_t bstep = static_cast<std::size_t>(W.Mp) * 4;
  for (int g = 0; g < A.segments; ++g) {
    const std::uint8_t* a = A.base + n0 * ps + g * A.segment_stride;
    for (int k4 = 0; k4 < k4s; ++k4, b += bstep, a += 4) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const __m256i av = _mm256_set1_epi32(load4(a + r * ps));
        acc[r][0] =
            _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones));
        acc[r][1] =
            _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones));
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    std::int32_t* c = C + static_cast<std::size_t>(n0 + r) * ldc + m0;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), acc[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), acc[r][1]);
  }
}

NCE_AVX2_TARGET void gemm_avx2(const Operand& A, int N, const PackedWeights& W, std::int32_t* C,
                               int ldc) {
  constexpr int kNr = 5;
  for (int m0 = 0; m0 < W.Mp; m0 += 16) {
    int n = 0;
    for (; n + kNr <= N; n += kNr) avx2_tile<kNr>(A, n, W, m0, C, ldc);
    for (; n < N; ++n) avx2_tile<1>(A, n, W, m0, C, ldc);
  }
}

#endif  // NCE_DEPLOY_X86

}  // namespace

void gemm_u8s8(KernelKind kind, const Operand& A, int N, const PackedWeights& W, std::int32_t* C,
               int ldc) {
  if (A.segments * A.segment_bytes != W.Kp || A.segment_bytes % 4 != 0)
    throw std::invalid_argument("gemm_u8s8: the operand's segments do not cover the packed K");
#if defined(NCE_DEPLOY_X86)
  if (kind == KernelKind::kVnni) {
    gemm_vnni(A, N, W, C, ldc);
    return;
  }
  if (kind == KernelKind::kAvx2 && avx2_exact(A.max_value, W.max_abs)) {
    gemm_avx2(A, N, W, C, ldc);
    return;
  }
#endif
  gemm_portable(A, N, W, C, ldc);
}

void gemm_u8s8(KernelKind kind, const std::uint8_t* A, int N, int max_a, const PackedWeights& W,
               std::int32_t* C, int ldc) {
  gemm_u8s8(kind, Operand{A, W.Kp, 1, 0, W.Kp, max_a}, N, W, C, ldc);
}

}  // namespace nce::deploy
