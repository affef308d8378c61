// scalesim_layer_report: one layer's figures in SCALE-Sim v2's three reports, from the mapping
// (scalesim_mapping.h) and the replayed buffers (scalesim_buffers.h). The config and topology
// readers are in scalesim_config.cpp, the report writers in scalesim_reports.cpp.
#include "nce/sim/scalesim_compat.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "scalesim_buffers.h"
#include "scalesim_mapping.h"

namespace nce::sim {

namespace {

using scalesim_detail::calc_read_buffer;
using scalesim_detail::CheckedProducts;
using scalesim_detail::covered_extent;
using scalesim_detail::Mapping;
using scalesim_detail::OfmapWriteBuffer;
using scalesim_detail::operand_line_range;
using scalesim_detail::StallTimeline;
using scalesim_detail::UserReadBuffer;
using scalesim_detail::visit_line;

// The layer's operand sizes (checked in this order: the first overflow names its product).
struct LayerWords {
  std::int64_t macs = 0;    // K * N * M
  std::int64_t ifmap = 0;   // H * W * channels
  std::int64_t filter = 0;  // K * M
};

LayerWords layer_words(const ScaleSimLayer& layer, const CheckedProducts& mul) {
  const std::int64_t K = layer.window(), N = layer.ofmap_pixels(), M = layer.num_filters;
  LayerWords w;
  w.macs = mul(mul(K, N, "the MAC count"), M, "the MAC count");
  w.ifmap =
      mul(mul(layer.ifmap_h, layer.ifmap_w, "the ifmap size"), layer.channels, "the ifmap size");
  w.filter = mul(K, M, "the filter words");
  return w;
}

// The per-fold sums of the compute report and the SRAM access counts.
struct FoldSums {
  std::int64_t pes = 0;          // R * C
  std::int64_t streamed_r = 0;   // T x r_used per fold, summed
  std::int64_t streamed_c = 0;   // T x c_used per fold, summed
  std::int64_t stationary = 0;   // Sr * Sc
  std::int64_t ofmap_words = 0;  // ofmap words the array writes
};

// Per-fold efficiencies, summed in SCALE-Sim's fold order (fc outer, fr inner), into `out`.
FoldSums fold_sums(const Mapping& m, const CheckedProducts& mul, ScaleSimLayerReport& out) {
  const bool os = m.df == Dataflow::kOS;
  FoldSums s;
  s.pes = m.R * m.C;
  const std::int64_t util_cycles = os ? m.T + m.R + m.C - 2 : 2 * m.R + 2 * m.C + m.T - 3;
  mul(s.pes, util_cycles, "the PE-cycles of a fold");  // bounds used * T below
  // SRAM accesses: T x r_used / T x c_used per fold, summed (bounds the ofmap words below).
  s.streamed_r = mul(mul(m.col_folds, m.T, "streamed SRAM reads"), m.Sr, "streamed SRAM reads");
  s.streamed_c =
      mul(mul(m.row_folds, m.T, "streamed SRAM accesses"), m.Sc, "streamed SRAM accesses");
  s.stationary = mul(m.Sr, m.Sc, "stationary SRAM accesses");
  double eff_sum = 0, util_sum = 0;
  for (std::int64_t fc = 0; fc < m.col_folds; ++fc) {
    for (std::int64_t fr = 0; fr < m.row_folds; ++fr) {
      const std::int64_t used = m.r_used(fr) * m.c_used(fc);
      eff_sum += static_cast<double>(used) / static_cast<double>(s.pes);
      util_sum += static_cast<double>(used * m.T) / static_cast<double>(s.pes * util_cycles);
      s.ofmap_words += os ? used : m.T * m.c_used(fc);
    }
  }
  out.mapping_efficiency = eff_sum / static_cast<double>(m.folds) * 100;
  out.compute_util = util_sum / static_cast<double>(m.folds) * 100;
  return s;
}

// The lines whose service cycles the reports give, per operand (ifmap, filter, ofmap).
struct ReportLines {
  std::int64_t first[3] = {0, 0, 0};
  std::int64_t last[3] = {0, 0, 0};
};

// The first and last line holding a valid address of each operand (the last fold's tail may hold
// only -1 entries of windows running past the ifmap; even whole folds may), the first and last
// ofmap lines.
ReportLines report_lines(const Mapping& m) {
  ReportLines r;
  for (int op = 0; op < 2; ++op) {
    std::int64_t first = 0, last = 0;
    operand_line_range(m, op, 0, 0, first, last);
    r.first[op] = first;  // element (0, 0) is always valid
    bool found = false;
    for (std::int64_t f = m.folds - 1; f >= 0 && !found; --f) {
      const std::int64_t fc = f / m.row_folds, fr = f % m.row_folds;
      operand_line_range(m, op, fc, fr, first, last);
      for (std::int64_t l = last; l >= first && !found; --l) {
        visit_line(m, op, fc, fr, l, [&](std::int64_t addr) { found |= addr >= 0; });
        if (found) r.last[op] = f * m.fold_lines + l;
      }
    }
  }
  std::int64_t lo = 0, hi = 0;
  m.ofmap_rows(0, lo, hi);
  r.first[2] = lo;
  m.ofmap_rows(m.row_folds - 1, lo, hi);
  r.last[2] = (m.folds - 1) * m.fold_lines + hi + m.c_used(m.col_folds - 1) - 1;
  return r;
}

// Ofmap words of line `l` of a fold whose valid data rows are [lo, hi], cu columns used.
std::int64_t ofmap_words_in_line(std::int64_t l, std::int64_t lo, std::int64_t hi,
                                 std::int64_t cu) {
  const std::int64_t c_lo = std::max<std::int64_t>(0, l - hi);
  const std::int64_t c_hi = std::min<std::int64_t>(cu - 1, l - lo);
  return c_hi - c_lo + 1;
}

// CALC mode, one fold (its lines from line0 on): only the ofmap write buffer stalls. Lines pass in
// bulk while no word can stall or start a drain; the line where one can is served word by word.
void calc_fold_stalls(const Mapping& m, std::int64_t fc, std::int64_t fr, std::int64_t line0,
                      OfmapWriteBuffer& wbuf, StallTimeline& timeline, std::int64_t& stalls) {
  const std::int64_t cu = m.c_used(fc);
  std::int64_t lo = 0, hi = 0;
  m.ofmap_rows(fr, lo, hi);
  // Lines [lo, hi + cu) hold ofmap words: column c is valid in lines [lo + c, hi + c].
  const std::int64_t len = hi - lo + 1, end = hi + cu;
  auto words_before = [&](std::int64_t l) {  // words in the fold's lines [lo, l)
    std::int64_t w = 0;
    for (std::int64_t c = 0; c < cu; ++c) w += std::clamp<std::int64_t>(l - lo - c, 0, len);
    return w;
  };
  std::int64_t l = lo;
  while (l < end) {
    const std::int64_t cycle = line0 + l + stalls;
    std::int64_t budget = 0, limit = end;
    if (cycle < wbuf.drain_end()) {
      budget = wbuf.free() - 1;  // free stays > 0: no stall
      limit = std::min(end, l + (wbuf.drain_end() - cycle));
    } else {
      budget = wbuf.free() - wbuf.active();  // free stays >= active: no drain
    }
    if (budget > 0) {
      const std::int64_t base = words_before(l);
      std::int64_t a = l, b = limit;  // largest j in [l, limit] with words(l, j) <= budget
      while (a < b) {
        const std::int64_t mid = a + (b - a + 1) / 2;
        if (words_before(mid) - base <= budget) {
          a = mid;
        } else {
          b = mid - 1;
        }
      }
      if (a > l) {
        wbuf.store(words_before(a) - base);
        l = a;
        continue;
      }
    }
    const std::int64_t served = wbuf.serve(cycle, ofmap_words_in_line(l, lo, hi, cu));
    if (served > cycle) {
      stalls += served - cycle;
      timeline.points.emplace_back(line0 + l, stalls);
    }
    ++l;
  }
}

// CALC mode: the stall cycles of the layer, recorded in `timeline`.
std::int64_t calc_stalls(const Mapping& m, std::int64_t ofmap_words, OfmapWriteBuffer& wbuf,
                         StallTimeline& timeline) {
  std::int64_t stalls = 0;
  if (ofmap_words <= wbuf.drain_size()) {
    wbuf.serve(0, ofmap_words);  // never reaches a drain: only the word count matters
    return stalls;
  }
  std::int64_t line0 = 0;
  for (std::int64_t fc = 0; fc < m.col_folds; ++fc) {
    for (std::int64_t fr = 0; fr < m.row_folds; ++fr, line0 += m.fold_lines) {
      calc_fold_stalls(m, fc, fr, line0, wbuf, timeline, stalls);
    }
  }
  return stalls;
}

// USER mode: reads stall too; every line is served by the three buffers at the same issue cycle,
// the array stalls for the longest of the three (double_buffered_scratchpad_mem.py). Returns the
// stall cycles; fills the SRAM start/stop cycles and the DRAM reads of `out`.
std::int64_t user_stalls(const ScaleSimConfig& cfg, const Mapping& m, const LayerWords& words,
                         const ReportLines& lines, OfmapWriteBuffer& wbuf,
                         ScaleSimLayerReport& out) {
  const std::int64_t bw = cfg.user_bandwidth();
  UserReadBuffer rbuf[2] = {UserReadBuffer(m, 0, cfg.ifmap_sram_kb, bw, words.ifmap),
                            UserReadBuffer(m, 1, cfg.filter_sram_kb, bw, words.filter)};
  std::int64_t stalls = 0, line = 0;
  for (std::int64_t fc = 0; fc < m.col_folds; ++fc) {
    const std::int64_t cu = m.c_used(fc);
    for (std::int64_t fr = 0; fr < m.row_folds; ++fr) {
      std::int64_t lo = 0, hi = 0;
      m.ofmap_rows(fr, lo, hi);
      for (std::int64_t l = 0; l < m.fold_lines; ++l, ++line) {
        const std::int64_t cycle = line + stalls;
        std::int64_t worst = 0, served[3] = {0, 0, 0};
        for (int op = 0; op < 2; ++op) {
          const std::int64_t stall =
              rbuf[op].serve(cycle, [&](auto&& visit) { visit_line(m, op, fc, fr, l, visit); });
          served[op] = cycle + 1 + stall;
          worst = std::max(worst, stall);
        }
        served[2] =
            wbuf.serve(cycle, std::max<std::int64_t>(0, ofmap_words_in_line(l, lo, hi, cu)));
        worst = std::max(worst, served[2] - cycle);
        for (int op = 0; op < 3; ++op) {
          if (line == lines.first[op]) out.sram[op].start_cycle = served[op];
          if (line == lines.last[op]) out.sram[op].stop_cycle = served[op];
        }
        stalls += worst;
      }
    }
  }
  for (int op = 0; op < 2; ++op) {
    out.dram[op] = {rbuf[op].start(), rbuf[op].stop(), rbuf[op].reads()};
  }
  return stalls;
}

// SRAM accesses (the compute system's request counts).
void sram_accesses(const Mapping& m, const FoldSums& s, const CheckedProducts& mul,
                   ScaleSimLayerReport& out) {
  switch (m.df) {
    case Dataflow::kOS:
      out.sram[0].accesses = s.streamed_r;
      out.sram[1].accesses = s.streamed_c;
      // SCALE-Sim adds R + C a fold.
      out.sram[2].accesses = s.stationary + mul(m.folds, m.R + m.C, "ofmap SRAM accesses");
      break;
    case Dataflow::kWS:
      out.sram[0].accesses = s.streamed_r;
      out.sram[1].accesses = s.stationary;
      out.sram[2].accesses = s.streamed_c;
      break;
    case Dataflow::kIS:
      out.sram[0].accesses = s.stationary;
      out.sram[1].accesses = s.streamed_r;
      out.sram[2].accesses = s.streamed_c;
      break;
  }
}

// CALC mode's DRAM reads through the read buffers.
void calc_dram_reads(const ScaleSimConfig& cfg, const ScaleSimLayer& layer, const Mapping& m,
                     const LayerWords& words, const ReportLines& lines,
                     const StallTimeline& timeline, ScaleSimLayerReport& out) {
  const std::int64_t Ho = layer.ofmap_h();
  // At most the ifmap's words (checked above).
  const std::int64_t ifmap_distinct =
      covered_extent(m.H, layer.filter_h, m.sh, Ho) * covered_extent(m.W, m.Fw, m.sw, m.Wo) * m.Ch;
  const auto ifmap = calc_read_buffer(m, 0, cfg.ifmap_sram_kb, ifmap_distinct, words.ifmap,
                                      timeline.issue_cycle(lines.first[0]), timeline);
  const auto filter = calc_read_buffer(m, 1, cfg.filter_sram_kb, words.filter, words.filter,
                                       timeline.issue_cycle(lines.first[1]), timeline);
  out.dram[0] = {ifmap.start, ifmap.stop, ifmap.reads};
  out.dram[1] = {filter.start, filter.stop, filter.reads};
}

}  // namespace

ScaleSimLayerReport scalesim_layer_report(const ScaleSimConfig& cfg, const ScaleSimLayer& layer,
                                          bool with_dram_reads) {
  const CheckedProducts mul(cfg, layer);
  const LayerWords words = layer_words(layer, mul);
  const Mapping m = scalesim_detail::map_layer(cfg, layer, mul);

  ScaleSimLayerReport out;
  out.name = layer.name;
  out.folds = m.folds;
  out.demand_lines = mul(m.folds, m.fold_lines, "the demand line count");
  const FoldSums sums = fold_sums(m, mul, out);
  const ReportLines lines = report_lines(m);

  // Ofmap write buffer: drained `width` words a cycle (CALC: ArrayWidth; USER: the bandwidth).
  const std::int64_t width = cfg.calc_bandwidth ? m.C : cfg.user_bandwidth();
  OfmapWriteBuffer wbuf(static_cast<std::int64_t>(cfg.ofmap_sram_kb) * 1024, width);
  StallTimeline timeline;
  const std::int64_t stalls = cfg.calc_bandwidth ? calc_stalls(m, sums.ofmap_words, wbuf, timeline)
                                                 : user_stalls(cfg, m, words, lines, wbuf, out);
  const std::int64_t last_line = out.demand_lines - 1;
  out.stall_cycles = stalls;
  out.compute_cycles = last_line + stalls;
  wbuf.drain_all(out.compute_cycles);
  out.overall_util = static_cast<double>(mul(words.macs, 100, "the MAC count x 100")) /
                     static_cast<double>(mul(out.compute_cycles, sums.pes, "the PE-cycles"));
  sram_accesses(m, sums, mul, out);
  out.dram[2] = {wbuf.dram_start(), wbuf.dram_stop(), wbuf.dram_writes()};
  if (!cfg.calc_bandwidth) return out;

  // CALC: SRAM reads at issue + 1, the ofmap at its service cycle (only ofmap lines stall).
  for (int op = 0; op < 2; ++op) {
    out.sram[op].start_cycle = timeline.issue_cycle(lines.first[op]) + 1;
    out.sram[op].stop_cycle = timeline.issue_cycle(lines.last[op]) + 1;
  }
  out.sram[2].start_cycle = timeline.service_cycle(lines.first[2]);
  out.sram[2].stop_cycle = timeline.service_cycle(lines.last[2]);
  if (with_dram_reads) calc_dram_reads(cfg, layer, m, words, lines, timeline, out);
  return out;
}

}  // namespace nce::sim
