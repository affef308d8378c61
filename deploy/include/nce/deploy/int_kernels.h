// The integer GEMM every conv of the integer engine lowers to, in three implementations picked at
// run time (the CPU is asked, not the compiler): portable C++, AVX2 (vpmaddubsw + vpmaddwd) and
// AVX-512 VNNI (vpdpbusd). All three give the same int32 results bit for bit (tests/deploy).
//
// C[n][m] = sum_k A[n][k] * W[m][k]
//   A: N x Kp unsigned bytes, row-major (row stride Kp), columns k >= K zero (the im2col operand:
//      activation codes or pixels);
//   W: M x K signed bytes, packed once by pack_weights() as [Kp/4][Mp][4] (K padded to a multiple
//      of 4, M to a multiple of 16, zeros in the padding);
//   C: N x ldc int32, row-major, ldc >= Mp; columns M..Mp-1 are written too (zeros).
// Exactness: portable and VNNI accumulate exactly in int32 (no overflow for K*255*128 < 2^31).
// AVX2's vpmaddubsw saturates a pair of products to int16, so it is exact only when
// 2 * max_a * max|w| <= 32767 (avx2_exact); otherwise gemm_u8s8 runs the portable loop for that
// call. Thread safe (no shared state); callers split N across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nce::deploy {

enum class KernelKind { kPortable, kAvx2, kVnni };

const char* to_string(KernelKind kind);
// "portable", "avx2", "vnni" or "auto" (the fastest this CPU runs). Throws std::invalid_argument
// naming the value; std::runtime_error when this CPU lacks the instructions of the one named.
KernelKind parse_kernel(const std::string& name);
bool kernel_supported(KernelKind kind);  // asks the CPU (cpuid)
KernelKind best_kernel();                // vnni > avx2 > portable

struct PackedWeights {
  int K = 0, Kp = 0, M = 0, Mp = 0;
  int max_abs = 0;                // max |w| (for avx2_exact)
  std::vector<std::int8_t> data;  // Kp/4 x Mp x 4
};

inline int padded_k(int k) {
  return (k + 3) / 4 * 4;
}
inline int padded_m(int m) {
  return (m + 15) / 16 * 16;
}

// w: M x K row-major.
PackedWeights pack_weights(const std::int8_t* w, int M, int K);

bool avx2_exact(int max_a, int max_abs_w);

// The A operand in its general (implicit GEMM) form: row n's K bytes are `segments` runs of
// segment_bytes (a multiple of 4), run g at base + n * pixel_stride + g * segment_stride. A 3x3
// conv reads a zero-padded channels-last map in place: one run per kernel row (k * C bytes),
// pixel_stride = stride * C, segment_stride = the padded row's bytes. W's K must equal
// segments * segment_bytes.
struct Operand {
  const std::uint8_t* base = nullptr;
  std::ptrdiff_t pixel_stride = 0;
  int segments = 1;
  std::ptrdiff_t segment_stride = 0;
  int segment_bytes = 0;
  int max_value = 255;  // the largest byte (for the AVX2 exactness rule)
};
void gemm_u8s8(KernelKind kind, const Operand& A, int N, const PackedWeights& W, std::int32_t* C,
               int ldc);

// The plain form: A is N x Kp row-major (one segment). max_a: the largest value A holds.
void gemm_u8s8(KernelKind kind, const std::uint8_t* A, int N, int max_a, const PackedWeights& W,
               std::int32_t* C, int ldc);

}  // namespace nce::deploy
