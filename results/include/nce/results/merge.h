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
  std::int64_t candidates_added = 0;
  std::int64_t epochs_added = 0;
  std::int64_t hw_configs_added = 0;
  std::int64_t cost_entries_added = 0;
};

// Copies every run of `input_path` not yet in `out` (matched by uuid), with its epochs and
// candidates (run ids renumbered), plus hw configs and cost-cache entries not yet present, in one
// transaction of `out`. The input is checked like any database (an older schema is migrated in
// place first; a newer, corrupt or non-SQLite file is refused before `out` changes). Merging a
// file into itself is an error.
MergeStats merge_database(Database& out, const std::string& input_path);

}  // namespace nce::results
