// The result database's schema: a chain of migration steps v0 -> v1 -> v2 ..., each applied in
// place inside one write transaction and recorded in PRAGMA user_version. Steps are never edited
// once released; a change of schema is a new step at the end of the chain.
//
// Tables (current version):
//   runs(id, uuid, method, model, dataset, bits, hw, status, started_at, finished_at, final_top1,
//        config JSON, git_commit, seed, wall_seconds, host)            one row per
//        train/search/sweep
//   epochs(run_id, epoch, phase, loss, top1, test_top1, seconds, extra JSON)
//   candidates(id, run_id, epoch, phase, widths JSON, macs, params, latency_cycles, stall_cycles,
//        energy_pj, top1, method, model, dataset, bits, hw, hw_fingerprint)
//        method/model/dataset/bits/hw are NULL when equal to the run's (a sweep's rows set them)
//   hw_configs(fingerprint PK, name, description)                    configs candidates refer to
//   cost_cache(hw_fingerprint, gemm_k, gemm_n, gemm_m, quantized, kind, bits ->  a whole
//        nce::sim::LayerCost: status, passes, folds, cycles, compute/stall cycles, utilization,
//        energy and its breakdown, every event count)                 (sqlite_cost_cache.h)
// Stable views (docs/design.md §5; columns never change meaning):
//   v_candidates(run_id, method, model, dataset, bits, hw, epoch, phase, widths, macs, params,
//                latency_cycles, energy_pj, top1)
//   v_runs(run_id, method, model, dataset, bits, hw, status, started_at, finished_at, final_top1,
//          config)
// Units: cycles of the modelled array; energy in pJ; top1 in percent (0..100); times UTC ISO 8601.
#pragma once

#include <string>
#include <vector>

namespace nce::results {

class Database;

struct Migration {
  int to_version;           // user_version after this step
  std::string description;  // one line, for logs and docs
  std::string sql;          // statements run inside the step's transaction
};

// Every step, in order: migrations()[i].to_version == i + 1.
const std::vector<Migration>& migrations();

// The version this build writes and understands.
int current_schema_version();

// Throws DatabaseError naming the file if it is newer than this build, or a non-empty SQLite file
// that is not an nce database (tables but user_version 0, or a user_version without nce's tables
// runs, epochs and candidates). Reads only; Database's constructor calls it before any write.
void check_schema_compatible(const Database& db);

// Brings `db` to current_schema_version(), every step in one transaction (a failing step leaves
// the file at its old version, never half-migrated). Throws DatabaseError naming the file if its
// version is newer than current_schema_version(). Safe when several processes open (and migrate)
// the same file at once.
void migrate(Database& db);

}  // namespace nce::results
