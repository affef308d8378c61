// SCALE-Sim v2's memory system replayed on counts (scalesim_compat.h), private to the sim library:
// the ofmap write buffer, the CALC-mode read buffer's DRAM reads and the USER-mode read buffer
// that stalls the array. Each follows one SCALE-Sim file (named below); none moves data.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "scalesim_mapping.h"

namespace nce::sim::scalesim_detail {

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
  std::int64_t serve(std::int64_t cycle, std::int64_t valid);

  // empty_all_buffers(): drains what is left, back to back, from `cycle`.
  void drain_all(std::int64_t cycle);

  std::int64_t dram_writes() const { return dram_writes_; }
  std::int64_t dram_start() const { return dram_start_; }
  std::int64_t dram_stop() const { return dram_stop_; }

 private:
  void flush_partial_line();
  std::int64_t line_words(std::int64_t line) const;
  std::int64_t drain(std::int64_t start_cycle);
  std::int64_t drain_lines(std::int64_t start_cycle);

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

// Stall record: after demand line `line`, `stalls` cycles of stall in all.
struct StallTimeline {
  std::vector<std::pair<std::int64_t, std::int64_t>> points;
  // Cycle at which line `line` is issued (stalls of the lines before it).
  std::int64_t issue_cycle(std::int64_t line) const;
  // Cycle at which the ofmap words of line `line` are served (its own stall included).
  std::int64_t service_cycle(std::int64_t line) const;
};

// SCALE-Sim's CALC-mode read buffer (memory/read_buffer_estimate_bw.py) for one operand: DRAM
// reads and the first/last cycle of its prefetch trace.
struct ReadBufferResult {
  std::int64_t reads = 0, start = 0, stop = 0;
};

ReadBufferResult calc_read_buffer(const Mapping& m, int operand, std::int64_t sram_kb,
                                  std::int64_t distinct, std::int64_t address_space,
                                  std::int64_t first_request_cycle, const StallTimeline& stalls);

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
                 std::int64_t address_space);

  // Serves one demand line's addresses issued at `cycle`; returns the line's stall cycles.
  template <typename ForEachAddr>
  std::int64_t serve(std::int64_t cycle, ForEachAddr&& for_each_addr) {
    std::int64_t offset = 1;  // hit latency
    for_each_addr([&](std::int64_t addr) {
      if (addr >= 0) offset = serve_address(addr, cycle, offset);
    });
    return offset - 1;
  }

  std::int64_t reads() const { return reads_; }
  std::int64_t start() const { return start_; }
  std::int64_t stop() const { return last_prefetch_; }

 private:
  // The prefetch matrix's addresses in fetch order, grouped into sets of set_words (CSR per
  // address in first_ / sets_).
  void build_sets(const Mapping& m, int operand, std::int64_t set_words, std::int64_t address_space,
                  std::int64_t& rows, std::int64_t& cols);
  // Rotates the window until `addr` hits; returns the line's offset after the prefetches.
  std::int64_t serve_address(std::int64_t addr, std::int64_t cycle, std::int64_t offset);
  bool hit(std::int64_t addr) const;

  std::int64_t bw_;
  std::int64_t prefetch_lines_per_miss_ = 0;
  std::int64_t num_sets_ = 1, active_sets_ = 1, prefetch_sets_ = 0;
  std::vector<std::int64_t> first_;  // CSR offsets per address into sets_
  std::vector<std::int32_t> sets_;   // ascending set ids per address
  std::int64_t reads_ = 0, start_ = 0, last_prefetch_ = -1, window_start_ = 0;
};

}  // namespace nce::sim::scalesim_detail
