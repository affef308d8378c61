// Internal to batch_norm*.cpp and their tests: batch norm's plane loops at the AVX2 level
// (batch_norm_avx2.cpp, compiled with -march=x86-64-v3; the rules of small_gemm_kernels.h apply, so
// this header declares only plain types and functions). Each kernel does a prefix of the plane
// in vectors and returns its length; batch_norm.cpp finishes the rest with the same scalar loop
// the portable level runs on the whole plane.
#pragma once

#include <cstddef>

#include "small_gemm_kernels.h"  // NCE_NN_X86_LEVELS

namespace nce::nn::detail {

// Sums over one plane that the BN backward needs, after the activation's backward (a plain
// aggregate: no constructor the AVX2 file could emit).
struct PlaneSums {
  float clip;  // sum of g where u >= clip (PACT)
  float g;     // sum of the masked g
  float gx;    // sum of the masked g * (x - mean)
};

// The activation act_bn_plane_backward (batch_norm.cpp) fuses into the BN backward.
enum class PlaneAct { kNone, kRelu, kPact };

#if NCE_NN_X86_LEVELS
// For j < the returned length (a multiple of 8): u = x*scale + shift, g *= pass(u), and the sums
// of PlaneSums added into *sums.
std::size_t act_bn_plane_backward_avx2(PlaneAct act, float clip, const float* x, float scale,
                                       float shift, float mean, float* g, std::size_t n,
                                       PlaneSums* sums);
// For j < the returned length (a multiple of 16): *sum += sum of (a[j] - k), *sq += sum of
// (a[j] - k)^2, each over the prefix in float.
std::size_t plane_moments_avx2(const float* a, std::size_t n, float k, float* sum, float* sq);
#endif

}  // namespace nce::nn::detail
