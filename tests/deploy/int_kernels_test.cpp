// Every GEMM kernel equals the portable one (and a naive loop), bit for bit, on random operands of
// every range the engine feeds it: 2..8-bit codes, 8-bit weights, shapes that do not divide the
// tiles; the AVX2 kernel's int16 saturation is avoided by falling back.
#include <gtest/gtest.h>

#include <random>

#include "nce/deploy/int_kernels.h"

namespace nce::deploy {
namespace {

std::vector<std::int32_t> naive(const std::vector<std::uint8_t>& A, int N, int K, int Kp,
                                const std::vector<std::int8_t>& W, int M, int ldc) {
  std::vector<std::int32_t> C(static_cast<std::size_t>(N) * ldc, 0);
  for (int n = 0; n < N; ++n)
    for (int m = 0; m < M; ++m) {
      std::int32_t s = 0;
      for (int k = 0; k < K; ++k) s += A[n * Kp + k] * W[m * K + k];
      C[n * ldc + m] = s;
    }
  return C;
}

TEST(IntKernels, EveryKernelEqualsThePortableOneAndANaiveLoop) {
  std::mt19937 rng(5);
  struct Case {
    int N, K, M, max_a, max_w;
  };
  const Case cases[] = {{1, 9, 16, 3, 3},        {37, 144, 16, 3, 3},    {64, 144, 32, 3, 3},
                        {50, 288, 64, 15, 15},   {13, 27, 16, 255, 127}, {64, 16, 80, 127, 127},
                        {7, 1152, 48, 255, 128}, {64, 12, 10, 255, 100}, {3, 5, 3, 7, 4}};
  for (const Case& c : cases) {
    const int Kp = padded_k(c.K);
    std::vector<std::uint8_t> A(static_cast<std::size_t>(c.N) * Kp, 0);
    for (int n = 0; n < c.N; ++n)
      for (int k = 0; k < c.K; ++k)
        A[n * Kp + k] = static_cast<std::uint8_t>(rng() % (c.max_a + 1));
    std::vector<std::int8_t> W(static_cast<std::size_t>(c.M) * c.K);
    for (auto& w : W) {
      const int v = static_cast<int>(rng() % (2 * c.max_w + 1)) - c.max_w;
      w = static_cast<std::int8_t>(v > 127 ? 127 : v);
    }
    const PackedWeights P = pack_weights(W.data(), c.M, c.K);
    const int ldc = P.Mp;
    const auto expected = naive(A, c.N, c.K, Kp, W, c.M, ldc);
    for (KernelKind kind : {KernelKind::kPortable, KernelKind::kAvx2, KernelKind::kVnni}) {
      if (!kernel_supported(kind)) continue;
      std::vector<std::int32_t> C(static_cast<std::size_t>(c.N) * ldc, -1);
      gemm_u8s8(kind, A.data(), c.N, c.max_a, P, C.data(), ldc);
      for (int n = 0; n < c.N; ++n)
        for (int m = 0; m < c.M; ++m)
          ASSERT_EQ(C[n * ldc + m], expected[n * ldc + m])
              << to_string(kind) << " N=" << c.N << " K=" << c.K << " M=" << c.M << " at " << n
              << "," << m;
    }
  }
}

TEST(IntKernels, ParseNamesTheValue) {
  EXPECT_EQ(parse_kernel("portable"), KernelKind::kPortable);
  EXPECT_EQ(parse_kernel("auto"), best_kernel());
  try {
    parse_kernel("cuda");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos);
  }
  EXPECT_TRUE(avx2_exact(255, 64));
  EXPECT_FALSE(avx2_exact(255, 128));
}

}  // namespace
}  // namespace nce::deploy
