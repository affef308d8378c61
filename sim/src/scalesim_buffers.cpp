#include "scalesim_buffers.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>

namespace nce::sim::scalesim_detail {

std::int64_t OfmapWriteBuffer::serve(std::int64_t cycle, std::int64_t valid) {
  std::int64_t current = cycle;
  while (valid > 0) {
    if (current < drain_end_) {
      // Draining: words go in while there is room; the word that fills the buffer waits for the
      // drain to end.
      const std::int64_t k = free_ > 0 ? std::min(valid, free_) : 1;
      store(k);
      valid -= k;
      if (free_ <= 0) current = drain_end_;
    } else if (free_ > active_) {
      const std::int64_t k = std::min(valid, free_ - active_);  // leave free >= active: no drain
      store(k);
      valid -= k;
    } else {
      store(1);  // free drops below the active half: drain now
      --valid;
      drain_end_ = drain(current);
    }
  }
  return current;
}

void OfmapWriteBuffer::drain_all(std::int64_t cycle) {
  flush_partial_line();
  while (drain_start_ < lines_) {
    drain_end_ = drain_lines(cycle);
    cycle = drain_end_ + 1;
  }
}

void OfmapWriteBuffer::flush_partial_line() {
  if (line_fill_ > 0) {
    partial_.emplace_back(lines_, line_fill_);
    ++lines_;
    line_fill_ = 0;
  }
}

std::int64_t OfmapWriteBuffer::line_words(std::int64_t line) const {
  auto it = std::lower_bound(partial_.begin(), partial_.end(),
                             std::pair<std::int64_t, std::int64_t>(line, 0));
  return it != partial_.end() && it->first == line ? it->second : width_;
}

std::int64_t OfmapWriteBuffer::drain(std::int64_t start_cycle) {
  flush_partial_line();
  return drain_lines(start_cycle);
}

std::int64_t OfmapWriteBuffer::drain_lines(std::int64_t start_cycle) {
  const std::int64_t want = ceil_div(drain_size_, width_);
  const std::int64_t end_line = std::min(drain_start_ + want, lines_);
  const std::int64_t n = end_line - drain_start_;
  if (n <= 0) {
    throw std::invalid_argument(
        "the ofmap SRAM drains an empty buffer here (SCALE-Sim v2 fails on this "
        "configuration: IndexError in write_buffer.empty_drain_buf); use a larger "
        "OfmapSramSzkB");
  }
  const std::int64_t words = n * width_ - (width_ - line_words(end_line - 1));
  free_ += words;
  dram_writes_ += words;
  if (!drained_) dram_start_ = start_cycle;
  drained_ = true;
  dram_stop_ = start_cycle + n - 1;
  drain_start_ = end_line;
  return start_cycle + n - 1;
}

std::int64_t StallTimeline::issue_cycle(std::int64_t line) const {
  auto it = std::lower_bound(points.begin(), points.end(),
                             std::pair<std::int64_t, std::int64_t>(line, INT64_MIN));
  return line + (it == points.begin() ? 0 : std::prev(it)->second);
}

std::int64_t StallTimeline::service_cycle(std::int64_t line) const {
  auto it = std::upper_bound(points.begin(), points.end(),
                             std::pair<std::int64_t, std::int64_t>(line, INT64_MAX));
  return line + (it == points.begin() ? 0 : std::prev(it)->second);
}

constexpr std::int64_t kCalcPrefetchWordsPerCycle = 10;       // "10 elems per cycle is arbitrary"
constexpr std::int64_t kActiveSets = 50, kPrefetchSets = 50;  // active_buf_frac 0.5 of 100 sets

ReadBufferResult calc_read_buffer(const Mapping& m, int operand, std::int64_t sram_kb,
                                  std::int64_t distinct, std::int64_t address_space,
                                  std::int64_t first_request_cycle, const StallTimeline& stalls) {
  const std::int64_t set_words = sram_kb * 1024 / 100;  // num_items_per_set
  if (set_words <= 0) {
    throw std::invalid_argument("SRAM of " + std::to_string(sram_kb) +
                                " KB holds fewer than 100 words: SCALE-Sim v2 fails on it");
  }
  const std::int64_t epoch_words = kActiveSets * set_words;
  ReadBufferResult r;
  if (distinct < epoch_words) {
    // No epoch ever fills: every distinct address is read once, all prefetched before cycle 0
    // (complete_all_prefetches: the sets end at cycle -1, at 10 words a cycle).
    const std::int64_t sets = ceil_div(distinct, set_words);
    r.reads = distinct;
    r.start = -ceil_div(sets * set_words, kCalcPrefetchWordsPerCycle);
    r.stop = -1;
    return r;
  }
  // Walk the address stream in demand order; an address hits if inserted in the current epoch.
  std::vector<std::uint32_t> stamp(static_cast<std::size_t>(address_space), 0);
  std::uint32_t epoch = 1;
  std::int64_t in_epoch = 0, reads = 0;
  std::int64_t last_trigger = -1, triggers = 0;
  std::int64_t line0 = 0;
  for (std::int64_t fc = 0; fc < m.col_folds; ++fc) {
    for (std::int64_t fr = 0; fr < m.row_folds; ++fr, line0 += m.fold_lines) {
      std::int64_t first = 0, last = 0;
      operand_line_range(m, operand, fc, fr, first, last);
      for (std::int64_t l = first; l <= last; ++l) {
        const std::int64_t line = line0 + l;
        visit_line(m, operand, fc, fr, l, [&](std::int64_t addr) {
          if (addr < 0) return;
          auto& s = stamp[static_cast<std::size_t>(addr)];
          if (s == epoch) return;
          s = epoch;
          ++reads;
          if (++in_epoch == epoch_words) {
            if (triggers > 0 && line == last_trigger) {
              throw std::invalid_argument(
                  "the read buffer fills two prefetch epochs in one cycle (SCALE-Sim v2 fails on "
                  "this configuration: ZeroDivisionError); use a larger SRAM");
            }
            last_trigger = line;
            ++triggers;
            ++epoch;
            in_epoch = 0;
          }
        });
      }
    }
  }
  r.reads = reads;
  r.start = first_request_cycle - ceil_div(kPrefetchSets * set_words, kCalcPrefetchWordsPerCycle);
  r.stop = stalls.issue_cycle(last_trigger) + 1;
  return r;
}

namespace {

// The operand's prefetch matrix: rows x cols, element (row, col) -> address or -1; skewed
// operands (rolled) are fetched along anti-diagonals, stationary ones row by row.
struct PrefetchMatrix {
  std::int64_t rows = 0, cols = 0;
  bool rolled = true;
  std::function<std::int64_t(std::int64_t, std::int64_t)> elem;
};

PrefetchMatrix prefetch_matrix(const Mapping& m, int operand) {
  PrefetchMatrix p;
  auto& rows = p.rows;
  auto& cols = p.cols;
  auto& rolled = p.rolled;
  auto& elem = p.elem;
  const auto df = m.df;
  if (df == Dataflow::kOS && operand == 0) {
    rows = m.row_folds * m.T, cols = m.R;
    elem = [&m](std::int64_t r, std::int64_t c) {
      const std::int64_t fr = r / m.T, t = r % m.T;
      return c < m.r_used(fr) ? m.ifmap_addr(fr * m.R + c, t) : -1;
    };
  } else if (df == Dataflow::kOS) {
    rows = m.col_folds * m.T, cols = m.C;
    elem = [&m](std::int64_t r, std::int64_t c) {
      const std::int64_t fc = r / m.T, t = r % m.T;
      return c < m.c_used(fc) ? m.filter_addr(t, fc * m.C + c) : -1;
    };
  } else if (df == Dataflow::kWS && operand == 0) {
    rows = m.row_folds * m.T, cols = m.R;
    elem = [&m](std::int64_t r, std::int64_t c) {
      const std::int64_t fr = r / m.T, t = r % m.T;
      return c < m.r_used(fr) ? m.ifmap_addr(t, fr * m.R + c) : -1;
    };
  } else if (df == Dataflow::kWS) {
    rows = m.col_folds * m.Sr, cols = m.C, rolled = false;
    elem = [&m](std::int64_t r, std::int64_t c) {
      const std::int64_t fc = r / m.Sr, k = r % m.Sr;
      return c < m.c_used(fc) ? m.filter_addr(k, fc * m.C + c) : -1;
    };
  } else if (operand == 0) {  // IS ifmap
    rows = m.col_folds * m.Sr, cols = m.C, rolled = false;
    elem = [&m](std::int64_t r, std::int64_t c) {
      const std::int64_t fc = r / m.Sr, k = r % m.Sr;
      return c < m.c_used(fc) ? m.ifmap_addr(fc * m.C + c, k) : -1;
    };
  } else {  // IS filter
    rows = m.row_folds * m.T, cols = m.R;
    elem = [&m](std::int64_t r, std::int64_t c) {
      const std::int64_t fr = r / m.T, t = r % m.T;
      return c < m.r_used(fr) ? m.filter_addr(fr * m.R + c, t) : -1;
    };
  }
  return p;
}

}  // namespace

UserReadBuffer::UserReadBuffer(const Mapping& m, int operand, std::int64_t sram_kb,
                               std::int64_t bandwidth, std::int64_t address_space)
    : bw_(bandwidth) {
  const std::int64_t total = sram_kb * 1024;
  const std::int64_t active = (total + 1) / 2, prefetch = total - active;
  const std::int64_t set_words = ceil_div(total, 100);
  prefetch_lines_per_miss_ = ceil_div(prefetch, bw_);
  std::int64_t rows = 0, cols = 0;
  build_sets(m, operand, set_words, address_space, rows, cols);
  active_sets_ = std::min(ceil_div(active, set_words), num_sets_);
  prefetch_sets_ = std::min(ceil_div(prefetch, set_words), num_sets_ - active_sets_);
  // prefetch_active_buffer at cycle 0: the active half, ending at cycle -1.
  const std::int64_t fetch_lines = ceil_div(rows * cols, bw_);
  const std::int64_t n = std::min(ceil_div(active, bw_), fetch_lines);
  reads_ = n * bw_;
  start_ = -n;
  last_prefetch_ = -1;
  window_start_ = 0;
}

void UserReadBuffer::build_sets(const Mapping& m, int operand, std::int64_t set_words,
                                std::int64_t address_space, std::int64_t& rows,
                                std::int64_t& cols) {
  const PrefetchMatrix p = prefetch_matrix(m, operand);
  rows = p.rows;
  cols = p.cols;
  const auto& elem = p.elem;
  // Sets in fetch order; (address, set) pairs collected, then grouped per address (CSR).
  std::vector<std::pair<std::int64_t, std::int32_t>> members;
  std::int64_t set = 0, in_set = 0;
  auto take = [&](std::int64_t addr) {
    if (addr < 0) return;
    members.emplace_back(addr, static_cast<std::int32_t>(set));
    if (++in_set >= set_words) {
      ++set;
      in_set = 0;
    }
  };
  if (p.rolled) {
    for (std::int64_t d = 0; d < rows + cols; ++d) {
      const std::int64_t max_row = std::min(d, rows - 1),
                         min_row = std::max<std::int64_t>(0, d - cols + 1);
      for (std::int64_t r = max_row; r >= min_row; --r) take(elem(r, d - r));
    }
  } else {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) take(elem(r, c));
  }
  num_sets_ = set + 1;  // the last (possibly empty) set counts
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  first_.assign(static_cast<std::size_t>(address_space) + 1, 0);
  for (const auto& am : members) ++first_[static_cast<std::size_t>(am.first) + 1];
  for (std::size_t i = 1; i < first_.size(); ++i) first_[i] += first_[i - 1];
  sets_.reserve(members.size());
  for (const auto& am : members) sets_.push_back(am.second);
}

