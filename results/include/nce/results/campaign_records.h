// What nce campaign (campaign/) and nce db/sweep (apps/) read and write in a result database,
// as functions: the SQL stays in results/ (docs/design.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nce/results/database.h"

namespace nce::results {

// The newest run of a database (a campaign job's own database holds one).
struct LastRun {
  bool migrated = false;  // the runs table exists (another process may have just created the file)
  bool any = false;       // a run is recorded
  std::string status, config, campaign, arm;
  std::optional<double> final_top1, wall_seconds;
};
LastRun last_run(const Database& db);

// The campaigns table (schema 7): the plan that owns the database.
struct CampaignRecord {
  std::string name, fingerprint, plan;
};
std::vector<CampaignRecord> campaign_records(const Database& db);  // empty before schema 7
// Records `r` unless a campaign of that name is there already (INSERT OR IGNORE).
void record_campaign(Database& db, const CampaignRecord& r);
// A run of a campaign other than `name` (schema 6), if the database holds one.
std::optional<std::string> other_campaigns_run(const Database& db, const std::string& name);

// Rows of runs and of candidates.
struct RowCounts {
  std::int64_t runs = 0, candidates = 0;
};
RowCounts row_counts(const Database& db);

// The candidates of run `run_id` as a table (hw, method, model, macs, latency_cycles,
// energy_pj, top1), for printing after a sweep.
std::string run_candidates_sql(std::int64_t run_id);

}  // namespace nce::results
