// The integer engine's conv epilogues in AVX-512 (F, BW, DQ, VL; run with the VNNI kernel) and
// the residual add run in the requantization of the conv that produces one of its inputs
// (int_conv.h: FusedAdd, fused_add_rows, threshold_rows_wide, requant_rows_wide), each with the
// portable C++ it equals bit for bit. The compiler vectorizes the portable loops poorly here
// (128-bit vectors, or a 64-byte stack round trip between requantization and add; perf, AMD EPYC).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "int_conv.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NCE_FUSED_X86 1
#endif

namespace nce::deploy::detail {
namespace {

// The add of one channel: the conv's stored int32 output v, the other input x.
template <bool Pact>
std::int64_t add_one(const FusedAdd& f, std::int64_t v, std::int64_t x) {
  const std::int64_t sum = ((v * f.mv + f.ov) >> f.sv) + ((x * f.mx + f.ox) >> f.sx);
  if constexpr (Pact) {
    const std::int64_t q = (sum + f.half) >> f.frac_bits;
    return std::clamp<std::int64_t>(q, 0, f.max_code);
  } else {
    return std::clamp<std::int64_t>(sum, 0, INT32_MAX);
  }
}

template <typename TX, bool Pact, typename TO>
void row_portable(const PreparedConv& pc, const std::int32_t* acc, const std::int64_t* bias,
                  const FusedAdd& f, const TX* x, TO* o) {
  const ConvOp& op = *pc.op;
  for (int m = 0; m < op.c_out; ++m) {
    const auto k = static_cast<std::size_t>(m);
    std::int64_t v = acc[m];
    if (bias != nullptr) v = v * (std::int64_t{1} << op.bias_frac_bits) + bias[m];
    v = (v * pc.mult[k] + pc.off[k]) >> pc.shift64[k];
    v = std::clamp(v, op.requant.lo, op.requant.hi);
    const std::int64_t stored = static_cast<std::int32_t>(v);  // the conv's int32 output
    o[m] = static_cast<TO>(add_one<Pact>(f, stored, static_cast<std::int64_t>(x[m])));
  }
}

#if defined(NCE_FUSED_X86)
#define NCE_FUSED_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

// x * m + o >> s per 64-bit lane, x and m int32 values sign-extended (vpmuldq: the exact product,
// far cheaper than vpmullq); the identity mapping (1, 0, 0: the add's domain already) skipped.
NCE_FUSED_TARGET inline __m512i map_avx512(__m512i x, std::int64_t m, std::int64_t o, int s) {
  if (m == 1 && o == 0 && s == 0) return x;
  const __m512i p = _mm512_add_epi64(_mm512_mul_epi32(x, _mm512_set1_epi64(m)), _mm512_set1_epi64(o));
  return _mm512_sra_epi64(p, _mm_cvtsi32_si128(s));
}

// Channels m..m+7: requantized (t = acc, no acc_bias), stored as int32, added, written.
template <typename TX, bool Pact, typename TO>
NCE_FUSED_TARGET inline void eight_avx512(const PreparedConv& pc, const std::int32_t* acc,
                                          const FusedAdd& f, const TX* x, TO* o, int m) {
  const ConvOp& op = *pc.op;
  __m512i v = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + m)));
  const __m512i mult =
      _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&pc.mult[m])));
  v = _mm512_add_epi64(_mm512_mul_epi32(v, mult), _mm512_loadu_si512(&pc.off[m]));
  v = _mm512_srav_epi64(v, _mm512_loadu_si512(&pc.shift64[m]));
  v = _mm512_min_epi64(_mm512_max_epi64(v, _mm512_set1_epi64(op.requant.lo)),
                       _mm512_set1_epi64(op.requant.hi));
  v = _mm512_cvtepi32_epi64(_mm512_cvtepi64_epi32(v));  // the conv's int32 output
  __m512i xv;
  if constexpr (sizeof(TX) == 1) {
    xv = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + m)));
  } else {
    xv = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + m)));
  }
  const __m512i sum =
      _mm512_add_epi64(map_avx512(v, f.mv, f.ov, f.sv), map_avx512(xv, f.mx, f.ox, f.sx));
  if constexpr (Pact) {
    __m512i q = _mm512_sra_epi64(_mm512_add_epi64(sum, _mm512_set1_epi64(f.half)),
                                 _mm_cvtsi32_si128(f.frac_bits));
    q = _mm512_min_epi64(_mm512_max_epi64(q, _mm512_setzero_si512()),
                         _mm512_set1_epi64(f.max_code));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o + m), _mm512_cvtepi64_epi8(q));
  } else {
    __m512i r = _mm512_min_epi64(_mm512_max_epi64(sum, _mm512_setzero_si512()),
                                 _mm512_set1_epi64(INT32_MAX));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + m), _mm512_cvtepi64_epi32(r));
  }
}

