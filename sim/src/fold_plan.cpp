#include "nce/sim/fold_plan.h"

#include "nce/sim/layer_cost.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include "nce/common/checked.h"
#include "nce/sim/operand_reuse.h"

namespace nce::sim {

namespace {

// Words per buffer of one fold streaming t steps with r x c of the array used.
struct TileWords {
  std::int64_t ifmap = 0, filter = 0, psum = 0;
};

TileWords tile_words(Dataflow df, std::int64_t r, std::int64_t c, std::int64_t t) {
  switch (df) {
    case Dataflow::kOS:
      return {r * t, t * c, r * c};
    case Dataflow::kWS:
      return {t * r, r * c, t * c};
    case Dataflow::kIS:
      break;
  }
  return {r * c, r * t, t * c};
}

// Fills everything but the DRAM loads.
Fold fold_at(const FoldPlan& p, std::int64_t index) {
  assert(index >= 0 && index < p.num_folds() && "fold index out of range");
  Fold f;
  f.index = index;
  const std::int64_t nt = p.t_chunks;
  f.fc = index / (p.row_folds * nt);
  const std::int64_t rem = index % (p.row_folds * nt);
  if (p.dataflow == Dataflow::kOS) {
    f.fr = rem / nt;
    f.ft = rem % nt;
    f.group = f.fc * p.row_folds + f.fr;
    f.first_of_group = f.ft == 0;
    f.last_of_group = f.ft == nt - 1;
  } else {
    f.ft = rem / p.row_folds;
    f.fr = rem % p.row_folds;
    f.group = f.fc * nt + f.ft;
    f.first_of_group = f.fr == 0;
    f.last_of_group = f.fr == p.row_folds - 1;
  }
  const std::int64_t r0 = f.fr * p.rows, c0 = f.fc * p.cols, t0 = f.ft * p.t_chunk;
  f.r_used = std::min<std::int64_t>(p.rows, p.Sr - r0);
  f.c_used = std::min<std::int64_t>(p.cols, p.Sc - c0);
  f.t_used = std::min<std::int64_t>(p.t_chunk, p.T - t0);
  f.cycles = p.fold_cycles(f.t_used);
  const std::int64_t r = f.r_used, c = f.c_used, t = f.t_used;
  f.macs = r * c * t;
  const TileWords w = tile_words(p.dataflow, r, c, t);
  switch (p.dataflow) {
    case Dataflow::kOS:
      f.n0 = r0, f.n1 = r0 + r, f.m0 = c0, f.m1 = c0 + c, f.k0 = t0, f.k1 = t0 + t;
      f.ifmap_reads = w.ifmap;    // r streamed rows of t words
      f.filter_reads = w.filter;  // c streamed columns of t words
      f.psum_writes = r * c;      // the accumulators
      break;
    case Dataflow::kWS:
      f.k0 = r0, f.k1 = r0 + r, f.m0 = c0, f.m1 = c0 + c, f.n0 = t0, f.n1 = t0 + t;
      f.filter_reads = w.filter;  // the stationary tile
      f.ifmap_reads = w.ifmap;    // t vectors of r words
      f.psum_writes = t * c;
      break;
    case Dataflow::kIS:
      f.k0 = r0, f.k1 = r0 + r, f.n0 = c0, f.n1 = c0 + c, f.m0 = t0, f.m1 = t0 + t;
      f.ifmap_reads = w.ifmap;    // the stationary tile
      f.filter_reads = w.filter;  // t vectors of r words
      f.psum_writes = t * c;
      break;
  }
  f.psum_reads = f.first_of_group ? 0 : f.psum_writes;
  f.group_output_words = f.last_of_group ? f.psum_writes : 0;
  return f;
}

}  // namespace

std::int64_t FoldPlan::fold_cycles(std::int64_t t_used) const {
  return sim::fold_cycles(dataflow, rows, cols, t_used);
}

FoldPlan make_fold_plan(const HwConfig& hw, std::int64_t K, std::int64_t N, std::int64_t M) {
  return make_fold_plan(hw, gemm_geometry(K, N, M));
}

FoldPlan make_fold_plan(const HwConfig& hw, const ConvGeometry& geo) {
  const std::int64_t K = geo.K(), N = geo.N(), M = geo.M();
  if (K <= 0 || N <= 0 || M <= 0) {
    throw std::invalid_argument("GEMM shape K=" + std::to_string(K) + " N=" + std::to_string(N) +
                                " M=" + std::to_string(M) + " must be positive");
  }
  FoldPlan p;
  p.dataflow = hw.dataflow;
  p.rows = hw.rows;
  p.cols = hw.cols;
  p.geo = geo;
  p.K = K;
  p.N = N;
  p.M = M;
  const ArrayMapping mapping = map_gemm_to_array(hw.dataflow, K, N, M, hw.rows, hw.cols);
  p.Sr = mapping.Sr, p.Sc = mapping.Sc, p.T = mapping.T;
  p.row_folds = mapping.row_folds;
  p.col_folds = mapping.col_folds;

  // The longest chunk whose streamed tiles fit every working half.
  const std::int64_t r = std::min<std::int64_t>(hw.rows, p.Sr);
  const std::int64_t c = std::min<std::int64_t>(hw.cols, p.Sc);
  const TileWords per_step = tile_words(hw.dataflow, r, c, 1);
  const TileWords fixed = tile_words(hw.dataflow, r, c, 0);
  std::int64_t t_max = p.T;
  auto limit = [&](std::int64_t step_words, std::int64_t fixed_words, int word_bits,
                   std::int64_t have_bits) {
    if (step_words == 0) return;
    const std::int64_t room = have_bits / word_bits - fixed_words;
    t_max = std::min(t_max, std::max<std::int64_t>(0, room / step_words));
  };
  limit(per_step.ifmap - fixed.ifmap, fixed.ifmap, hw.bits, hw.ifmap_working_bits());
  limit(per_step.filter - fixed.filter, fixed.filter, hw.bits, hw.filter_working_bits());
  limit(per_step.psum - fixed.psum, fixed.psum, hw.acc_bits, hw.ofmap_working_bits());
  if (t_max >= p.T) {
    p.t_chunks = 1;
    p.t_chunk = p.T;
  } else if (t_max >= 1) {
    p.t_chunks = ceil_div(p.T, t_max);
    p.t_chunk = ceil_div(p.T, p.t_chunks);
  } else {
    p.t_chunks = 1;  // does not fit; check_sram_fit reports it
    p.t_chunk = 0;
  }

  // num_folds() and the fold indices multiply these: refuse a plan whose fold count passes 64 bits
  // (a 2^30-cube GEMM on a 1x1 array) instead of wrapping it.
  std::optional<std::int64_t> folds = common::checked_mul(p.row_folds, p.col_folds);
  if (folds) folds = common::checked_mul(*folds, p.t_chunks);
  if (!folds) {
    throw std::invalid_argument(hw.source + ": GEMM shape K=" + std::to_string(K) +
                                " N=" + std::to_string(N) + " M=" + std::to_string(M) + " on a " +
                                std::to_string(hw.rows) + "x" + std::to_string(hw.cols) +
                                " array: the fold count overflows 64 bits");
  }
  // Resident: the whole operand fits its working buffer (a product past 64 bits does not).
  auto fits = [](std::int64_t words, std::int64_t per_word, std::int64_t have_bits) {
    const std::optional<std::int64_t> bits = common::checked_mul(words, per_word);
    return bits && *bits <= have_bits;
  };
  const IfmapReuse reuse(geo);
  p.ifmap_layer_words = reuse.layer_words();
  p.ifmap_resident = fits(p.ifmap_layer_words, hw.bits, hw.ifmap_working_bits());
  p.filter_resident = fits(K * M, hw.bits, hw.filter_working_bits());  // K, M <= 2^30
  return p;
}

std::vector<Fold> plan_folds(const FoldPlan& p) {
  std::vector<Fold> folds;
  if (p.t_chunk <= 0) return folds;
  folds.reserve(static_cast<std::size_t>(p.num_folds()));
  IfmapReuse ifmap(p.geo);
  // Tiles lie on a grid: two folds' im2col (or filter) blocks are equal or disjoint, and a block
  // is named by its corner.
  using Corner = std::pair<std::int64_t, std::int64_t>;
  std::set<Corner> ifmap_seen, filter_seen;
  Corner ifmap_prev{-1, -1}, filter_prev{-1, -1};
  for (std::int64_t i = 0; i < p.num_folds(); ++i) {
    Fold f = fold_at(p, i);
    const Corner a{f.n0, f.k0}, w{f.k0, f.m0};
    if (p.ifmap_resident) {
      if (ifmap_seen.insert(a).second) {
        f.ifmap_load_words = ifmap.one_to_one() ? (f.n1 - f.n0) * (f.k1 - f.k0)
                                                : ifmap.load(f.n0, f.n1, f.k0, f.k1, true);
      }
    } else if (a != ifmap_prev) {
      f.ifmap_load_words = ifmap.one_to_one() ? (f.n1 - f.n0) * (f.k1 - f.k0)
                                              : ifmap.load(f.n0, f.n1, f.k0, f.k1, false);
    }
    ifmap_prev = a;
    const bool filter_new = p.filter_resident ? filter_seen.insert(w).second : w != filter_prev;
    if (filter_new) f.filter_load_words = (f.k1 - f.k0) * (f.m1 - f.m0);
    filter_prev = w;
    folds.push_back(f);
  }
  return folds;
}

std::optional<SramShortfall> check_sram_fit(const HwConfig& hw, const FoldPlan& p) {
  const std::int64_t r = std::min<std::int64_t>(p.rows, p.Sr);
  const std::int64_t c = std::min<std::int64_t>(p.cols, p.Sc);
  const TileWords w = tile_words(p.dataflow, r, c, std::max<std::int64_t>(1, p.t_chunk));
  auto check = [&](const char* key, std::int64_t need, std::int64_t have,
                   const char* what) -> std::optional<SramShortfall> {
    if (need <= have) return std::nullopt;
    return SramShortfall{key, std::string("one fold's ") + what + " tile needs " +
                                  std::to_string(need) + " bits, the working buffer has " +
                                  std::to_string(have)};
  };
  if (auto s = check("memory.ifmap_sram_kb", w.ifmap * hw.bits, hw.ifmap_working_bits(), "ifmap")) {
    return s;
  }
  if (auto s =
          check("memory.filter_sram_kb", w.filter * hw.bits, hw.filter_working_bits(), "filter")) {
    return s;
  }
  return check("memory.ofmap_sram_kb", w.psum * hw.acc_bits, hw.ofmap_working_bits(), "psum");
}

std::string describe_shortfall(const HwConfig& hw, const std::string& layer_name,
                               const SramShortfall& shortfall) {
  const auto kv = hw.to_key_values();
  const auto it = kv.find(shortfall.key);
  return hw.source + ": layer " + layer_name + ": key '" + shortfall.key + "' = '" +
         (it == kv.end() ? std::string() : it->second) + "': " + shortfall.message;
}

std::int64_t dram_transfer_cycles(const HwConfig& hw, std::int64_t bits) {
  if (bits <= 0) return 0;
  const double cycles = std::ceil(static_cast<double>(bits) / (8.0 * hw.dram_bytes_per_cycle));
  // Casting a double beyond int64 is undefined: saturate where the cost model stops counting.
  if (!(cycles < static_cast<double>(kInfeasibleCycles))) return kInfeasibleCycles;
  return static_cast<std::int64_t>(cycles);
}

}  // namespace nce::sim
