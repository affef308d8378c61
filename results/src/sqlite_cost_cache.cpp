#include "nce/results/sqlite_cost_cache.h"

#include <cmath>

#include "nce/models/network.h"

namespace nce::results {

namespace {

const char* kColumns =
    "status, status_detail, passes, folds, cycles, compute_cycles, stall_cycles, utilization, "
    "energy_pj, mac_pj, sram_pj, dram_pj, idle_pj, macs, idle_pe_cycles, ifmap_sram_reads, "
    "ifmap_sram_writes, filter_sram_reads, filter_sram_writes, ofmap_sram_reads, "
    "ofmap_sram_writes, dram_ifmap_read_bits, dram_filter_read_bits, dram_ofmap_write_bits";

const char* status_text(sim::CostStatus s) {
  switch (s) {
    case sim::CostStatus::kOk:
      return "ok";
    case sim::CostStatus::kSramTooSmall:
      return "sram_too_small";
    case sim::CostStatus::kOverflow:
      return "overflow";
  }
  return "sram_too_small";
}

sim::CostStatus status_from_text(const std::string& text) {
  if (text == "ok") return sim::CostStatus::kOk;
  if (text == "overflow") return sim::CostStatus::kOverflow;
  return sim::CostStatus::kSramTooSmall;
}

// NULL stands for +inf (an infeasible layer's energy).
double real_or_inf(const Statement& st, int i) {
  return st.is_null(i) ? INFINITY : st.column_double(i);
}

}  // namespace

SqliteCostCache::SqliteCostCache(const std::string& path, int batch)
    : db_(path), batch_(batch > 0 ? batch : 1) {}

SqliteCostCache::~SqliteCostCache() {
  try {
    flush();
  } catch (...) {
  }
}

SqliteCostCache::Key SqliteCostCache::make_key(const std::string& fp, const sim::CostKey& key,
                                               int bits) {
  return Key{fp, key.to_string(), bits};
}

std::optional<sim::LayerCost> SqliteCostCache::lookup(const std::string& hw_fingerprint,
                                                      const sim::CostKey& key, int bits) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!loaded_.count(hw_fingerprint)) load_locked(hw_fingerprint);
  auto it = memo_.find(make_key(hw_fingerprint, key, bits));
  if (it == memo_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second;
}

void SqliteCostCache::load_locked(const std::string& hw_fingerprint) {
  auto st = db_.prepare(std::string("SELECT layer_key, bits, ") + kColumns +
                        " FROM cost_cache WHERE hw_fingerprint = ?");
  st.bind(1, hw_fingerprint);
  while (st.step()) {
    const std::string layer_key = st.column_text(0);
    const int bits = static_cast<int>(st.column_int(1));
    const int o = 2;  // first LayerCost column
    sim::LayerCost c;
    c.status = status_from_text(st.column_text(o));
    c.status_detail = st.column_text(o + 1);
    c.passes = static_cast<int>(st.column_int(o + 2));
    c.folds = st.column_int(o + 3);
    c.cycles = st.column_int(o + 4);
    c.compute_cycles = st.column_int(o + 5);
    c.stall_cycles = st.column_int(o + 6);
    c.utilization = st.column_double(o + 7);
    c.energy_pj = real_or_inf(st, o + 8);
    c.energy.mac_pj = real_or_inf(st, o + 9);
    c.energy.sram_pj = real_or_inf(st, o + 10);
    c.energy.dram_pj = real_or_inf(st, o + 11);
    c.energy.idle_pj = real_or_inf(st, o + 12);
    c.events.macs = st.column_int(o + 13);
    c.events.idle_pe_cycles = st.column_int(o + 14);
    c.events.ifmap_sram_reads = st.column_int(o + 15);
    c.events.ifmap_sram_writes = st.column_int(o + 16);
    c.events.filter_sram_reads = st.column_int(o + 17);
    c.events.filter_sram_writes = st.column_int(o + 18);
    c.events.ofmap_sram_reads = st.column_int(o + 19);
    c.events.ofmap_sram_writes = st.column_int(o + 20);
    c.events.dram_ifmap_read_bits = st.column_int(o + 21);
    c.events.dram_filter_read_bits = st.column_int(o + 22);
    c.events.dram_ofmap_write_bits = st.column_int(o + 23);
    memo_.emplace(Key{hw_fingerprint, layer_key, bits}, c);
  }
  loaded_.insert(hw_fingerprint);
}

void SqliteCostCache::store(const std::string& hw_fingerprint, const sim::CostKey& key, int bits,
                            const sim::LayerCost& cost) {
  std::lock_guard<std::mutex> lock(mutex_);
  Key k = make_key(hw_fingerprint, key, bits);
  memo_[k] = cost;
  pending_[k] = Pending{key, cost};
  if (static_cast<int>(pending_.size()) >= batch_) flush_locked();
}

void SqliteCostCache::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  flush_locked();
}

void SqliteCostCache::flush_locked() {
  if (pending_.empty()) return;
  std::string bind_marks;
  for (int i = 0; i < 33; ++i) bind_marks += i ? ",?" : "?";
  const std::string now = utc_now_iso8601();
  db_.write_transaction([&] {
    auto st = db_.prepare(
        std::string("INSERT OR IGNORE INTO cost_cache (hw_fingerprint, layer_key, gemm_k, gemm_n, "
                    "gemm_m, quantized, kind, bits, created_at, ") +
        kColumns + ") VALUES (" + bind_marks + ")");
    for (const auto& [k, p] : pending_) {
      const sim::LayerCost& c = p.cost;
      st.reset();
      st.bind_all(std::get<0>(k), std::get<1>(k), p.key.K, p.key.N, p.key.M,
                  p.key.quantized ? 1 : 0, std::string(models::to_string(p.key.kind)),
                  std::get<2>(k), now, std::string(status_text(c.status)), c.status_detail,
                  c.passes, c.folds, c.cycles, c.compute_cycles, c.stall_cycles, c.utilization,
                  c.energy_pj, c.energy.mac_pj, c.energy.sram_pj, c.energy.dram_pj,
                  c.energy.idle_pj, c.events.macs, c.events.idle_pe_cycles,
                  c.events.ifmap_sram_reads, c.events.ifmap_sram_writes, c.events.filter_sram_reads,
                  c.events.filter_sram_writes, c.events.ofmap_sram_reads,
                  c.events.ofmap_sram_writes, c.events.dram_ifmap_read_bits,
                  c.events.dram_filter_read_bits, c.events.dram_ofmap_write_bits);
      st.run();
    }
  });
  stored_ += static_cast<std::int64_t>(pending_.size());
  pending_.clear();
}

}  // namespace nce::results
