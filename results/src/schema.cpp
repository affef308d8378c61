#include "nce/results/schema.h"

#include <string>
#include <utility>

#include "nce/results/database.h"

namespace nce::results {

namespace {

// Pieces of DDL that several steps write, named {piece} in their text (with_pieces):
// {cost_cache_measures}: the columns of a cost_cache row after its key columns (a whole
// nce::sim::LayerCost), the same in v2 and v3 (v3 adds layer_key and keys the table on it).
const char* const kCostCacheMeasures = R"sql(  gemm_k              INTEGER NOT NULL,
  gemm_n              INTEGER NOT NULL,
  gemm_m              INTEGER NOT NULL,
  quantized           INTEGER NOT NULL,
  kind                TEXT NOT NULL,
  bits                INTEGER NOT NULL,
  status              TEXT NOT NULL,
  status_detail       TEXT,
  passes              INTEGER NOT NULL,
  folds               INTEGER NOT NULL,
  cycles              INTEGER NOT NULL,
  compute_cycles      INTEGER NOT NULL,
  stall_cycles        INTEGER NOT NULL,
  utilization         REAL,
  energy_pj           REAL,
  mac_pj              REAL,
  sram_pj             REAL,
  dram_pj             REAL,
  idle_pj             REAL,
  macs                INTEGER NOT NULL,
  idle_pe_cycles      INTEGER NOT NULL,
  ifmap_sram_reads    INTEGER NOT NULL,
  ifmap_sram_writes   INTEGER NOT NULL,
  filter_sram_reads   INTEGER NOT NULL,
  filter_sram_writes  INTEGER NOT NULL,
  ofmap_sram_reads    INTEGER NOT NULL,
  ofmap_sram_writes   INTEGER NOT NULL,
  dram_ifmap_read_bits  INTEGER NOT NULL,
  dram_filter_read_bits INTEGER NOT NULL,
  dram_ofmap_write_bits INTEGER NOT NULL,
  created_at          TEXT NOT NULL,)sql";
// {replace_v_candidates}: v_candidates dropped and created again as v2 defines it (a candidate's
// overrides before its run's fields); v4 and v5 add a WHERE clause after it.
const char* const kReplaceCandidatesView = R"sql(DROP VIEW v_candidates;
CREATE VIEW v_candidates AS
  SELECT c.run_id, COALESCE(c.method, r.method) AS method, COALESCE(c.model, r.model) AS model,
         COALESCE(c.dataset, r.dataset) AS dataset, COALESCE(c.bits, r.bits) AS bits,
         COALESCE(c.hw, r.hw) AS hw, c.epoch, c.phase, c.widths, c.macs, c.params,
         c.latency_cycles, c.energy_pj, c.top1
  FROM candidates c JOIN runs r ON r.id = c.run_id)sql";

// `sql` with every {piece} replaced by its text.
std::string with_pieces(std::string sql) {
  const std::pair<std::string, const char*> pieces[] = {
      {"{cost_cache_measures}", kCostCacheMeasures},
      {"{replace_v_candidates}", kReplaceCandidatesView}};
  for (const auto& [name, text] : pieces) {
    for (auto at = sql.find(name); at != std::string::npos; at = sql.find(name, at)) {
      sql.replace(at, name.size(), text);
    }
  }
  return sql;
}

// v1: runs, per-epoch metrics, candidates, and the two stable views.
const char* const kV1 = R"sql(
CREATE TABLE runs (
  id          INTEGER PRIMARY KEY,
  method      TEXT NOT NULL,
  model       TEXT,
  dataset     TEXT,
  bits        INTEGER,
  hw          TEXT,
  status      TEXT NOT NULL DEFAULT 'running',
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  final_top1  REAL,
  config      TEXT NOT NULL DEFAULT '{}',
  git_commit  TEXT,
  seed        INTEGER
);
CREATE TABLE epochs (
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch   INTEGER NOT NULL,
  phase   TEXT NOT NULL,
  loss    REAL,
  top1    REAL,
  seconds REAL,
  PRIMARY KEY (run_id, epoch, phase)
);
CREATE TABLE candidates (
  id             INTEGER PRIMARY KEY,
  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch          INTEGER,
  phase          TEXT,
  widths         TEXT NOT NULL,
  macs           INTEGER,
  params         INTEGER,
  latency_cycles INTEGER,
  energy_pj      REAL,
  top1           REAL
);
CREATE INDEX candidates_run ON candidates(run_id);
CREATE VIEW v_candidates AS
  SELECT c.run_id, r.method, r.model, r.dataset, r.bits, r.hw, c.epoch, c.phase, c.widths,
         c.macs, c.params, c.latency_cycles, c.energy_pj, c.top1
  FROM candidates c JOIN runs r ON r.id = c.run_id;
