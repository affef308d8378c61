// batch_norm_kernels.h's AVX2 loops. Compiled with -march=x86-64-v3 (search/CMakeLists.txt); the
// rules of small_gemm_kernels.h apply.
#include "batch_norm_kernels.h"

#if NCE_NN_X86_LEVELS

#if !defined(__AVX2__) || !defined(__FMA__)
#error "batch_norm_avx2.cpp is compiled with -march=x86-64-v3 (search/CMakeLists.txt)"
#endif

#include <immintrin.h>

namespace nce::nn::detail {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

std::size_t act_bn_plane_backward_avx2(PlaneAct act, float clip, const float* x, float scale,
                                       float shift, float mean, float* g, std::size_t n,
                                       PlaneSums* sums) {
  const bool pact = act == PlaneAct::kPact, relu = act == PlaneAct::kRelu;
  const __m256 vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift), vm = _mm256_set1_ps(mean),
               vc = _mm256_set1_ps(clip), zero = _mm256_setzero_ps();
  __m256 ac = zero, ag = zero, agx = zero;
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 xv = _mm256_loadu_ps(x + j);
    __m256 gv = _mm256_loadu_ps(g + j);
    const __m256 u = _mm256_add_ps(_mm256_mul_ps(xv, vs), vb);  // unfused, as in the forward
    if (pact) {
      ac = _mm256_add_ps(ac, _mm256_and_ps(_mm256_cmp_ps(u, vc, _CMP_GE_OQ), gv));
      const __m256 pass =
          _mm256_and_ps(_mm256_cmp_ps(u, zero, _CMP_GE_OQ), _mm256_cmp_ps(u, vc, _CMP_LE_OQ));
      gv = _mm256_and_ps(pass, gv);
      _mm256_storeu_ps(g + j, gv);
    } else if (relu) {
      gv = _mm256_and_ps(_mm256_cmp_ps(u, zero, _CMP_GT_OQ), gv);
      _mm256_storeu_ps(g + j, gv);
    }
    ag = _mm256_add_ps(ag, gv);
    agx = _mm256_add_ps(agx, _mm256_mul_ps(gv, _mm256_sub_ps(xv, vm)));
  }
  sums->clip += hsum(ac), sums->g += hsum(ag), sums->gx += hsum(agx);
  return j;
}

std::size_t plane_moments_avx2(const float* a, std::size_t n, float k, float* sum, float* sq) {
  const __m256 vk = _mm256_set1_ps(k);
  __m256 as0 = _mm256_setzero_ps(), aq0 = as0, as1 = as0, aq1 = as0;
  std::size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + j), vk);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + j + 8), vk);
    as0 = _mm256_add_ps(as0, d0), as1 = _mm256_add_ps(as1, d1);
    aq0 = _mm256_add_ps(aq0, _mm256_mul_ps(d0, d0));
    aq1 = _mm256_add_ps(aq1, _mm256_mul_ps(d1, d1));
  }
  *sum += hsum(_mm256_add_ps(as0, as1)), *sq += hsum(_mm256_add_ps(aq0, aq1));
  return j;
}

}  // namespace nce::nn::detail

#endif  // NCE_NN_X86_LEVELS
