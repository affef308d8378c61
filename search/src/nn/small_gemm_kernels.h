// Internal to small_gemm*.cpp and tests/search/small_gemm_test.cpp: the kernels of small_gemm.h
// for each instruction set, one file each (small_gemm_avx512.cpp, small_gemm_avx2.cpp,
// small_gemm_portable.cpp), and the table small_gemm.cpp dispatches through. A set is compiled
// when the compiler targets its instructions (nce_nn is built with -march=native, see
// search/CMakeLists.txt: no file has flags of its own); small_gemm.h uses the best one compiled.
// Every function has the contract of its namesake in small_gemm.h; layouts are row-major.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#define NCE_SMALL_GEMM_AVX512 1
#else
#define NCE_SMALL_GEMM_AVX512 0
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define NCE_SMALL_GEMM_AVX2 1
#else
#define NCE_SMALL_GEMM_AVX2 0
#endif

namespace nce::nn::detail {

// One instruction set's kernels. A null entry: the set has no such kernel (the convolution then
// builds its im2col matrix and calls gemm_at_b / weight_grad_explicit).
struct GemmKernels {
  const char* name;  // "avx512", "avx2", "portable"
  // Pixels per block of the masks conv_same_gemm and weight_grad_same read
  // (conv_same_block_masks).
  int same_block;
  // A is read in the layout this set's pack_at writes: pack and multiply with the same set.
  void (*pack_at)(int M, int K, const float* At, float* packed);
  void (*gemm_at_b)(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb,
                    float* Y, std::ptrdiff_t ldy, bool accumulate);
  void (*weight_grad_explicit)(int M, int K, int N, const float* dy_t, const float* col,
                               std::ptrdiff_t ldb, float* dwt);
  void (*conv_same_gemm)(int M, int c_in, int h, int w, int k, const float* At, const float* x,
                         float* Y, bool accumulate, const std::uint64_t* masks);
  void (*weight_grad_same)(int M, int c_in, int h, int w, int k, const float* dy_t, const float* x,
                           float* dwt, const std::uint64_t* masks);
  // Offsets from conv_gather_offsets (24-pixel blocks).
  void (*conv_gather_gemm)(int M, int c_in, int h, int w, int k, int ho, int wo, const float* At,
                           const float* x, float* Y, const std::int32_t* offs);
  void (*weight_grad_gather)(int M, int c_in, int h, int w, int k, int ho, int wo,
                             const float* dy_t, const float* x, float* dwt,
                             const std::int32_t* offs);
  void (*transpose)(int rows, int cols, const float* src, float* dst);
};

// The sets, defined in their files; a set's name is declared only where it is compiled.
#if NCE_SMALL_GEMM_AVX512
extern const GemmKernels kAvx512Kernels;  // 8 x 48 tiles of zmm registers, 48-pixel panels
#endif
#if NCE_SMALL_GEMM_AVX2
extern const GemmKernels kAvx2Kernels;  // 4 x 24 tiles of ymm registers, 24-pixel panels
#endif
extern const GemmKernels kPortableKernels;  // plain loops; no implicit-im2col kernels

#if defined(__AVX2__)
// The 8 x 8 block transpose (AVX only, exact): every set compiled for AVX2 uses it.
void transpose_avx2(int rows, int cols, const float* src, float* dst);
#endif
void transpose_portable(int rows, int cols, const float* src, float* dst);

// Every set compiled into this build, best first: the first is the one small_gemm.h calls.
std::vector<const GemmKernels*> compiled_gemm_kernels();

// conv_same_masks (small_gemm.h) for blocks of `block` pixels (a set's same_block, <= 64).
void conv_same_block_masks(int block, int h, int w, int k, std::vector<std::uint64_t>& masks);

// Calls f(std::integral_constant<int, n>{}) for a run-time n in [1, Max], nothing otherwise: the
// row tails of the register tiles, each compiled for its own row count.
template <int Max, class F>
inline void with_tail_rows(int n, F&& f) {
  if constexpr (Max > 0) {
    if (n == Max) {
      f(std::integral_constant<int, Max>{});
    } else {
      with_tail_rows<Max - 1>(n, f);
    }
  }
}

}  // namespace nce::nn::detail