// Codes by thresholds for n pixels (acc rows Mp apart, x and o rows M apart): u = sign * acc; the
// code counts the levels j with u >= th[x][j] (th[x]: levels x Mp), th[x] picked per lane by the
// code x (masked loads; xs == 1: one table, x unread). XS, L: xs and levels when known at compile
// time, else 0.
template <int XS, int L>
NCE_FUSED_TARGET void rows_thresholds_avx512(const std::int32_t* sign, const std::int32_t* th0,
                                             int xs_, int levels_, int M, int Mp,
                                             const std::int32_t* acc, int n,
                                             const std::uint8_t* x, std::uint8_t* o) {
  const int xs = XS > 0 ? XS : xs_, levels = L > 0 ? L : levels_;
  const std::size_t per_x = static_cast<std::size_t>(levels) * Mp;
  const __m512i minus1 = _mm512_set1_epi32(-1);
  for (int i = 0; i < n; ++i, acc += Mp, x = xs > 1 ? x + M : x, o += M)
    for (int m = 0; m < M; m += 16) {
      const __m512i u =
          _mm512_mullo_epi32(_mm512_loadu_si512(acc + m), _mm512_loadu_si512(sign + m));
      __m512i xv = _mm512_setzero_si512();
      if (xs > 1)
        xv = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + m)));
      __m512i q = _mm512_setzero_si512();
      for (int j = 0; j < levels; ++j) {
        const std::int32_t* th = th0 + static_cast<std::size_t>(j) * Mp + m;
        __m512i thv = _mm512_loadu_si512(th);
        for (int v = 1; v < xs; ++v)
          thv = _mm512_mask_loadu_epi32(thv, _mm512_cmpeq_epi32_mask(xv, _mm512_set1_epi32(v)),
                                        th + v * per_x);
        q = _mm512_mask_sub_epi32(q, _mm512_cmpge_epi32_mask(u, thv), q, minus1);
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + m), _mm512_cvtepi32_epi8(q));
    }
}

// The requantization of channels m..m+7 (t = acc, or (acc << bias_frac_bits) + bias), written as
// bytes or int32.
template <typename Out>
NCE_FUSED_TARGET inline void requant_eight_avx512(const PreparedConv& pc, const std::int32_t* acc,
                                                  const std::int64_t* bias, Out* o, int m) {
  const ConvOp& op = *pc.op;
  __m512i v = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + m)));
  const __m512i mult =
      _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&pc.mult[m])));
  if (bias != nullptr) {  // t no longer an int32: the full 64-bit product
    v = _mm512_add_epi64(_mm512_slli_epi64(v, static_cast<unsigned>(op.bias_frac_bits)),
                         _mm512_loadu_si512(bias + m));
    v = _mm512_mullo_epi64(v, mult);
  } else {
    v = _mm512_mul_epi32(v, mult);
  }
  v = _mm512_add_epi64(v, _mm512_loadu_si512(&pc.off[m]));
  v = _mm512_srav_epi64(v, _mm512_loadu_si512(&pc.shift64[m]));
  v = _mm512_min_epi64(_mm512_max_epi64(v, _mm512_set1_epi64(op.requant.lo)),
                       _mm512_set1_epi64(op.requant.hi));
  if constexpr (sizeof(Out) == 1) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o + m), _mm512_cvtepi64_epi8(v));
  } else {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + m), _mm512_cvtepi64_epi32(v));
  }
}

