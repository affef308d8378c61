// Internal to small_gemm*.cpp, batch_norm*.cpp and their tests: the kernels of small_gemm.h for
// each instruction-set level of nce/nn/isa.h, one file each (small_gemm_avx512.cpp,
// small_gemm_avx2.cpp, small_gemm_portable.cpp), and the table small_gemm.cpp dispatches through.
// The AVX2 and AVX-512 files are compiled with their level's flags (search/CMakeLists.txt) and run
// only where the CPU has those instructions, so they must not define anything the linker could
// pick for other files: no library templates (std::vector, std::min, ...; the per-thread buffers
// come from thread_buffer below), no inline functions of shared headers, no static initializers.
// tests/nn/isa_objects_check.sh checks their objects for weak symbols and initializers.
// Every function has the contract of its namesake in small_gemm.h; layouts are row-major.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

// The AVX2 and AVX-512 levels exist on x86-64 builds (search/CMakeLists.txt compiles their files).
#if defined(__x86_64__)
#define NCE_NN_X86_LEVELS 1
#else
#define NCE_NN_X86_LEVELS 0
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
#if NCE_NN_X86_LEVELS
extern const GemmKernels kAvx512Kernels;  // 8 x 48 tiles of zmm registers, 48-pixel panels
extern const GemmKernels kAvx2Kernels;    // 4 x 24 tiles of ymm registers, 24-pixel panels
// The 8 x 8 block transpose (AVX, exact): the AVX2 and AVX-512 sets use it.
void transpose_avx2(int rows, int cols, const float* src, float* dst);
#endif
extern const GemmKernels kPortableKernels;  // plain loops; no implicit-im2col kernels
void transpose_portable(int rows, int cols, const float* src, float* dst);

// Every set compiled into this build, best first (isa.h's levels avx512, avx2, portable).
std::vector<const GemmKernels*> compiled_gemm_kernels();
// The set of the active level (isa.h's active_isa()): the one small_gemm.h calls.
const GemmKernels& active_gemm_kernels();

// A per-thread buffer of at least `floats` floats for the kernels' panels, one per slot (each
// kernel call uses a slot for one purpose; a nested use takes another slot). Grows, never shrinks;
// valid until the same thread asks for the same slot again. Compiled at the baseline
// (small_gemm.cpp).
enum class BufferSlot { kPanel, kTile, kCount };
float* thread_buffer(BufferSlot slot, std::size_t floats);

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