CREATE VIEW v_runs AS
  SELECT id AS run_id, method, model, dataset, bits, hw, status, started_at, finished_at,
         final_top1, config
  FROM runs;
)sql";

// v2: runs get a global uuid (so shards merge without duplicates) and their wall time; epochs get
// test accuracy and free-form extras; candidates may override the run's method/model/dataset/
// bits/hw (a sweep evaluates many networks on many configs in one run) and record stalls;
// hardware configs and the cost cache get tables.
const char* const kV2 = R"sql(
ALTER TABLE runs ADD COLUMN uuid TEXT;
UPDATE runs SET uuid = lower(hex(randomblob(16))) WHERE uuid IS NULL;
CREATE UNIQUE INDEX runs_uuid ON runs(uuid);
ALTER TABLE runs ADD COLUMN wall_seconds REAL;
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE epochs ADD COLUMN test_top1 REAL;
ALTER TABLE epochs ADD COLUMN extra TEXT;
ALTER TABLE candidates ADD COLUMN stall_cycles INTEGER;
ALTER TABLE candidates ADD COLUMN method TEXT;
ALTER TABLE candidates ADD COLUMN model TEXT;
ALTER TABLE candidates ADD COLUMN dataset TEXT;
ALTER TABLE candidates ADD COLUMN bits INTEGER;
ALTER TABLE candidates ADD COLUMN hw TEXT;
ALTER TABLE candidates ADD COLUMN hw_fingerprint TEXT;
CREATE TABLE hw_configs (
  fingerprint TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT
);
CREATE TABLE cost_cache (
  hw_fingerprint      TEXT NOT NULL,
{cost_cache_measures}
  PRIMARY KEY (hw_fingerprint, gemm_k, gemm_n, gemm_m, quantized, kind, bits)
) WITHOUT ROWID;
{replace_v_candidates};
)sql";

// v3: the cost model of nce_hw version 2 counts operand reuse, so two layers with one GEMM shape
// but another kernel, stride or map size cost differently. The cache is keyed on the whole layer
// key (sim::CostKey::to_string(), which names the geometry) instead of the GEMM shape. Rows of v2
// keep their values under their GEMM-only key (they belong to the old cost model's fingerprints,
// which nce no longer asks for).
const char* const kV3 = R"sql(
ALTER TABLE cost_cache RENAME TO cost_cache_v2;
CREATE TABLE cost_cache (
  hw_fingerprint      TEXT NOT NULL,
  layer_key           TEXT NOT NULL,
{cost_cache_measures}
  PRIMARY KEY (hw_fingerprint, layer_key, bits)
) WITHOUT ROWID;
INSERT INTO cost_cache
  SELECT hw_fingerprint,
         'K=' || gemm_k || ';N=' || gemm_n || ';M=' || gemm_m || ';q=' || quantized ||
           ';kind=' || kind,
         gemm_k, gemm_n, gemm_m, quantized, kind, bits, status, status_detail, passes, folds,
         cycles, compute_cycles, stall_cycles, utilization, energy_pj, mac_pj, sram_pj, dram_pj,
         idle_pj, macs, idle_pe_cycles, ifmap_sram_reads, ifmap_sram_writes, filter_sram_reads,
         filter_sram_writes, ofmap_sram_reads, ofmap_sram_writes, dram_ifmap_read_bits,
         dram_filter_read_bits, dram_ofmap_write_bits, created_at
  FROM cost_cache_v2;
DROP TABLE cost_cache_v2;
)sql";

// v4: a run whose network diverged (status 'diverged') measured nothing: its candidates stay in
// the table for the record but leave v_candidates (and so every front and chart).
const char* const kV4 = R"sql(
{replace_v_candidates}
  WHERE r.status <> 'diverged';
)sql";

