// small_gemm.h: the dispatcher. Every call goes to the kernel set of the active instruction-set
// level (nce/nn/isa.h; small_gemm_kernels.h): AVX-512, AVX2 or the portable loops.
#include "small_gemm.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

#include "nce/nn/isa.h"
#include "small_gemm_kernels.h"

namespace nce::nn::detail {
namespace {

const GemmKernels& best() {
  return active_gemm_kernels();
}

}  // namespace

std::vector<const GemmKernels*> compiled_gemm_kernels() {
  std::vector<const GemmKernels*> sets;
#if NCE_NN_X86_LEVELS
  sets.push_back(&kAvx512Kernels);
  sets.push_back(&kAvx2Kernels);
#endif
  sets.push_back(&kPortableKernels);
  return sets;
}

const GemmKernels& active_gemm_kernels() {
  switch (active_isa()) {
#if NCE_NN_X86_LEVELS
    case Isa::kAvx512:
      return kAvx512Kernels;
    case Isa::kAvx2:
      return kAvx2Kernels;
#endif
    default:
      return kPortableKernels;
  }
}

float* thread_buffer(BufferSlot slot, std::size_t floats) {
  thread_local std::vector<float> buffers[static_cast<int>(BufferSlot::kCount)];
  std::vector<float>& b = buffers[static_cast<int>(slot)];
  if (b.size() < floats) b.resize(floats);
  return b.data();
}

void pack_at(int M, int K, const float* At, float* packed) {
  best().pack_at(M, K, At, packed);
}

void gemm_at_b(int M, int N, int K, const float* At, const float* B, std::ptrdiff_t ldb, float* Y,
               std::ptrdiff_t ldy, bool accumulate) {
  best().gemm_at_b(M, N, K, At, B, ldb, Y, ldy, accumulate);
}

void weight_grad_explicit(int M, int K, int N, const float* dy_t, const float* col,
                          std::ptrdiff_t ldb, float* dwt) {
  best().weight_grad_explicit(M, K, N, dy_t, col, ldb, dwt);
}

void transpose(int rows, int cols, const float* src, float* dst) {
  best().transpose(rows, cols, src, dst);
}

bool conv_same_gemm_supported() {
  return best().conv_same_gemm != nullptr;
}

void conv_same_block_masks(int block, int h, int w, int k, std::vector<std::uint64_t>& masks) {
  assert(block > 0 && block <= 64 && "a block's mask has 64 bits");
  const int pad = (k - 1) / 2, kk = k * k, N = h * w;
  const int blocks = (N + block - 1) / block;
  masks.assign(static_cast<std::size_t>(blocks) * kk, 0);
  for (int b = 0; b < blocks; ++b) {
    const int n = b * block, width = std::min(block, N - n);
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

int conv_same_block() {
  return best().same_block;
}

void conv_same_masks(int h, int w, int k, std::vector<std::uint64_t>& masks) {
  conv_same_block_masks(best().same_block, h, w, k, masks);
}

void conv_same_gemm(int M, int c_in, int h, int w, int k, const float* At, const float* x, float* Y,
                    bool accumulate, const std::uint64_t* masks) {
  const auto f = best().conv_same_gemm;
  assert(f != nullptr && "conv_same_gemm without conv_same_gemm_supported()");
  if (f != nullptr) f(M, c_in, h, w, k, At, x, Y, accumulate, masks);
}

void weight_grad_same(int M, int c_in, int h, int w, int k, const float* dy_t, const float* x,
                      float* dwt, const std::uint64_t* masks) {
  const auto f = best().weight_grad_same;
  assert(f != nullptr && "weight_grad_same without conv_same_gemm_supported()");
  if (f != nullptr) f(M, c_in, h, w, k, dy_t, x, dwt, masks);
}

bool conv_gather_supported() {
  return best().conv_gather_gemm != nullptr;
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
  const auto f = best().conv_gather_gemm;
  assert(f != nullptr && "conv_gather_gemm without conv_gather_supported()");
  if (f != nullptr) f(M, c_in, h, w, k, ho, wo, At, x, Y, offs);
}

void weight_grad_gather(int M, int c_in, int h, int w, int k, int ho, int wo, const float* dy_t,
                        const float* x, float* dwt, const std::int32_t* offs) {
  const auto f = best().weight_grad_gather;
  assert(f != nullptr && "weight_grad_gather without conv_gather_supported()");
  if (f != nullptr) f(M, c_in, h, w, k, ho, wo, dy_t, x, dwt, offs);
}

}  // namespace nce::nn::detail
