// IfmapReuse (operand_reuse.h) against a brute-force set of ifmap words built from im2col
// indices, on random geometries and random tile sequences, both buffer policies.
#include "nce/sim/operand_reuse.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <tuple>

namespace nce::sim {
namespace {

using Word = std::tuple<int, int, int>;  // (c, iy, ix)

std::set<Word> footprint(const ConvGeometry& g, std::int64_t n0, std::int64_t n1, std::int64_t k0,
                         std::int64_t k1) {
  std::set<Word> out;
  for (std::int64_t n = n0; n < n1; ++n) {
    const int oy = static_cast<int>(n / g.w_out), ox = static_cast<int>(n % g.w_out);
    for (std::int64_t kk = k0; kk < k1; ++kk) {
      const int c = static_cast<int>(kk / (g.k * g.k));
      const int ky = static_cast<int>(kk / g.k % g.k), kx = static_cast<int>(kk % g.k);
      const int iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
      if (iy >= 0 && iy < g.h_in && ix >= 0 && ix < g.w_in) out.insert({c, iy, ix});
    }
  }
  return out;
}

ConvGeometry random_conv(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % (hi - lo + 1)); };
  ConvGeometry g;
  g.c_in = pick(1, 5);
  g.c_out = pick(1, 4);
  g.k = pick(1, 5);
  g.stride = pick(1, 3);
  g.pad = pick(0, g.k - 1);
  g.h_in = pick(g.k, 12);
  g.w_in = pick(g.k, 70);  // wider than one 64-bit mask word sometimes
  g.h_out = (g.h_in + 2 * g.pad - g.k) / g.stride + 1;
  g.w_out = (g.w_in + 2 * g.pad - g.k) / g.stride + 1;
  return g;
}

TEST(IfmapReuse, LayerWordsAreTheDistinctWordsAnyWindowReads) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const ConvGeometry g = random_conv(rng);
    IfmapReuse r(g);
    EXPECT_EQ(r.layer_words(), static_cast<std::int64_t>(footprint(g, 0, g.N(), 0, g.K()).size()));
  }
  // A 1x1 stride-2 conv reads a quarter of an even map; a 3x3 padded conv reads all of it.
  ConvGeometry g;
  g.c_in = 4, g.c_out = 8, g.k = 1, g.stride = 2, g.h_in = g.w_in = 8, g.h_out = g.w_out = 4;
  EXPECT_EQ(IfmapReuse(g).layer_words(), 4 * 16);
  g.k = 3, g.stride = 1, g.pad = 1, g.h_out = g.w_out = 8;
  EXPECT_EQ(IfmapReuse(g).layer_words(), 4 * 64);
}

// Random tiles (arbitrary im2col blocks, not only grid-aligned ones), in sequence, for both
// policies: tile_words = |footprint|; load(keep) = |footprint minus what the buffer holds|.
TEST(IfmapReuse, TilesAndLoadsEqualBruteForceSets) {
  std::mt19937 rng(11);
  int checked = 0;
  for (int i = 0; i < 120; ++i) {
    const ConvGeometry g = random_conv(rng);
    IfmapReuse kept(g), replaced(g);
    std::set<Word> held_all, held_last;
    for (int t = 0; t < 12; ++t) {
      std::int64_t n0 = rng() % g.N(), n1 = rng() % g.N();
      std::int64_t k0 = rng() % g.K(), k1 = rng() % g.K();
      if (n0 > n1) std::swap(n0, n1);
      if (k0 > k1) std::swap(k0, k1);
      ++n1, ++k1;
      const auto fp = footprint(g, n0, n1, k0, k1);
      ASSERT_EQ(kept.tile_words(n0, n1, k0, k1), static_cast<std::int64_t>(fp.size()));
      std::int64_t fresh_all = 0, fresh_last = 0;
      for (const Word& w : fp) {
        fresh_all += !held_all.count(w);
        fresh_last += !held_last.count(w);
      }
      ASSERT_EQ(kept.load(n0, n1, k0, k1, true), fresh_all) << i << " " << t;
      ASSERT_EQ(replaced.load(n0, n1, k0, k1, false), fresh_last) << i << " " << t;
      held_all.insert(fp.begin(), fp.end());
      held_last = fp;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 120 * 12);
}

TEST(IfmapReuse, OneToOneOnlyWithoutSharedWords) {
  ConvGeometry g;
  g.c_in = 3, g.c_out = 2, g.k = 1, g.h_in = g.w_in = g.h_out = g.w_out = 5;
  IfmapReuse r(g);
  EXPECT_TRUE(r.one_to_one());
  EXPECT_EQ(r.tile_words(3, 9, 1, 3), 6 * 2);
  g.stride = 2, g.h_out = g.w_out = 3;
  EXPECT_FALSE(IfmapReuse(g).one_to_one());
  EXPECT_TRUE(IfmapReuse(gemm_geometry(40, 7, 3)).one_to_one());
}

}  // namespace
}  // namespace nce::sim
