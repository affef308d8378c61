// Every kernel set this build compiled and this CPU runs (AVX-512, AVX2, portable:
// small_gemm_kernels.h; the instruction-set levels of nce/nn/isa.h) against a naive
// double-precision loop, on odd sizes that exercise the register tiles' row and column
// tails, the masked panels of "same" convs and the gathered panels of strided ones.
#include "small_gemm_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "nce/nn/isa.h"
#include "small_gemm.h"

namespace nce::nn::detail {
namespace {

// A float sum of K products differs from the exact one by at most about K * 2^-24 of the sum of
// their magnitudes; the kernels' sums have at most a few hundred terms.
constexpr double kSumTolerance = 1e-5;

using Floats = std::vector<float>;

Floats random_floats(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Floats v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// isa.h's view: NCE_ISA=name is accepted.
bool parse_isa_supported(const std::string& name) {
  try {
    return std::string(to_string(parse_isa(name))) == name;
  } catch (const std::exception&) {
    return false;
  }
}

bool cpu_runs(const GemmKernels& set) {
  const std::string name = set.name;
  if (name == "avx512") return __builtin_cpu_supports("avx512f");
  if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;
}

// The compiled sets this CPU can run.
std::vector<const GemmKernels*> runnable_sets() {
  std::vector<const GemmKernels*> sets;
  for (const GemmKernels* s : compiled_gemm_kernels())
    if (cpu_runs(*s)) sets.push_back(s);
  return sets;
}

// The runnable sets that have `kernel` (a GemmKernels member that may be null).
template <class Kernel>
std::vector<const GemmKernels*> runnable_sets_with(Kernel GemmKernels::*kernel) {
  std::vector<const GemmKernels*> sets;
  for (const GemmKernels* s : runnable_sets())
    if (s->*kernel != nullptr) sets.push_back(s);
  return sets;
}

// Expects got[i] == exact[i] within kSumTolerance of magnitude[i] (the sum of |terms|).
void expect_near_sums(const Floats& got, const std::vector<double>& exact,
                      const std::vector<double>& magnitude, const std::string& what) {
  ASSERT_EQ(got.size(), exact.size());
  int bad = 0;
  for (std::size_t i = 0; i < got.size() && bad < 5; ++i) {
    const double tol = kSumTolerance * (magnitude[i] + 1e-30);
    if (!(std::fabs(got[i] - exact[i]) <= tol)) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << exact[i];
      ++bad;
    }
  }
}

// im2col of one image (c_in x h x w): K = c_in*k*k rows (c outer, then ky, kx) x ho*wo columns.
std::vector<double> naive_im2col(const Floats& x, int c_in, int h, int w, int k, int stride,
                                 int pad, int ho, int wo) {
  std::vector<double> col(static_cast<std::size_t>(c_in) * k * k * ho * wo, 0.0);
  for (int c = 0; c < c_in; ++c)
    for (int t = 0; t < k * k; ++t)
      for (int oy = 0; oy < ho; ++oy)
        for (int ox = 0; ox < wo; ++ox) {
          const int iy = oy * stride - pad + t / k, ix = ox * stride - pad + t % k;
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
          col[(static_cast<std::size_t>(c) * k * k + t) * ho * wo + oy * wo + ox] =
              x[(static_cast<std::size_t>(c) * h + iy) * w + ix];
        }
  return col;
}

// Y (M x N, row stride ldy) (+)= At^T (At: K x M) x B (K x N, row stride ldb).
void naive_gemm(int M, int N, int K, const Floats& At, const std::vector<double>& B,
                std::ptrdiff_t ldb, const Floats& y0, std::ptrdiff_t ldy, bool accumulate,
                std::vector<double>& exact, std::vector<double>& magnitude) {
  exact.assign(y0.begin(), y0.end());
  magnitude.assign(y0.size(), 0.0);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = accumulate ? y0[m * ldy + n] : 0.0, a = std::fabs(s);
      for (int k = 0; k < K; ++k) {
        const double p = static_cast<double>(At[k * M + m]) * B[k * ldb + n];
        s += p;
        a += std::fabs(p);
      }
      exact[m * ldy + n] = s, magnitude[m * ldy + n] = a;
    }
}

// dWt (K x M) += B (K x N, row stride ldb) x dy_t (N x M).
void naive_weight_grad(int M, int K, int N, const Floats& dy_t, const std::vector<double>& B,
                       std::ptrdiff_t ldb, const Floats& dwt0, std::vector<double>& exact,
                       std::vector<double>& magnitude) {
  exact.assign(dwt0.size(), 0.0);
  magnitude.assign(dwt0.size(), 0.0);
  for (int k = 0; k < K; ++k)
    for (int m = 0; m < M; ++m) {
      double s = dwt0[k * M + m], a = std::fabs(s);
      for (int n = 0; n < N; ++n) {
        const double p = B[k * ldb + n] * dy_t[n * M + m];
        s += p;
        a += std::fabs(p);
      }
      exact[k * M + m] = s, magnitude[k * M + m] = a;
    }
}

std::string case_name(const GemmKernels& set, std::initializer_list<int> sizes) {
  std::string s = set.name;
  for (int v : sizes) s += " " + std::to_string(v);
  return s;
}

// Runs `kernel(y)` on a random Y (M x N, row stride ldy) and checks it against the naive
// Y (+)= At^T x B; Y's padding columns must keep their values.
template <class Kernel>
void check_gemm(int M, int N, int K, const Floats& At, const std::vector<double>& B,
                std::ptrdiff_t ldb, std::ptrdiff_t ldy, bool accumulate, std::mt19937& rng,
                const std::string& what, Kernel kernel) {
  const Floats y0 = random_floats(static_cast<std::size_t>(M) * ldy, rng);
  Floats y = y0;
  kernel(y.data());
  std::vector<double> exact, magnitude;
  naive_gemm(M, N, K, At, B, ldb, y0, ldy, accumulate, exact, magnitude);
  expect_near_sums(y, exact, magnitude, what + (accumulate ? " acc" : ""));
}

// Runs `kernel(dy_t, dwt)` on a random dY^T (N x M) and dWt (K x M) and checks it against the
// naive dWt += B x dY^T.
template <class Kernel>
void check_weight_grad(int M, int K, int N, const std::vector<double>& B, std::ptrdiff_t ldb,
                       std::mt19937& rng, const std::string& what, Kernel kernel) {
  const Floats dy_t = random_floats(static_cast<std::size_t>(N) * M, rng);
  const Floats dwt0 = random_floats(static_cast<std::size_t>(K) * M, rng);
  Floats dwt = dwt0;
  kernel(dy_t.data(), dwt.data());
  std::vector<double> exact, magnitude;
  naive_weight_grad(M, K, N, dy_t, B, ldb, dwt0, exact, magnitude);
  expect_near_sums(dwt, exact, magnitude, what + " wgrad");
}

TEST(SmallGemm, TheBestCompiledSetComesFirstAndThePortableOneLast) {
  const std::vector<const GemmKernels*> sets = compiled_gemm_kernels();
  ASSERT_FALSE(sets.empty());
#if NCE_NN_X86_LEVELS
  EXPECT_STREQ(sets.front()->name, "avx512");
  EXPECT_STREQ(sets[1]->name, "avx2");
#endif
  EXPECT_STREQ(sets.back()->name, "portable");
  // The dispatcher calls the active level's set, one this CPU runs (nce/nn/isa.h).
  const GemmKernels& active = active_gemm_kernels();
  EXPECT_STREQ(active.name, to_string(active_isa()));
  EXPECT_TRUE(cpu_runs(active)) << active.name;
  EXPECT_EQ(conv_same_gemm_supported(), active.conv_same_gemm != nullptr);
  EXPECT_EQ(conv_gather_supported(), active.conv_gather_gemm != nullptr);
  std::string names;
  for (const GemmKernels* s : sets) names += std::string(names.empty() ? "" : ",") + s->name;
  RecordProperty("kernel_sets", names);
  for (const GemmKernels* s : sets) {
    // A level the CPU runs is one isa.h offers (and the other way round).
    EXPECT_EQ(cpu_runs(*s), parse_isa_supported(s->name)) << s->name;
    EXPECT_TRUE(s->pack_at && s->gemm_at_b && s->weight_grad_explicit && s->transpose) << s->name;
    EXPECT_EQ(s->conv_same_gemm == nullptr, s->weight_grad_same == nullptr) << s->name;
    EXPECT_EQ(s->conv_gather_gemm == nullptr, s->weight_grad_gather == nullptr) << s->name;
    EXPECT_TRUE(s->same_block > 0 && s->same_block <= 64) << s->name;
  }
}

TEST(SmallGemm, GemmAtBMatchesTheNaiveLoopWithTailsAndStrides) {
  std::mt19937 rng(1);
  for (const GemmKernels* set : runnable_sets()) {
    for (int M : {1, 3, 4, 5, 7, 8, 9, 13, 17})
      for (int N : {1, 5, 16, 17, 23, 24, 25, 47, 48, 49, 50, 97})
        for (int K : {1, 2, 9, 27}) {
          const std::ptrdiff_t ldb = N + 3, ldy = N + 5;  // padding the kernel must not touch
          const Floats At = random_floats(static_cast<std::size_t>(K) * M, rng);
          const Floats Bf = random_floats(static_cast<std::size_t>(K) * ldb, rng);
          const std::vector<double> B(Bf.begin(), Bf.end());
          Floats packed(At.size());
          set->pack_at(M, K, At.data(), packed.data());
          for (bool accumulate : {false, true}) {
            check_gemm(M, N, K, At, B, ldb, ldy, accumulate, rng, case_name(*set, {M, N, K}),
                       [&](float* y) {
                         set->gemm_at_b(M, N, K, packed.data(), Bf.data(), ldb, y, ldy, accumulate);
                       });
          }
        }
  }
}

TEST(SmallGemm, WeightGradExplicitMatchesTheNaiveLoop) {
  std::mt19937 rng(2);
  for (const GemmKernels* set : runnable_sets()) {
    for (int M : {1, 5, 8, 15, 16, 17, 33, 48, 49, 70})
      for (int K : {1, 5, 6, 8, 9, 27})
        for (int N : {1, 23, 24, 25, 47, 48, 49, 100}) {
          const std::ptrdiff_t ldb = N + 2;
          const Floats colf = random_floats(static_cast<std::size_t>(K) * ldb, rng);
          const std::vector<double> col(colf.begin(), colf.end());
          check_weight_grad(M, K, N, col, ldb, rng, case_name(*set, {M, K, N}),
                            [&](const float* dy_t, float* dwt) {
                              set->weight_grad_explicit(M, K, N, dy_t, colf.data(), ldb, dwt);
                            });
        }
  }
}

struct Map {
  int c_in, h, w;
};
const Map kMaps[] = {{1, 1, 1},  {1, 3, 5},  {3, 7, 7}, {2, 8, 8},
                     {5, 5, 13}, {3, 11, 9}, {1, 4, 32}};

// check(set, map) for every set of `sets` and every map of kMaps.
template <class Check>
void for_each_set_and_map(const std::vector<const GemmKernels*>& sets, Check check) {
  for (const GemmKernels* set : sets)
    for (const Map& map : kMaps) check(set, map);
}

TEST(SmallGemm, SameConvAndItsWeightGradMatchTheNaiveLoopOnEveryMask) {
  const std::vector<const GemmKernels*> sets = runnable_sets_with(&GemmKernels::conv_same_gemm);
  if (sets.empty()) GTEST_SKIP() << "no implicit-im2col kernels compiled";
  std::mt19937 rng(3);
  for_each_set_and_map(sets, [&](const GemmKernels* set, const Map& map) {
    for (int k : {3, 5, 7})
      for (int M : {1, 4, 9, 17}) {
        const int pad = (k - 1) / 2, K = map.c_in * k * k, N = map.h * map.w;
        std::vector<std::uint64_t> masks;
        conv_same_block_masks(set->same_block, map.h, map.w, k, masks);
        const Floats x = random_floats(static_cast<std::size_t>(map.c_in) * N, rng);
        const std::vector<double> col =
            naive_im2col(x, map.c_in, map.h, map.w, k, 1, pad, map.h, map.w);
        const Floats At = random_floats(static_cast<std::size_t>(K) * M, rng);
        Floats packed(At.size());
        set->pack_at(M, K, At.data(), packed.data());
        const std::string what = case_name(*set, {map.c_in, map.h, map.w, k, M});
        for (bool accumulate : {false, true}) {
          check_gemm(M, N, K, At, col, N, N, accumulate, rng, what, [&](float* y) {
            set->conv_same_gemm(M, map.c_in, map.h, map.w, k, packed.data(), x.data(), y,
                                accumulate, masks.data());
          });
        }
        check_weight_grad(M, K, N, col, N, rng, what, [&](const float* dy_t, float* dwt) {
          set->weight_grad_same(M, map.c_in, map.h, map.w, k, dy_t, x.data(), dwt, masks.data());
        });
      }
  });
}

TEST(SmallGemm, GatheredConvAndItsWeightGradMatchTheNaiveLoop) {
  const std::vector<const GemmKernels*> sets = runnable_sets_with(&GemmKernels::conv_gather_gemm);
  if (sets.empty()) GTEST_SKIP() << "no gather kernels compiled";
  std::mt19937 rng(4);
  for_each_set_and_map(sets, [&](const GemmKernels* set, const Map& map) {
    for (int k : {1, 2, 3, 5})
      for (int stride : {1, 2, 3})
        for (int pad : {0, 1, 2}) {
          const int ho = (map.h + 2 * pad - k) / stride + 1;
          const int wo = (map.w + 2 * pad - k) / stride + 1;
          if (ho < 1 || wo < 1 || pad >= k) continue;
          const int M = 3 + (k + stride) % 4, K = map.c_in * k * k, N = ho * wo;
          std::vector<std::int32_t> offs;
          conv_gather_offsets(map.h, map.w, k, stride, pad, ho, wo, offs);
          const Floats x = random_floats(static_cast<std::size_t>(map.c_in) * map.h * map.w, rng);
          const std::vector<double> col =
              naive_im2col(x, map.c_in, map.h, map.w, k, stride, pad, ho, wo);
          const Floats At = random_floats(static_cast<std::size_t>(K) * M, rng);
          Floats packed(At.size());
          set->pack_at(M, K, At.data(), packed.data());
          const std::string what = case_name(*set, {map.c_in, map.h, map.w, k, stride, pad});
          check_gemm(M, N, K, At, col, N, N, false, rng, what, [&](float* y) {
            set->conv_gather_gemm(M, map.c_in, map.h, map.w, k, ho, wo, packed.data(), x.data(), y,
                                  offs.data());
          });
          check_weight_grad(M, K, N, col, N, rng, what, [&](const float* dy_t, float* dwt) {
            set->weight_grad_gather(M, map.c_in, map.h, map.w, k, ho, wo, dy_t, x.data(), dwt,
                                    offs.data());
          });
        }
  });
}

TEST(SmallGemm, TransposeIsExact) {
  std::mt19937 rng(5);
  for (const GemmKernels* set : runnable_sets())
    for (int rows : {1, 7, 8, 9, 16, 17, 33})
      for (int cols : {1, 5, 8, 13, 24, 40}) {
        const Floats src = random_floats(static_cast<std::size_t>(rows) * cols, rng);
        Floats dst(src.size(), 0.0f);
        set->transpose(rows, cols, src.data(), dst.data());
        for (int r = 0; r < rows; ++r)
          for (int c = 0; c < cols; ++c)
            ASSERT_EQ(dst[c * rows + r], src[r * cols + c]) << case_name(*set, {rows, cols});
      }
}

TEST(SmallGemm, SameMasksMarkThePixelsWhoseTapReadsInsideTheMap) {
  // 3 x 3 map, 3 x 3 kernel: tap 0 reads (y-1, x-1), inside for pixels 4, 5, 7, 8; the centre tap
  // (4) reads every pixel; tap 8 reads (y+1, x+1), inside for pixels 0, 1, 3, 4.
  std::vector<std::uint64_t> masks;
  conv_same_block_masks(48, 3, 3, 3, masks);
  ASSERT_EQ(masks.size(), 9u);
  EXPECT_EQ(masks[0], 0b110110000u);
  EXPECT_EQ(masks[4], 0b111111111u);
  EXPECT_EQ(masks[8], 0b000011011u);
  // 8 x 8 map in 24-pixel blocks: 3 blocks; the last block's centre tap covers its 16 pixels.
  conv_same_block_masks(24, 8, 8, 3, masks);
  ASSERT_EQ(masks.size(), 27u);
  EXPECT_EQ(masks[2 * 9 + 4], 0xFFFFu);
  // The dispatcher's masks are those of the set it calls (the active level's).
  std::vector<std::uint64_t> dispatched;
  conv_same_masks(8, 8, 3, dispatched);
  EXPECT_EQ(conv_same_block(), active_gemm_kernels().same_block);
  conv_same_block_masks(active_gemm_kernels().same_block, 8, 8, 3, masks);
  EXPECT_EQ(dispatched, masks);
}

TEST(SmallGemm, DispatchedGemmMatchesTheNaiveLoop) {
  std::mt19937 rng(6);
  const int M = 11, N = 61, K = 19;
  const Floats At = random_floats(static_cast<std::size_t>(K) * M, rng);
  const Floats Bf = random_floats(static_cast<std::size_t>(K) * N, rng);
  Floats packed(At.size()), y(static_cast<std::size_t>(M) * N, 0.0f);
  pack_at(M, K, At.data(), packed.data());
  gemm_at_b(M, N, K, packed.data(), Bf.data(), N, y.data(), N, false);
  std::vector<double> exact, magnitude;
  naive_gemm(M, N, K, At, std::vector<double>(Bf.begin(), Bf.end()), N, y, N, false, exact,
             magnitude);
  expect_near_sums(y, exact, magnitude, "dispatched");
}

}  // namespace
}  // namespace nce::nn::detail