template <typename TX, bool Pact, typename TO>
NCE_FUSED_TARGET void row_avx512(const PreparedConv& pc, const std::int32_t* acc,
                                 const FusedAdd& f, const TX* x, TO* o) {
  for (int m = 0; m < pc.op->c_out; m += 8) eight_avx512<TX, Pact>(pc, acc, f, x, o, m);
}
#endif

// n pixels from the accumulator rows acc (and bias rows, if any; Mp apart); x and o: the first
// pixel's other input and output (rows c_out apart).
template <typename TX, bool Pact, typename TO>
void rows(const PreparedConv& pc, const std::int32_t* acc, const std::int64_t* bias, int n,
          const FusedAdd& f, const TX* x, TO* o, bool wide) {
  const int M = pc.op->c_out, Mp = pc.weights.Mp;
#if defined(NCE_FUSED_X86)
  if constexpr (sizeof(TX) == 1 && Pact) {
    if (wide && f.thresholds != nullptr) {
      const FusedThresholds& t = *f.thresholds;
      threshold_rows_wide(t.sign.data(), t.th.data(), t.xs, t.levels, M, Mp, acc, n, x, o);
      return;
    }
  }
  // Whole vectors of 8 channels and no per-pixel bias (the stem's, which feeds no add).
  if (wide && bias == nullptr && M % 8 == 0) {
    for (int i = 0; i < n; ++i, acc += Mp, x += M, o += M) row_avx512<TX, Pact>(pc, acc, f, x, o);
    return;
  }
#endif
  for (int i = 0; i < n; ++i, acc += Mp, x += M, o += M, bias = bias ? bias + Mp : nullptr)
    row_portable<TX, Pact>(pc, acc, bias, f, x, o);
}

}  // namespace

void prepare_fused_thresholds(PreparedConv& pc, const FusedAdd& f, int x_max) {
  const ConvOp& op = *pc.op;
  FusedThresholds& t = pc.add_thresholds;
  t = FusedThresholds{};
  const std::vector<std::int64_t> bound = conv_accumulator_bounds(op, pc.src_max);
  const std::int64_t top = bound.empty() ? 0 : *std::max_element(bound.begin(), bound.end());
  if (!f.pact || x_max < 0 || x_max > 3 || f.max_code < 1 || f.max_code > 3 ||
      !op.acc_bias.empty() || op.requant.lo < INT32_MIN || op.requant.hi > INT32_MAX ||
      top >= (std::int64_t{1} << 30) || op.c_out % 16 != 0)
    return;
  const int Mp = pc.weights.Mp;
  t.xs = x_max + 1;
  t.levels = static_cast<int>(f.max_code);
  t.sign.assign(static_cast<std::size_t>(Mp), 1);
  t.th.assign(static_cast<std::size_t>(t.xs) * t.levels * Mp, static_cast<std::int32_t>(top + 1));
  for (int m = 0; m < op.c_out; ++m) {
    const auto k = static_cast<std::size_t>(m);
    // g(acc): the add's mapped conv output, monotone in acc; sg * u makes it nondecreasing in u.
    auto g = [&](std::int64_t acc) {
      std::int64_t v = (acc * pc.mult[k] + pc.off[k]) >> pc.shift64[k];
      v = std::clamp(v, op.requant.lo, op.requant.hi);
      return (v * f.mv + f.ov) >> f.sv;
    };
    const int sg = (pc.mult[k] < 0) != (f.mv < 0) ? -1 : 1;
    t.sign[k] = sg;
    const std::int64_t b = bound[k];
    for (int x = 0; x < t.xs; ++x)
      for (int j = 1; j <= t.levels; ++j) {
        // code >= j  <=>  g + X(x) + half >= j * 2^frac_bits: the smallest u in [-b, b] with
        // g(sg * u) >= target (g(sg * u) nondecreasing in u), b + 1 if none.
        const std::int64_t target =
            (std::int64_t{j} << f.frac_bits) - f.half - ((x * f.mx + f.ox) >> f.sx);
        std::int64_t lo_u = -b, hi_u = b;
        if (g(sg * hi_u) < target) {
          lo_u = b + 1;
        } else {
          while (lo_u < hi_u) {
            const std::int64_t mid = lo_u + (hi_u - lo_u) / 2;
            if (g(sg * mid) >= target) {
              hi_u = mid;
            } else {
              lo_u = mid + 1;
            }
          }
        }
        t.th[(static_cast<std::size_t>(x) * t.levels + (j - 1)) * Mp + k] =
            static_cast<std::int32_t>(lo_u);
      }
  }
}