std::int64_t UserReadBuffer::serve_address(std::int64_t addr, std::int64_t cycle,
                                           std::int64_t offset) {
  std::int64_t rotations = 0;
  while (!hit(addr)) {
    if (++rotations > num_sets_ + 1) {
      throw std::invalid_argument(
          "the USER-mode read buffer never finds an address (SCALE-Sim v2 loops forever on "
          "this configuration)");
    }
    window_start_ = (window_start_ + prefetch_sets_) % num_sets_;
    reads_ += prefetch_lines_per_miss_ * bw_;
    last_prefetch_ += prefetch_lines_per_miss_ + 1;
    const std::int64_t stall = last_prefetch_ - (cycle + offset);
    if (stall > 0) offset += stall;
  }
  return offset;
}

bool UserReadBuffer::hit(std::int64_t addr) const {
  const auto b = sets_.begin() + first_[static_cast<std::size_t>(addr)];
  const auto e = sets_.begin() + first_[static_cast<std::size_t>(addr) + 1];
  if (b == e) return false;
  const std::int64_t s = window_start_, t = (window_start_ + active_sets_) % num_sets_;
  if (s < t) {
    auto it = std::lower_bound(b, e, static_cast<std::int32_t>(s));
    return it != e && *it < t;
  }
  return *(e - 1) >= s || *b < t;
}

}  // namespace nce::sim::scalesim_detail
