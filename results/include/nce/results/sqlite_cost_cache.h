// nce::sim::CostCache in the result database's cost_cache table (schema.h): a layer's fast-path
// cost keyed by (hw fingerprint, the whole layer key, array bits) — the layer key is CostKey's
// text: GEMM K/N/M, the conv geometry that decides DRAM reuse, quantized, kind (schema v3) — so
// that a repeated sweep, search or campaign job does not compute it again, across processes and
// runs. sim::LayerCostService (and sim::CostTable through it) consults it.
//
// The first lookup of a hw fingerprint reads all of its entries in one query and keeps them in
// memory (entries other processes add later are not seen; they are recomputed and ignored on
// store). Stores are buffered and written in one transaction every `batch` stores, on flush() and
// on destruction; lookups see buffered entries. Entries are never updated (INSERT OR IGNORE): the
// fast path is deterministic for a fingerprint, and several processes may store the same key.
// Thread safety: every call takes a mutex, so one cache may serve several threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "nce/results/database.h"
#include "nce/sim/cost_key.h"

namespace nce::results {

class SqliteCostCache : public sim::CostCache {
 public:
  // Opens (creates, migrates) its own connection to `path`.
  explicit SqliteCostCache(const std::string& path, int batch = 512);
  ~SqliteCostCache() override;  // flushes; errors are swallowed (call flush() to see them)

  std::optional<sim::LayerCost> lookup(const std::string& hw_fingerprint, const sim::CostKey& key,
                                       int bits) override;
  void store(const std::string& hw_fingerprint, const sim::CostKey& key, int bits,
             const sim::LayerCost& cost) override;
  void flush();

  std::int64_t hits() const { return hits_; }
  std::int64_t misses() const { return misses_; }
  std::int64_t stored() const { return stored_; }  // entries written so far (new or not)

 private:
  // (hw fingerprint, sim::CostKey::to_string(), bits)
  using Key = std::tuple<std::string, std::string, int>;
  static Key make_key(const std::string& fp, const sim::CostKey& key, int bits);
  void flush_locked();
  void load_locked(const std::string& hw_fingerprint);

  std::mutex mutex_;
  Database db_;
  int batch_;
  struct Pending {
    sim::CostKey key;
    sim::LayerCost cost;
  };
  std::map<Key, Pending> pending_;      // stored, not yet written
  std::map<Key, sim::LayerCost> memo_;  // everything loaded or stored
  std::set<std::string> loaded_;        // fingerprints read from the database
  std::int64_t hits_ = 0;
  std::int64_t misses_ = 0;
  std::int64_t stored_ = 0;
};

}  // namespace nce::results