void threshold_rows_wide(const std::int32_t* sign, const std::int32_t* th, int xs, int levels,
                         int M, int Mp, const std::int32_t* acc, int n, const std::uint8_t* x,
                         std::uint8_t* o) {
#if defined(NCE_FUSED_X86)
  if (xs == 4 && levels == 3) {  // 2 bits: a fused add
    rows_thresholds_avx512<4, 3>(sign, th, xs, levels, M, Mp, acc, n, x, o);
  } else if (xs == 1 && levels == 3) {  // 2 bits: a conv's codes
    rows_thresholds_avx512<1, 3>(sign, th, xs, levels, M, Mp, acc, n, x, o);
  } else {
    rows_thresholds_avx512<0, 0>(sign, th, xs, levels, M, Mp, acc, n, x, o);
  }
#else
  (void)sign, (void)th, (void)xs, (void)levels, (void)M, (void)Mp, (void)acc, (void)n, (void)x,
      (void)o;
  throw std::logic_error("threshold_rows_wide: not an x86 build");
#endif
}

template <typename Out>
void requant_rows_wide(const PreparedConv& pc, const std::int32_t* acc, const std::int64_t* bias,
                       int n, Out* o) {
#if defined(NCE_FUSED_X86)
  const int M = pc.op->c_out, Mp = pc.weights.Mp;
  for (int i = 0; i < n; ++i, acc += Mp, o += M, bias = bias ? bias + Mp : nullptr)
    for (int m = 0; m < M; m += 8) requant_eight_avx512(pc, acc, bias, o, m);
#else
  (void)pc, (void)acc, (void)bias, (void)n, (void)o;
  throw std::logic_error("requant_rows_wide: not an x86 build");
#endif
}

template void requant_rows_wide<std::uint8_t>(const PreparedConv&, const std::int32_t*,
                                              const std::int64_t*, int, std::uint8_t*);
template void requant_rows_wide<std::int32_t>(const PreparedConv&, const std::int32_t*,
                                              const std::int64_t*, int, std::int32_t*);

bool fused_add_wide_supported() {
#if defined(NCE_FUSED_X86)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }();
  return yes;
#else
  return false;
#endif
}

void fused_add_rows(const PreparedConv& pc, const std::int32_t* acc, const std::int64_t* bias,
                    int n, const FusedAdd& f, std::size_t p0, bool wide) {
  const std::size_t at = p0 * static_cast<std::size_t>(pc.op->c_out);
  if (f.x_codes != nullptr) {
    if (f.pact) {
      rows<std::uint8_t, true>(pc, acc, bias, n, f, f.x_codes + at, f.codes + at, wide);
    } else {
      rows<std::uint8_t, false>(pc, acc, bias, n, f, f.x_codes + at, f.fixed + at, wide);
    }
  } else if (f.pact) {
    rows<std::int32_t, true>(pc, acc, bias, n, f, f.x_fixed + at, f.codes + at, wide);
  } else {
    rows<std::int32_t, false>(pc, acc, bias, n, f, f.x_fixed + at, f.fixed + at, wide);
  }
}

}  // namespace nce::deploy::detail
