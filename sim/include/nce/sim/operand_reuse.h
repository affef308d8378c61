// Which ifmap words an im2col tile touches, and which of them the ifmap SRAM does not hold yet:
// the DRAM traffic of the ifmap operand with overlapping-window reuse (fold_plan.h uses it).
//
// The array reads the im2col operand A (N x K, conv_geometry.h) from the ifmap SRAM, but the SRAM
// is filled from DRAM with real ifmap words (c, iy, ix): a word that several windows share is
// fetched once. A tile is a block of A: output pixels [n0, n1) x reduction indices [k0, k1). Its
// footprint is the set of ifmap words (zero padding excluded) the block reads.
//
// The buffer state: load(..., keep = true) adds the tile's footprint to what the buffer holds
// (a resident operand: nothing is ever evicted, so every word is fetched once per layer);
// keep = false replaces it (the buffer holds only the latest tile: a word shared with the previous
// tile is not fetched again, older tiles are gone).
//
// Implementation: per channel, one bit mask of w_in bits per input row; a tile is at most three
// channel kinds (first partial channel, full channels, last partial channel), each a union of at
// most 3 x 3 products (pixel rows x kernel rows) of row sets and column masks. Cost per tile:
// about channels x touched rows x ceil(w_in / 64) words.
#pragma once

#include <cstdint>
#include <vector>

#include "nce/sim/conv_geometry.h"

namespace nce::sim {

class IfmapReuse {
 public:
  explicit IfmapReuse(const ConvGeometry& geometry);

  const ConvGeometry& geometry() const { return g_; }
  // Distinct ifmap words any window of the layer reads (c_in x touched rows x touched columns).
  std::int64_t layer_words() const { return layer_words_; }
  // True when no two im2col entries read the same ifmap word (1x1, stride 1, no padding): then
  // a tile's footprint is the tile itself and tiles on a grid are equal or disjoint.
  bool one_to_one() const { return one_to_one_; }

  // Distinct ifmap words of the tile (no change to the buffer).
  std::int64_t tile_words(std::int64_t n0, std::int64_t n1, std::int64_t k0, std::int64_t k1);
  // Words of the tile the buffer does not hold (the DRAM fetch); the buffer then holds the tile
  // (keep = true: in addition to what it held; false: instead of it).
  std::int64_t load(std::int64_t n0, std::int64_t n1, std::int64_t k0, std::int64_t k1, bool keep);
  // Empties the buffer.
  void clear();

 private:
  struct Rect {
    int y0, y1, x0, x1;  // [y0, y1) x [x0, x1)
  };
  struct Footprint {
    int row0 = 0, row1 = 0;        // touched input rows [row0, row1)
    std::vector<std::uint64_t> m;  // h_in x words_ masks (only [row0, row1) meaningful)
    std::int64_t count = 0;
  };
  struct TileShape {
    int c_first = 0, c_last = 0;  // channels [c_first, c_last]
    const Footprint* first = nullptr;
    const Footprint* middle = nullptr;
    const Footprint* last = nullptr;
    const Footprint* of(int c) const {
      return c == c_first ? first : (c == c_last ? last : middle);
    }
  };

  static void split(std::int64_t a, std::int64_t b, int width, std::vector<Rect>& out);
  void build(const std::vector<Rect>& pixels, std::int64_t off0, std::int64_t off1, Footprint& f);
  TileShape shape(std::int64_t n0, std::int64_t n1, std::int64_t k0, std::int64_t k1);

  ConvGeometry g_;
  int words_ = 1;  // 64-bit words per input row
  std::int64_t layer_words_ = 0;
  bool one_to_one_ = false;
  std::vector<std::uint64_t> held_;  // c_in x h_in x words_
  // The region the buffer holds when keep = false was last used (to clear it).
  int held_c0_ = 0, held_c1_ = -1, held_r0_ = 0, held_r1_ = 0;
  Footprint fp_[3];
  std::vector<Rect> pixel_rects_, offset_rects_;
  std::vector<std::uint64_t> xmask_;
};

}  // namespace nce::sim
