// Joining result databases, e.g. the shards of a sweep run as a batch job array
// (`nce sweep --shard i/N`) into one file.
#pragma once

#include <cstdint>
#include <string>

#include "nce/results/database.h"

namespace nce::results {

struct MergeStats {
  std::int64_t runs_added = 0;
  std::int64_t runs_skipped = 0;  // already present (same runs.uuid): merging is idempotent
  std::int64_t runs_updated = 0;  // present but still "running" in the output: replaced by the
                                  // input's newer copy (a shard merged while it was written)
  std::int64_t candidates_added = 0;
  std::int64_t epochs_added = 0;
  std::int64_t hw_configs_added = 0;
  std::int64_t cost_entries_added = 0;
};

// Copies every run of `input_path` not yet in `out` (matched by uuid, a stable key), with its
// epochs and candidates (run ids renumbered), plus hw configs and cost-cache entries not yet
// present, in one transaction of `out`. A run that `out` holds as still "running" is replaced
// by the input's copy when that one has ended or has more rows (merging a shard again after it
// finished completes it). The input is never written: it is opened read-only (so a read-only
// file or directory merges too), checked like any database (a newer, corrupt or non-SQLite file
// is refused before `out` changes) and copied to a temporary file, where an older schema is
// migrated. Runs of a schema-v1 input, which had no uuid, are keyed by their content, so two
// copies of one old database merge once. Merging a file into itself is an error.
MergeStats merge_database(Database& out, const std::string& input_path);

}  // namespace nce::results
