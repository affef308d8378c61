#include "nce/sim/scalesim_compat.h"
#include "nce/common/input_file.h"

#include "nce/common/checked.h"
#include "nce/common/ini.h"
#include "nce/common/text.h"
#include "nce/models/topology.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace nce::sim {

namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(std::string("cannot read ") + what + " '" + path + "'");
  try {
    return read_input_file(path, InputKind::kText, what);
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
}

bool parse_long(const std::string& value, long& v) {
  std::size_t used = 0;
  try {
    v = std::stol(value, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used != 0 && used == value.size();
}

int to_int(const std::string& source, const std::string& key, const std::string& value, int lo) {
  long v = 0;
  if (!parse_long(value, v) || v < lo || v > 1'000'000'000) {
    throw std::invalid_argument(source + ": key '" + key + "' = '" + value +
                                "': expected an integer >= " + std::to_string(lo));
  }
  return static_cast<int>(v);
}

// An integer >= 1 and at most `hi`, the limit and why named in the error.
int to_bounded_int(const std::string& source, const std::string& key, const std::string& value,
                   long hi, const char* why) {
  const int v = to_int(source, key, value, 1);
  if (v > hi) {
    throw std::invalid_argument(source + ": key '" + key + "' = '" + value + "': at most " +
                                std::to_string(hi) + " (" + why + ")");
  }
  return v;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

// ---------------------------------------------------------------------------------------------
// The ofmap write buffer of SCALE-Sim v2 (memory/write_buffer.py), reduced to word counts: which
// ofmap addresses arrive does not matter, only how many per demand line. Words are packed into
// trace lines of `width` (ArrayWidth) words; before each drain the partial line is flushed as a
// line of its own. A drain moves ceil(drain half / width) lines (fewer if fewer are stored), one a
// cycle, and counts every moved line as full except the -1 padding of its last line.
class OfmapWriteBuffer {
 public:
  OfmapWriteBuffer(std::int64_t total_words, std::int64_t width)
      : active_((total_words + 1) / 2),  // int(ceil(total * 0.5))
        drain_size_(total_words - (total_words + 1) / 2),
        width_(width),
        free_(total_words) {}

  std::int64_t drain_size() const { return drain_size_; }
  std::int64_t free() const { return free_; }
  std::int64_t active() const { return active_; }
  std::int64_t drain_end() const { return drain_end_; }

  // Stores `k` words that cause no event (the caller checked): bookkeeping only.
  void store(std::int64_t k) {
    free_ -= k;
    line_fill_ += k;
    lines_ += line_fill_ / width_;
    line_fill_ %= width_;
  }

  // Serves one demand line of `valid` ofmap words arriving at `cycle`; returns its service cycle
  // (cycle + the stall the line caused).
  std::int64_t serve(std::int64_t cycle, std::int64_t valid) {
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

  // empty_all_buffers(): drains what is left, back to back, from `cycle`.
  void drain_all(std::int64_t cycle) {
    flush_partial_line();
    while (drain_start_ < lines_) {
      drain_end_ = drain_lines(cycle);
      cycle = drain_end_ + 1;
    }
  }

  std::int64_t dram_writes() const { return dram_writes_; }
  std::int64_t dram_start() const { return dram_start_; }
  std::int64_t dram_stop() const { return dram_stop_; }

 private:
  void flush_partial_line() {
    if (line_fill_ > 0) {
      partial_.emplace_back(lines_, line_fill_);
      ++lines_;
      line_fill_ = 0;
    }
  }
  std::int64_t line_words(std::int64_t line) const {
    auto it = std::lower_bound(partial_.begin(), partial_.end(),
                               std::pair<std::int64_t, std::int64_t>(line, 0));
    return it != partial_.end() && it->first == line ? it->second : width_;
  }
  std::int64_t drain(std::int64_t start_cycle) {
    flush_partial_line();
    return drain_lines(start_cycle);
  }
  std::int64_t drain_lines(std::int64_t start_cycle) {
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

  std::int64_t active_, drain_size_, width_;
  std::int64_t free_;
  std::int64_t line_fill_ = 0;
  std::int64_t lines_ = 0;                                      // trace lines stored so far
  std::vector<std::pair<std::int64_t, std::int64_t>> partial_;  // (line, words) of partial lines
  std::int64_t drain_start_ = 0;
  std::int64_t drain_end_ = 0;
  bool drained_ = false;
  std::int64_t dram_writes_ = 0, dram_start_ = 0, dram_stop_ = 0;
};

// The layer as SCALE-Sim maps it.
struct Mapping {
  Dataflow df;
  std::int64_t R, C;
  std::int64_t Sr = 0, Sc = 0, T = 0;
  std::int64_t row_folds = 0, col_folds = 0, folds = 0;
  std::int64_t fold_lines = 0;
  // conv geometry for ifmap addresses
  std::int64_t H = 0, W = 0, Fw = 0, Ch = 0, Wo = 0, sh = 0, sw = 0, K = 0;

  std::int64_t r_used(std::int64_t fr) const { return std::min(R, Sr - fr * R); }
  std::int64_t c_used(std::int64_t fc) const { return std::min(C, Sc - fc * C); }

  // operand_matrix.calc_ifmap_elem_addr: -1 where the window runs past the (padded) ifmap.
  std::int64_t ifmap_addr(std::int64_t pixel, std::int64_t win) const {
    const std::int64_t orow = pixel / Wo, ocol = pixel % Wo;
    const std::int64_t irow = orow * sh, icol = ocol * sw;
    const std::int64_t crow = win / (Fw * Ch), k = win % (Fw * Ch);
    const std::int64_t ccol = k / Ch, cch = k % Ch;
    if (crow + irow >= H || ccol + icol >= W) return -1;
    return ((irow + crow) * W + (icol + ccol)) * Ch + cch;
  }
  std::int64_t filter_addr(std::int64_t win, std::int64_t filter) const { return filter * K + win; }

  // Ofmap words in line `l` of a fold: the skewed tile of valid data rows [lo, hi].
  void ofmap_rows(std::int64_t fr, std::int64_t& lo, std::int64_t& hi) const {
    if (df == Dataflow::kOS) {
      lo = T - 1 + (R - r_used(fr));
      hi = T - 1 + R - 1;
    } else {
      lo = 2 * R - 1;
      hi = 2 * R - 1 + T - 1;
    }
  }
};

// Visits every ifmap (operand 0) or filter (operand 1) address of one demand line of fold
// (fc, fr), in SCALE-Sim's order (the line's columns left to right), -1 entries included.
// Returns false if the line holds no element of the operand at all.
template <typename Visit>
void visit_line(const Mapping& m, int operand, std::int64_t fc, std::int64_t fr, std::int64_t l,
                Visit&& visit) {
  const std::int64_t ru = m.r_used(fr), cu = m.c_used(fc);
  // Skewed operand streams: element (j, c) of a T x ncols block (prefix P lines) sits in line
  // P + j + c.
  auto skewed = [&](std::int64_t P, std::int64_t ncols, auto&& elem) {
    const std::int64_t d = l - P;
    if (d < 0) return;
    const std::int64_t c_lo = std::max<std::int64_t>(0, d - (m.T - 1));
    const std::int64_t c_hi = std::min(ncols - 1, d);
    for (std::int64_t c = c_lo; c <= c_hi; ++c) visit(elem(d - c, c));
  };
  // Stationary tiles: r_used x c_used block, flipped upside down, one row per line.
  auto flipped = [&](auto&& elem) {
    if (l >= m.R) return;
    const std::int64_t row = m.R - 1 - l;
    if (row >= ru) return;
    for (std::int64_t c = 0; c < cu; ++c) visit(elem(row, c));
  };
  switch (m.df) {
    case Dataflow::kOS:
      if (operand == 0) {
        skewed(0, ru,
               [&](std::int64_t j, std::int64_t c) { return m.ifmap_addr(fr * m.R + c, j); });
      } else {
        skewed(0, cu,
               [&](std::int64_t j, std::int64_t c) { return m.filter_addr(j, fc * m.C + c); });
      }
      break;
    case Dataflow::kWS:
      if (operand == 0) {
        skewed(m.R, ru,
               [&](std::int64_t j, std::int64_t c) { return m.ifmap_addr(j, fr * m.R + c); });
      } else {
        flipped([&](std::int64_t row, std::int64_t c) {
          return m.filter_addr(fr * m.R + row, fc * m.C + c);
        });
      }
      break;
    case Dataflow::kIS:
      if (operand == 0) {
        flipped([&](std::int64_t row, std::int64_t c) {
          return m.ifmap_addr(fc * m.C + c, fr * m.R + row);
        });
      } else {
        skewed(m.R, ru,
               [&](std::int64_t j, std::int64_t c) { return m.filter_addr(fr * m.R + c, j); });
      }
      break;
  }
}

// The first and last line (within a fold) that can hold an element of the operand.
void operand_line_range(const Mapping& m, int operand, std::int64_t fc, std::int64_t fr,
                        std::int64_t& first, std::int64_t& last) {
  const std::int64_t ru = m.r_used(fr), cu = m.c_used(fc);
  const bool flipped =
      (m.df == Dataflow::kWS && operand == 1) || (m.df == Dataflow::kIS && operand == 0);
  if (flipped) {
    first = m.R - ru;
    last = m.R - 1;
    return;
  }
  const std::int64_t P = m.df == Dataflow::kOS ? 0 : m.R;
  const std::int64_t ncols = (m.df == Dataflow::kOS && operand == 1) ? cu : ru;
  first = P;
  last = P + m.T - 1 + ncols - 1;
}

// Stall record: after demand line `line`, `stalls` cycles of stall in all.
struct StallTimeline {
  std::vector<std::pair<std::int64_t, std::int64_t>> points;
  // Cycle at which line `line` is issued (stalls of the lines before it).
  std::int64_t issue_cycle(std::int64_t line) const {
    auto it = std::lower_bound(points.begin(), points.end(),
                               std::pair<std::int64_t, std::int64_t>(line, INT64_MIN));
    return line + (it == points.begin() ? 0 : std::prev(it)->second);
  }
  // Cycle at which the ofmap words of line `line` are served (its own stall included).
  std::int64_t service_cycle(std::int64_t line) const {
    auto it = std::upper_bound(points.begin(), points.end(),
                               std::pair<std::int64_t, std::int64_t>(line, INT64_MAX));
    return line + (it == points.begin() ? 0 : std::prev(it)->second);
  }
};

// Distinct rows (or columns) of the padded ifmap that some window touches.
std::int64_t covered_extent(std::int64_t size, std::int64_t filter, std::int64_t stride,
                            std::int64_t outputs) {
  std::vector<char> hit(static_cast<std::size_t>(size), 0);
  for (std::int64_t o = 0; o < outputs; ++o) {
    for (std::int64_t f = 0; f < filter; ++f) {
      const std::int64_t r = o * stride + f;
      if (r < size) hit[static_cast<std::size_t>(r)] = 1;
    }
  }
  return std::count(hit.begin(), hit.end(), 1);
}

// SCALE-Sim's CALC-mode read buffer (memory/read_buffer_estimate_bw.py) for one operand: DRAM
// reads and the first/last cycle of its prefetch trace.
struct ReadBufferResult {
  std::int64_t reads = 0, start = 0, stop = 0;
};

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

// SCALE-Sim's USER-bandwidth read buffer (memory/read_buffer.py) for one operand. Its timing
// depends on the addresses only through the "hashed buffer": the operand's prefetch matrix
// (in SCALE-Sim's order, skewed operands rolled out along anti-diagonals) cut into sets of
// ceil(SRAM words / 100) requests; a demand hits if its address lies in a set of the active
// window. A miss rotates the window by the prefetch sets and costs a prefetch of
// ceil(prefetch half / bandwidth) lines (one a cycle, +1 port latency); the line stalls until the
// last prefetch has arrived. DRAM reads count every prefetched line as full.
class UserReadBuffer {
 public:
  UserReadBuffer(const Mapping& m, int operand, std::int64_t sram_kb, std::int64_t bandwidth,
                 std::int64_t address_space)
      : bw_(bandwidth) {
    const std::int64_t total = sram_kb * 1024;
    const std::int64_t active = (total + 1) / 2, prefetch = total - active;
    const std::int64_t set_words = ceil_div(total, 100);
    prefetch_lines_per_miss_ = ceil_div(prefetch, bw_);
    // The prefetch matrix: rows x cols, element (row, col) -> address or -1.
    std::int64_t rows = 0, cols = 0;
    bool rolled = true;
    std::function<std::int64_t(std::int64_t, std::int64_t)> elem;
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
    if (rolled) {
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
    active_sets_ = std::min(ceil_div(active, set_words), num_sets_);
    prefetch_sets_ = std::min(ceil_div(prefetch, set_words), num_sets_ - active_sets_);
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    first_.assign(static_cast<std::size_t>(address_space) + 1, 0);
    for (const auto& am : members) ++first_[static_cast<std::size_t>(am.first) + 1];
    for (std::size_t i = 1; i < first_.size(); ++i) first_[i] += first_[i - 1];
    sets_.reserve(members.size());
    for (const auto& am : members) sets_.push_back(am.second);
    // prefetch_active_buffer at cycle 0: the active half, ending at cycle -1.
    const std::int64_t fetch_lines = ceil_div(rows * cols, bw_);
    const std::int64_t n = std::min(ceil_div(active, bw_), fetch_lines);
    reads_ = n * bw_;
    start_ = -n;
    last_prefetch_ = -1;
    window_start_ = 0;
  }

  // Serves one demand line's addresses issued at `cycle`; returns the line's stall cycles.
  template <typename ForEachAddr>
  std::int64_t serve(std::int64_t cycle, ForEachAddr&& for_each_addr) {
    std::int64_t offset = 1;  // hit latency
    for_each_addr([&](std::int64_t addr) {
      if (addr < 0) return;
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
    });
    return offset - 1;
  }

  std::int64_t reads() const { return reads_; }
  std::int64_t start() const { return start_; }
  std::int64_t stop() const { return last_prefetch_; }

 private:
  bool hit(std::int64_t addr) const {
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

  std::int64_t bw_;
  std::int64_t prefetch_lines_per_miss_ = 0;
  std::int64_t num_sets_ = 1, active_sets_ = 1, prefetch_sets_ = 0;
  std::vector<std::int64_t> first_;  // CSR offsets per address into sets_
  std::vector<std::int32_t> sets_;   // ascending set ids per address
  std::int64_t reads_ = 0, start_ = 0, last_prefetch_ = -1, window_start_ = 0;
};

}  // namespace

ScaleSimConfig parse_scalesim_config(const std::string& text, const std::string& source) {
  // Python configparser's syntax as SCALE-Sim writes it: "key : value" or "key = value", whole-line
  // comments only, names case-insensitive; a repeated key keeps its last value.
  IniSyntax syntax;
  syntax.separators = ":=";
  syntax.trailing_comments = "";
  syntax.strict_section_headers = false;
  syntax.empty_names_allowed = true;
  std::map<std::string, std::string> values;  // "section.key" lower-cased -> value
  for (const IniEntry& e : parse_ini(text, source, syntax)) {
    values[to_lower(e.section) + "." + to_lower(e.key)] = e.value;
  }
  auto get = [&](const std::string& section_name, const std::string& key) -> std::string {
    auto it = values.find(to_lower(section_name) + "." + to_lower(key));
    if (it == values.end()) {
      throw std::invalid_argument(source + ": key '" + section_name + "." + key +
                                  "' is missing (SCALE-Sim v2 requires it)");
    }
    return it->second;
  };
  const std::string arch = "architecture_presets";
  ScaleSimConfig c;
  c.run_name = get("general", "run_name");
  c.source = source;
  const char* kArrayWhy = "PEs a side, as nce's array.rows/array.cols";
  const char* kSramWhy = "KiB of on-chip SRAM, at most 1 GiB, as nce's memory.*_sram_kb";
  c.array_rows = to_bounded_int(source, arch + ".ArrayHeight", get(arch, "ArrayHeight"),
                                kMaxScaleSimArray, kArrayWhy);
  c.array_cols = to_bounded_int(source, arch + ".ArrayWidth", get(arch, "ArrayWidth"),
                                kMaxScaleSimArray, kArrayWhy);
  c.ifmap_sram_kb = to_bounded_int(source, arch + ".IfmapSramSzkB", get(arch, "IfmapSramSzkB"),
                                   kMaxScaleSimSramKb, kSramWhy);
  c.filter_sram_kb = to_bounded_int(source, arch + ".FilterSramSzkB", get(arch, "FilterSramSzkB"),
                                    kMaxScaleSimSramKb, kSramWhy);
  c.ofmap_sram_kb = to_bounded_int(source, arch + ".OfmapSramSzkB", get(arch, "OfmapSramSzkB"),
                                   kMaxScaleSimSramKb, kSramWhy);
  const std::string df = get(arch, "Dataflow");
  if (df == "os") {
    c.dataflow = Dataflow::kOS;
  } else if (df == "ws") {
    c.dataflow = Dataflow::kWS;
  } else if (df == "is") {
    c.dataflow = Dataflow::kIS;
  } else {
    throw std::invalid_argument(source + ": key 'architecture_presets.Dataflow' = '" + df +
                                "': unknown dataflow (expected os, ws or is, lower case)");
  }
  const std::string bw = get("run_presets", "InterfaceBandwidth");
  if (bw == "CALC") {
    c.calc_bandwidth = true;
  } else if (bw == "USER") {
    c.calc_bandwidth = false;
    auto it = values.find(arch + ".bandwidth");
    if (it == values.end()) {
      throw std::invalid_argument(source +
                                  ": key 'run_presets.InterfaceBandwidth' = 'USER' needs "
                                  "key 'architecture_presets.Bandwidth' (words/cycle), missing");
    }
    for (const std::string& item : split_list(it->second)) {
      c.bandwidths.push_back(to_bounded_int(source, arch + ".Bandwidth", item,
                                            kMaxScaleSimBandwidth, "words per cycle"));
    }
    if (c.bandwidths.empty()) {
      to_int(source, arch + ".Bandwidth", it->second, 1);  // throws: names the empty value
    }
  } else {
    throw std::invalid_argument(source + ": key 'run_presets.InterfaceBandwidth' = '" + bw +
                                "': expected CALC or USER");
  }
  return c;
}

ScaleSimConfig load_scalesim_config(const std::string& path) {
  return parse_scalesim_config(read_file(path, "SCALE-Sim config"), path);
}

int ScaleSimLayer::ofmap_h() const {
  return static_cast<int>(std::ceil(static_cast<double>(ifmap_h - filter_h + stride_h) / stride_h));
}
int ScaleSimLayer::ofmap_w() const {
  return static_cast<int>(std::ceil(static_cast<double>(ifmap_w - filter_w + stride_w) / stride_w));
}

std::vector<ScaleSimLayer> read_scalesim_topology(std::istream& in, const std::string& source,
                                                  ScaleSimTopologyKind kind) {
  const auto format = kind == ScaleSimTopologyKind::kGemm ? models::TopologyFormat::kGemm
                                                          : models::TopologyFormat::kConv;
  std::vector<ScaleSimLayer> layers;
  for (const models::TopologyRow& r : models::read_topology_rows(in, source, format)) {
    ScaleSimLayer l;
    l.name = r.name;
    l.ifmap_h = r.ifmap_h;
    l.ifmap_w = r.ifmap_w;
    l.filter_h = r.filter_h;
    l.filter_w = r.filter_w;
    l.channels = r.channels;
    l.num_filters = r.num_filters;
    l.stride_h = r.stride_h;
    l.stride_w = r.stride_w;
    layers.push_back(l);
  }
  return layers;
}

std::vector<ScaleSimLayer> load_scalesim_topology(const std::string& path,
                                                  ScaleSimTopologyKind kind) {
  std::istringstream in(read_file(path, "SCALE-Sim topology"));
  return read_scalesim_topology(in, path, kind);
}

ScaleSimTopologyKind detect_scalesim_topology_kind(const std::string& path) {
  std::istringstream in(read_file(path, "SCALE-Sim topology"));
  return models::detect_topology_format(in) == models::TopologyFormat::kGemm
             ? ScaleSimTopologyKind::kGemm
             : ScaleSimTopologyKind::kConv;
}

double ScaleSimLayerReport::avg_sram_bw(int operand) const {
  return static_cast<double>(sram[operand].accesses) / static_cast<double>(compute_cycles);
}
double ScaleSimLayerReport::avg_dram_bw(int operand) const {
  const auto& d = dram[operand];
  return static_cast<double>(d.accesses) / static_cast<double>(d.stop_cycle - d.start_cycle + 1);
}

ScaleSimLayerReport scalesim_layer_report(const ScaleSimConfig& cfg, const ScaleSimLayer& layer,
                                          bool with_dram_reads) {
  // Every count below is a product of the layer's and the array's sizes: SCALE-Sim's Python
  // integers cannot overflow, int64 can, so each product is checked (an error names the config,
  // the layer and the product rather than a wrapped number).
  auto mul = [&](std::int64_t a, std::int64_t b, const char* what) {
    const std::optional<std::int64_t> r = checked_mul(a, b);
    if (!r) {
      throw std::invalid_argument(
          cfg.source + ": layer '" + layer.name + "' on a " + std::to_string(cfg.array_rows) + "x" +
          std::to_string(cfg.array_cols) + " array: " + what + " (" + std::to_string(a) + " x " +
          std::to_string(b) + ") overflows 64 bits");
    }
    return *r;
  };
  Mapping m;
  m.df = cfg.dataflow;
  m.R = cfg.array_rows;
  m.C = cfg.array_cols;
  const std::int64_t K = layer.window(), N = layer.ofmap_pixels(), M = layer.num_filters;
  const std::int64_t KNM = mul(mul(K, N, "the MAC count"), M, "the MAC count");
  const std::int64_t ifmap_words =
      mul(mul(layer.ifmap_h, layer.ifmap_w, "the ifmap size"), layer.channels, "the ifmap size");
  const std::int64_t filter_words = mul(K, M, "the filter words");
  switch (cfg.dataflow) {
    case Dataflow::kOS:
      m.Sr = N, m.Sc = M, m.T = K;
      break;
    case Dataflow::kWS:
      m.Sr = K, m.Sc = M, m.T = N;
      break;
    case Dataflow::kIS:
      m.Sr = K, m.Sc = N, m.T = M;
      break;
  }
  m.row_folds = ceil_div(m.Sr, m.R);
  m.col_folds = ceil_div(m.Sc, m.C);
  m.folds = mul(m.row_folds, m.col_folds, "the fold count");
  const bool os = cfg.dataflow == Dataflow::kOS;
  m.fold_lines = os ? m.T + m.R + m.C - 2 : 2 * m.R + m.C + m.T - 2;  // T <= 2^62, R, C <= 4096
  m.H = layer.ifmap_h;
  m.W = layer.ifmap_w;
  m.Fw = layer.filter_w;
  m.Ch = layer.channels;
  m.Wo = layer.ofmap_w();
  m.sh = layer.stride_h;
  m.sw = layer.stride_w;
  m.K = K;

  ScaleSimLayerReport out;
  out.name = layer.name;
  out.folds = m.folds;
  out.demand_lines = mul(m.folds, m.fold_lines, "the demand line count");

  // Per-fold efficiencies, summed in SCALE-Sim's fold order (fc outer, fr inner).
  const std::int64_t pes = m.R * m.C;
  const std::int64_t util_cycles = os ? m.T + m.R + m.C - 2 : 2 * m.R + 2 * m.C + m.T - 3;
  mul(pes, util_cycles, "the PE-cycles of a fold");  // bounds used * T below
  // SRAM accesses: T x r_used / T x c_used per fold, summed (bounds the ofmap words below).
  const std::int64_t streamed_r =
      mul(mul(m.col_folds, m.T, "streamed SRAM reads"), m.Sr, "streamed SRAM reads");
  const std::int64_t streamed_c =
      mul(mul(m.row_folds, m.T, "streamed SRAM accesses"), m.Sc, "streamed SRAM accesses");
  const std::int64_t stationary = mul(m.Sr, m.Sc, "stationary SRAM accesses");
  double eff_sum = 0, util_sum = 0;
  std::int64_t ofmap_words = 0;
  for (std::int64_t fc = 0; fc < m.col_folds; ++fc) {
    for (std::int64_t fr = 0; fr < m.row_folds; ++fr) {
      const std::int64_t used = m.r_used(fr) * m.c_used(fc);
      eff_sum += static_cast<double>(used) / static_cast<double>(pes);
      util_sum += static_cast<double>(used * m.T) / static_cast<double>(pes * util_cycles);
      ofmap_words += os ? used : m.T * m.c_used(fc);
    }
  }
  out.mapping_efficiency = eff_sum / static_cast<double>(m.folds) * 100;
  out.compute_util = util_sum / static_cast<double>(m.folds) * 100;

  // The lines whose service cycles the reports give: the first and last line holding a valid
  // address of each operand (the last fold's tail may hold only -1 entries of windows running
  // past the ifmap; even whole folds may), the first and last ofmap lines.
  std::int64_t first_line[3] = {0, 0, 0}, last_line_of[3] = {0, 0, 0};
  for (int op = 0; op < 2; ++op) {
    std::int64_t first = 0, last = 0;
    operand_line_range(m, op, 0, 0, first, last);
    first_line[op] = first;  // element (0, 0) is always valid
    bool found = false;
    for (std::int64_t f = m.folds - 1; f >= 0 && !found; --f) {
      const std::int64_t fc = f / m.row_folds, fr = f % m.row_folds;
      operand_line_range(m, op, fc, fr, first, last);
      for (std::int64_t l = last; l >= first && !found; --l) {
        visit_line(m, op, fc, fr, l, [&](std::int64_t addr) { found |= addr >= 0; });
        if (found) last_line_of[op] = f * m.fold_lines + l;
      }
    }
  }
  {
    std::int64_t lo = 0, hi = 0;
    m.ofmap_rows(0, lo, hi);
    first_line[2] = lo;
    m.ofmap_rows(m.row_folds - 1, lo, hi);
    last_line_of[2] = (m.folds - 1) * m.fold_lines + hi + m.c_used(m.col_folds - 1) - 1;
  }

  // Ofmap write buffer: drained `width` words a cycle (CALC: ArrayWidth; USER: the bandwidth).
  const std::int64_t width = cfg.calc_bandwidth ? m.C : cfg.user_bandwidth();
  OfmapWriteBuffer wbuf(static_cast<std::int64_t>(cfg.ofmap_sram_kb) * 1024, width);
  StallTimeline timeline;
  std::int64_t stalls = 0;
  if (cfg.calc_bandwidth) {
    if (ofmap_words > wbuf.drain_size()) {
      std::int64_t line0 = 0;
      for (std::int64_t fc = 0; fc < m.col_folds; ++fc) {
        const std::int64_t cu = m.c_used(fc);
        for (std::int64_t fr = 0; fr < m.row_folds; ++fr, line0 += m.fold_lines) {
          std::int64_t lo = 0, hi = 0;
          m.ofmap_rows(fr, lo, hi);
          // Lines [lo, hi + cu) hold ofmap words: column c is valid in lines [lo + c, hi + c].
          const std::int64_t len = hi - lo + 1, end = hi + cu;
          auto words_before = [&](std::int64_t l) {  // words in the fold's lines [lo, l)
            std::int64_t w = 0;
            for (std::int64_t c = 0; c < cu; ++c) w += std::clamp<std::int64_t>(l - lo - c, 0, len);
            return w;
          };
          // Lines pass in bulk while no word can stall or start a drain; the line where one can
          // is served word by word.
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
            const std::int64_t c_lo = std::max<std::int64_t>(0, l - hi);
            const std::int64_t c_hi = std::min<std::int64_t>(cu - 1, l - lo);
            const std::int64_t served = wbuf.serve(cycle, c_hi - c_lo + 1);
            if (served > cycle) {
              stalls += served - cycle;
              timeline.points.emplace_back(line0 + l, stalls);
            }
            ++l;
          }
        }
      }
    } else {
      wbuf.serve(0, ofmap_words);  // never reaches a drain: only the word count matters
    }
  } else {
    // USER: reads stall too; every line is served by the three buffers at the same issue cycle,
    // the array stalls for the longest of the three (double_buffered_scratchpad_mem.py).
    const std::int64_t bw = cfg.user_bandwidth();
    UserReadBuffer rbuf[2] = {UserReadBuffer(m, 0, cfg.ifmap_sram_kb, bw, ifmap_words),
                              UserReadBuffer(m, 1, cfg.filter_sram_kb, bw, filter_words)};
    std::int64_t line = 0;
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
          const std::int64_t c_lo = std::max<std::int64_t>(0, l - hi);
          const std::int64_t c_hi = std::min<std::int64_t>(cu - 1, l - lo);
          served[2] = wbuf.serve(cycle, std::max<std::int64_t>(0, c_hi - c_lo + 1));
          worst = std::max(worst, served[2] - cycle);
          for (int op = 0; op < 3; ++op) {
            if (line == first_line[op]) out.sram[op].start_cycle = served[op];
            if (line == last_line_of[op]) out.sram[op].stop_cycle = served[op];
          }
          stalls += worst;
        }
      }
    }
    for (int op = 0; op < 2; ++op) {
      out.dram[op] = {rbuf[op].start(), rbuf[op].stop(), rbuf[op].reads()};
    }
  }
  const std::int64_t last_line = out.demand_lines - 1;
  out.stall_cycles = stalls;
  out.compute_cycles = last_line + stalls;
  wbuf.drain_all(out.compute_cycles);
  out.overall_util = static_cast<double>(mul(KNM, 100, "the MAC count x 100")) /
                     static_cast<double>(mul(out.compute_cycles, pes, "the PE-cycles"));

  // SRAM accesses (the compute system's request counts; computed above).
  switch (cfg.dataflow) {
    case Dataflow::kOS:
      out.sram[0].accesses = streamed_r;
      out.sram[1].accesses = streamed_c;
      // SCALE-Sim adds R + C a fold.
      out.sram[2].accesses = stationary + mul(m.folds, m.R + m.C, "ofmap SRAM accesses");
      break;
    case Dataflow::kWS:
      out.sram[0].accesses = streamed_r;
      out.sram[1].accesses = stationary;
      out.sram[2].accesses = streamed_c;
      break;
    case Dataflow::kIS:
      out.sram[0].accesses = stationary;
      out.sram[1].accesses = streamed_r;
      out.sram[2].accesses = streamed_c;
      break;
  }

  out.dram[2] = {wbuf.dram_start(), wbuf.dram_stop(), wbuf.dram_writes()};
  if (!cfg.calc_bandwidth) return out;

  // CALC: SRAM reads at issue + 1, the ofmap at its service cycle (only ofmap lines stall).
  for (int op = 0; op < 2; ++op) {
    out.sram[op].start_cycle = timeline.issue_cycle(first_line[op]) + 1;
    out.sram[op].stop_cycle = timeline.issue_cycle(last_line_of[op]) + 1;
  }
  out.sram[2].start_cycle = timeline.service_cycle(first_line[2]);
  out.sram[2].stop_cycle = timeline.service_cycle(last_line_of[2]);
  if (!with_dram_reads) return out;

  // DRAM reads through the CALC read buffers.
  const std::int64_t Ho = layer.ofmap_h();
  // At most the ifmap's words (checked above).
  const std::int64_t ifmap_distinct =
      covered_extent(m.H, layer.filter_h, m.sh, Ho) * covered_extent(m.W, m.Fw, m.sw, m.Wo) * m.Ch;
  const auto ifmap = calc_read_buffer(m, 0, cfg.ifmap_sram_kb, ifmap_distinct, ifmap_words,
                                      timeline.issue_cycle(first_line[0]), timeline);
  const auto filter = calc_read_buffer(m, 1, cfg.filter_sram_kb, filter_words, filter_words,
                                       timeline.issue_cycle(first_line[1]), timeline);
  out.dram[0] = {ifmap.start, ifmap.stop, ifmap.reads};
  out.dram[1] = {filter.start, filter.stop, filter.reads};
  return out;
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string s(buf, res.ptr);  // "-d.ddde+XX"
  const auto e_pos = s.find('e');
  const int exp10 = std::stoi(s.substr(e_pos + 1));
  std::string mant = s.substr(0, e_pos);
  const bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char ch : mant)
    if (ch != '.') digits += ch;
  std::string out = neg ? "-" : "";
  if (exp10 >= -4 && exp10 < 16) {
    // Python's repr: fixed notation when the exponent lies in [-4, 16).
    const int point = exp10 + 1;  // digits before the decimal point
    if (point <= 0) {
      out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= point) {
      out += digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(point)) + "." +
             digits.substr(static_cast<std::size_t>(point));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char e[16];
  std::snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out + e;
}

namespace {
std::string cycle_repr(std::int64_t c) {
  return python_float_repr(static_cast<double>(c));
}
}  // namespace

void write_scalesim_compute_report(const std::vector<ScaleSimLayerReport>& layers,
                                   std::ostream& out) {
  out << "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute "
         "Util %,\n";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& r = layers[i];
    out << i << ", " << r.compute_cycles << ", " << r.stall_cycles << ", "
        << python_float_repr(r.overall_util) << ", " << python_float_repr(r.mapping_efficiency)
        << ", " << python_float_repr(r.compute_util) << ",\n";
  }
}

void write_scalesim_bandwidth_report(const std::vector<ScaleSimLayerReport>& layers,
                                     std::ostream& out) {
  out << "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, "
         "Avg FILTER DRAM BW, Avg OFMAP DRAM BW,\n";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& r = layers[i];
    out << i;
    for (int op = 0; op < 3; ++op) out << ", " << python_float_repr(r.avg_sram_bw(op));
    for (int op = 0; op < 3; ++op) out << ", " << python_float_repr(r.avg_dram_bw(op));
    out << ",\n";
  }
}

void write_scalesim_detailed_access_report(const std::vector<ScaleSimLayerReport>& layers,
                                           std::ostream& out) {
  out << "LayerID, SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, SRAM Filter "
         "Start Cycle, SRAM Filter Stop Cycle, SRAM Filter Reads, SRAM OFMAP Start Cycle, SRAM "
         "OFMAP Stop Cycle, SRAM OFMAP Writes, DRAM IFMAP Start Cycle, DRAM IFMAP Stop Cycle, DRAM "
         "IFMAP Reads, DRAM Filter Start Cycle, DRAM Filter Stop Cycle, DRAM Filter Reads, DRAM "
         "OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,\n";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& r = layers[i];
    out << i;
    for (const auto* s : {&r.sram[0], &r.sram[1], &r.sram[2], &r.dram[0], &r.dram[1], &r.dram[2]}) {
      out << ", " << cycle_repr(s->start_cycle) << ", " << cycle_repr(s->stop_cycle) << ", "
          << s->accesses;
    }
    out << ",\n";
  }
}

}  // namespace nce::sim