// v5: runs get the key a resume finds them by (run_resume_keys) (the checkpoint a train or search
// run writes), so a resumed run continues under its id; a sweep's rows count once the sweep
// finished (a killed or interrupted sweep's partial rows stay in the table, off v_candidates).
const char* const kV5 = R"sql(
CREATE TABLE IF NOT EXISTS run_resume_keys (
  resume_key TEXT NOT NULL,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  PRIMARY KEY (resume_key, run_id)
) WITHOUT ROWID;
{replace_v_candidates}
  WHERE r.status <> 'diverged' AND NOT (r.method = 'sweep' AND r.status <> 'finished');
)sql";

// v6: a run may belong to a campaign (nce campaign): the campaign's name and the arm of its plan
// the run is one seed of ("tas-2x", "wrpn-1.25", ...; the method alone does not tell 2X TAS
// from TAS). NULL for runs started outside a campaign.
const char* const kV6 = R"sql(
ALTER TABLE runs ADD COLUMN campaign TEXT;
ALTER TABLE runs ADD COLUMN arm TEXT;
)sql";

// v7: a campaign database has one owner, the plan whose jobs merge into it: the campaign's name,
// the plan's fingerprint (every job's settings) and the plan file it came from. `nce campaign`
// refuses a plan of another fingerprint before it writes anything.
const char* const kV7 = R"sql(
CREATE TABLE IF NOT EXISTS campaigns (
  name        TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  plan        TEXT NOT NULL,
  created_at  TEXT NOT NULL
);
)sql";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> steps = {
      {1, "runs, epochs, candidates; views v_candidates and v_runs", with_pieces(kV1)},
      {2, "run uuid/wall time/host, candidate overrides and stalls, hw_configs, cost_cache",
       with_pieces(kV2)},
      {3, "cost_cache keyed on the whole layer key (geometry included)", with_pieces(kV3)},
      {4, "v_candidates leaves out the candidates of diverged runs", with_pieces(kV4)},
      {5, "run_resume_keys; v_candidates leaves out unfinished sweeps", with_pieces(kV5)},
      {6, "runs.campaign and runs.arm (nce campaign)", with_pieces(kV6)},
      {7, "campaigns: the plan that owns a campaign database", with_pieces(kV7)},
  };
  return steps;
}

int current_schema_version() {
  return static_cast<int>(migrations().size());
}

void check_schema_compatible(const Database& db) {
  // One statement, so both numbers come from one snapshot even while another process migrates.
  auto probe = db.prepare(
      "SELECT (SELECT user_version FROM pragma_user_version), "
      "(SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%')");
  probe.step();
  int version = static_cast<int>(probe.column_int(0));
  std::int64_t objects = probe.column_int(1);
  if (version > current_schema_version()) {
    throw DatabaseError(db.path() + ": schema version " + std::to_string(version) +
                        " is newer than this nce understands (" +
                        std::to_string(current_schema_version()) + "); use a newer nce");
  }
  if (version == 0 && objects > 0) {
    throw DatabaseError(db.path() +
                        ": not an nce results database (it has tables but no schema version)");
  }
  if (version > 0) {
    // Another program's database may use user_version too: every nce schema has the tables of
    // version 1. Checked before anything is written (the switch to WAL, a migration).
    for (const char* table : {"runs", "epochs", "candidates"}) {
      auto has = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '" +
                            std::string(table) + "'");
      has.step();
      if (has.column_int(0) == 0) {
        throw DatabaseError(db.path() + ": not an nce results database (schema version " +
                            std::to_string(version) + " but no table '" + table + "')");
      }
    }
  }
}

void migrate(Database& db) {
  check_schema_compatible(db);
  if (db.schema_version() >= current_schema_version()) return;
  // Every step from the file's version to the current one in one transaction: a failure (or a
  // crash) leaves the file at its old version, never half-migrated.
  db.write_transaction([&] {
    // Another process may have migrated while we waited for the lock.
    check_schema_compatible(db);
    for (const auto& step : migrations()) {
      if (db.schema_version() >= step.to_version) continue;
      db.exec(step.sql);
      db.exec("PRAGMA user_version = " + std::to_string(step.to_version));
    }
  });
}

}  // namespace nce::results
