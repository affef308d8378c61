#include "nce/sim/operand_reuse.h"

#include <algorithm>
#include <cassert>

namespace nce::sim {

namespace {

// SWAR popcount: the build targets baseline x86-64 (no POPCNT), where __builtin_popcountll is a
// library call.
std::int64_t popcount(std::uint64_t v) {
  v = v - ((v >> 1) & 0x5555555555555555ULL);
  v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
  v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
  return static_cast<std::int64_t>((v * 0x0101010101010101ULL) >> 56);
}

// Distinct values o*stride - pad + t (o in [0, outs), t in [0, k)) inside [0, size).
std::int64_t touched_extent(int outs, int k, int stride, int pad, int size) {
  std::vector<char> hit(static_cast<std::size_t>(std::max(size, 0)), 0);
  std::int64_t n = 0;
  for (int o = 0; o < outs; ++o) {
    for (int t = 0; t < k; ++t) {
      const int i = o * stride - pad + t;
      if (i >= 0 && i < size && !hit[static_cast<std::size_t>(i)]) {
        hit[static_cast<std::size_t>(i)] = 1;
        ++n;
      }
    }
  }
  return n;
}

}  // namespace

IfmapReuse::IfmapReuse(const ConvGeometry& geometry) : g_(geometry) {
  words_ = std::max(1, (g_.w_in + 63) / 64);
  one_to_one_ =
      g_.k == 1 && g_.stride == 1 && g_.pad == 0 && g_.h_in == g_.h_out && g_.w_in == g_.w_out;
  layer_words_ = static_cast<std::int64_t>(g_.c_in) *
                 touched_extent(g_.h_out, g_.k, g_.stride, g_.pad, g_.h_in) *
                 touched_extent(g_.w_out, g_.k, g_.stride, g_.pad, g_.w_in);
  xmask_.assign(static_cast<std::size_t>(words_), 0);
}

void IfmapReuse::split(std::int64_t a, std::int64_t b, int width, std::vector<Rect>& out) {
  out.clear();
  if (a >= b) return;
  const int ya = static_cast<int>(a / width), xa = static_cast<int>(a % width);
  const int yb = static_cast<int>((b - 1) / width), xb = static_cast<int>((b - 1) % width);
  if (ya == yb) {
    out.push_back({ya, ya + 1, xa, xb + 1});
    return;
  }
  int y_begin = ya, y_end = yb + 1;
  if (xa > 0) {
    out.push_back({ya, ya + 1, xa, width});
    y_begin = ya + 1;
  }
  const bool last_partial = xb < width - 1;
  if (last_partial) y_end = yb;
  if (y_begin < y_end) out.push_back({y_begin, y_end, 0, width});
  if (last_partial) out.push_back({yb, yb + 1, 0, xb + 1});
}

void IfmapReuse::build(const std::vector<Rect>& pixels, std::int64_t off0, std::int64_t off1,
                       Footprint& f) {
  split(off0, off1, g_.k, offset_rects_);
  const int s = g_.stride, p = g_.pad;
  f.row0 = g_.h_in;
  f.row1 = 0;
  for (const Rect& P : pixels) {
    for (const Rect& O : offset_rects_) {
      const int lo = std::max(0, P.y0 * s - p + O.y0);
      const int hi = std::min(g_.h_in - 1, (P.y1 - 1) * s - p + O.y1 - 1);
      if (lo <= hi) {
        f.row0 = std::min(f.row0, lo);
        f.row1 = std::max(f.row1, hi + 1);
      }
    }
  }
  f.count = 0;
  if (f.row0 >= f.row1) {
    f.row0 = f.row1 = 0;
    return;
  }
  f.m.resize(static_cast<std::size_t>(g_.h_in) * words_);
  std::fill(f.m.begin() + static_cast<std::ptrdiff_t>(f.row0) * words_,
            f.m.begin() + static_cast<std::ptrdiff_t>(f.row1) * words_, 0);
  for (const Rect& P : pixels) {
    for (const Rect& O : offset_rects_) {
      std::fill(xmask_.begin(), xmask_.end(), 0);
      bool any = false;
      for (int ox = P.x0; ox < P.x1; ++ox) {
        for (int kx = O.x0; kx < O.x1; ++kx) {
          const int ix = ox * s - p + kx;
          if (ix < 0 || ix >= g_.w_in) continue;
          xmask_[static_cast<std::size_t>(ix >> 6)] |= std::uint64_t{1} << (ix & 63);
          any = true;
        }
      }
      if (!any) continue;
      for (int oy = P.y0; oy < P.y1; ++oy) {
        for (int ky = O.y0; ky < O.y1; ++ky) {
          const int iy = oy * s - p + ky;
          if (iy < 0 || iy >= g_.h_in) continue;
          std::uint64_t* row = &f.m[static_cast<std::size_t>(iy) * words_];
          for (int w = 0; w < words_; ++w) row[w] |= xmask_[static_cast<std::size_t>(w)];
        }
      }
    }
  }
  for (std::size_t i = static_cast<std::size_t>(f.row0) * words_;
       i < static_cast<std::size_t>(f.row1) * words_; ++i) {
    f.count += popcount(f.m[i]);
  }
}

IfmapReuse::TileShape IfmapReuse::shape(std::int64_t n0, std::int64_t n1, std::int64_t k0,
                                        std::int64_t k1) {
  assert(n0 >= 0 && n0 < n1 && n1 <= g_.N() && k0 >= 0 && k0 < k1 && k1 <= g_.K());
  split(n0, n1, g_.w_out, pixel_rects_);
  const std::int64_t k2 = static_cast<std::int64_t>(g_.k) * g_.k;
  TileShape t;
  t.c_first = static_cast<int>(k0 / k2);
  t.c_last = static_cast<int>((k1 - 1) / k2);
  if (t.c_first == t.c_last) {
    build(pixel_rects_, k0 - t.c_first * k2, k1 - t.c_first * k2, fp_[0]);
    t.first = t.middle = t.last = &fp_[0];
    return t;
  }
  build(pixel_rects_, k0 - t.c_first * k2, k2, fp_[0]);
  build(pixel_rects_, 0, k1 - t.c_last * k2, fp_[2]);
  t.first = &fp_[0];
  t.last = &fp_[2];
  t.middle = &fp_[1];
  if (t.c_last - t.c_first > 1) build(pixel_rects_, 0, k2, fp_[1]);
  return t;
}

std::int64_t IfmapReuse::tile_words(std::int64_t n0, std::int64_t n1, std::int64_t k0,
                                    std::int64_t k1) {
  if (one_to_one_) return (n1 - n0) * (k1 - k0);
  const TileShape t = shape(n0, n1, k0, k1);
  if (t.c_first == t.c_last) return t.first->count;
  return t.first->count + t.last->count +
         static_cast<std::int64_t>(t.c_last - t.c_first - 1) * t.middle->count;
}

void IfmapReuse::clear() {
  std::fill(held_.begin(), held_.end(), 0);
  held_c1_ = -1;
}

std::int64_t IfmapReuse::load(std::int64_t n0, std::int64_t n1, std::int64_t k0, std::int64_t k1,
                              bool keep) {
  const std::size_t plane = static_cast<std::size_t>(g_.h_in) * words_;
  if (held_.empty()) held_.assign(static_cast<std::size_t>(g_.c_in) * plane, 0);
  const TileShape t = shape(n0, n1, k0, k1);
  std::int64_t fresh = 0;
  for (int c = t.c_first; c <= t.c_last; ++c) {
    const Footprint& f = *t.of(c);
    const std::uint64_t* h = &held_[static_cast<std::size_t>(c) * plane];
    for (std::size_t i = static_cast<std::size_t>(f.row0) * words_;
         i < static_cast<std::size_t>(f.row1) * words_; ++i) {
      fresh += popcount(f.m[i] & ~h[i]);
    }
  }
  if (!keep) {
    for (int c = held_c0_; c <= held_c1_ && held_r0_ < held_r1_; ++c) {
      std::uint64_t* h = &held_[static_cast<std::size_t>(c) * plane];
      std::fill(h + static_cast<std::ptrdiff_t>(held_r0_) * words_,
                h + static_cast<std::ptrdiff_t>(held_r1_) * words_, 0);
    }
    held_c0_ = t.c_first;
    held_c1_ = t.c_last;
    held_r0_ = g_.h_in;
    held_r1_ = 0;
  }
  for (int c = t.c_first; c <= t.c_last; ++c) {
    const Footprint& f = *t.of(c);
    if (f.row0 >= f.row1) continue;
    std::uint64_t* h = &held_[static_cast<std::size_t>(c) * plane];
    for (std::size_t i = static_cast<std::size_t>(f.row0) * words_;
         i < static_cast<std::size_t>(f.row1) * words_; ++i) {
      h[i] |= f.m[i];
    }
    if (!keep) {
      held_r0_ = std::min(held_r0_, f.row0);
      held_r1_ = std::max(held_r1_, f.row1);
    }
  }
  return fresh;
}

}  // namespace nce::sim
