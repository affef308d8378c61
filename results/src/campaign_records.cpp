#include "nce/results/campaign_records.h"

namespace nce::results {

LastRun last_run(const Database& db) {
  LastRun r;
  r.migrated =
      db.query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'")
          .value_or(0) > 0;
  if (!r.migrated) return r;
  auto q = db.prepare(
      "SELECT status, final_top1, config, wall_seconds, ifnull(campaign, ''), ifnull(arm, '') "
      "FROM runs ORDER BY id DESC LIMIT 1");
  if (!q.step()) return r;
  r.any = true;
  r.status = q.column_text(0);
  if (!q.is_null(1)) r.final_top1 = q.column_double(1);
  r.config = q.column_text(2);
  if (!q.is_null(3)) r.wall_seconds = q.column_double(3);
  r.campaign = q.column_text(4);
  r.arm = q.column_text(5);
  return r;
}

std::vector<CampaignRecord> campaign_records(const Database& db) {
  std::vector<CampaignRecord> out;
  if (db.schema_version() < 7) return out;
  auto q = db.prepare("SELECT name, fingerprint, plan FROM campaigns ORDER BY name");
  while (q.step()) out.push_back({q.column_text(0), q.column_text(1), q.column_text(2)});
  return out;
}

void record_campaign(Database& db, const CampaignRecord& r) {
  auto insert = db.prepare(
      "INSERT OR IGNORE INTO campaigns (name, fingerprint, plan, created_at) "
      "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))");
  insert.bind(1, r.name).bind(2, r.fingerprint).bind(3, r.plan);
  insert.run();
}

std::optional<std::string> other_campaigns_run(const Database& db, const std::string& name) {
  if (db.schema_version() < 6) return std::nullopt;
  auto q =
      db.prepare("SELECT campaign FROM runs WHERE campaign IS NOT NULL AND campaign <> ? LIMIT 1");
  q.bind(1, name);
  if (q.step()) return q.column_text(0);
  return std::nullopt;
}

RowCounts row_counts(const Database& db) {
  RowCounts c;
  c.runs = db.query_int("SELECT count(*) FROM runs").value_or(0);
  c.candidates = db.query_int("SELECT count(*) FROM candidates").value_or(0);
  return c;
}

std::string run_candidates_sql(std::int64_t run_id) {
  return "SELECT hw, method, model, macs, latency_cycles, energy_pj, top1 FROM v_candidates "
         "WHERE run_id = " +
         std::to_string(run_id);
}

}  // namespace nce::results
