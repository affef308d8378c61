#include "nce/results/sqlite_sink.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "nce/models/network.h"

namespace nce::results {

namespace {

std::optional<std::string> non_empty(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

// A run's or candidate's bits: NULL when not given (0).
std::optional<int> positive(int bits) {
  if (bits > 0) return bits;
  return std::nullopt;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace

std::string random_uuid() {
  // Reseeded after fork(): a child must not repeat its parent's sequence.
  static thread_local pid_t seeded_for = 0;
  static thread_local std::mt19937_64 rng;
  if (seeded_for != getpid()) {
    std::random_device device;
    std::seed_seq seq{device(), device(), device(), device(), static_cast<unsigned>(getpid())};
    rng.seed(seq);
    seeded_for = getpid();
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

SqliteSink::SqliteSink(const std::string& path) : db_(path) {}

RunId SqliteSink::begin_run(const RunInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  RunId id = 0;
  db_.write_transaction([&] {
    auto insert = db_.prepare(
        "INSERT INTO runs (uuid, method, model, dataset, bits, hw, status, started_at, config, "
        "git_commit, seed, host, campaign, arm) VALUES (?,?,?,?,?,?,'running',?,?,?,?,?,?,?)");
    std::optional<std::int64_t> seed;
    if (info.seed) seed = static_cast<std::int64_t>(*info.seed);
    insert.bind_all(random_uuid(), info.method, non_empty(info.model), non_empty(info.dataset),
                    positive(info.bits), non_empty(info.hw), utc_now_iso8601(),
                    info.config_json.empty() ? std::string("{}") : info.config_json,
                    non_empty(info.git_commit), seed, non_empty(host_name()),
                    non_empty(info.campaign), non_empty(info.arm));
    insert.run();
    id = db_.last_insert_rowid();
    if (!info.resume_key.empty()) {
      auto key = db_.prepare("INSERT INTO run_resume_keys (resume_key, run_id) VALUES (?, ?)");
      key.bind(1, info.resume_key).bind(2, id);
      key.run();
    }
  });
  return id;
}

RunId SqliteSink::resume_run(const RunInfo& info) {
  if (info.resume_key.empty()) return begin_run(info);
  RunId id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    db_.write_transaction([&] {
      id = 0;
      auto find = db_.prepare(
          "SELECT k.run_id FROM run_resume_keys k JOIN runs r ON r.id = k.run_id WHERE "
          "k.resume_key = ? ORDER BY k.run_id DESC LIMIT 1");
      find.bind(1, info.resume_key);
      if (!find.step()) return;
      id = find.column_int(0);
      auto reopen = db_.prepare(
          "UPDATE runs SET status = 'running', finished_at = NULL, git_commit = "
          "COALESCE(?2, git_commit) WHERE id = ?1");
      reopen.bind(1, id).bind(2, non_empty(info.git_commit));
      reopen.run();
    });
    if (id != 0) {
      resumed_.insert(id);
      return id;
    }
  }
  return begin_run(info);
}

void SqliteSink::record_epoch(RunId run, const EpochRecord& e) {
  validate(e);
  std::lock_guard<std::mutex> lock(mutex_);
  db_.write_transaction([&] {
    auto insert = db_.prepare(
        "INSERT OR REPLACE INTO epochs (run_id, epoch, phase, loss, top1, test_top1, seconds, "
        "extra) VALUES (?,?,?,?,?,?,?,?)");
    insert.bind_all(run, e.epoch, e.phase, e.loss, e.top1, e.test_top1, e.seconds,
                    non_empty(e.extra_json));
    insert.run();
  });
}

void SqliteSink::record_candidates(RunId run, const std::vector<CandidateRecord>& candidates) {
  if (candidates.empty()) return;
  for (const auto& c : candidates) validate(c);  // all or none, before the transaction
  std::lock_guard<std::mutex> lock(mutex_);
  const bool resumed = resumed_.count(run) > 0;
  db_.write_transaction([&] {
    auto insert = db_.prepare(
        "INSERT INTO candidates (run_id, epoch, phase, widths, macs, params, latency_cycles, "
        "stall_cycles, energy_pj, top1, method, model, dataset, bits, hw, hw_fingerprint) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    // A resumed run may report a design its first part recorded (the retrain of an interrupted
    // run is finished again): one row per (epoch, phase, widths, method, hw) of the run.
    auto recorded = db_.prepare(
        "SELECT 1 FROM candidates WHERE run_id = ? AND epoch IS ? AND phase IS ? AND widths = ? "
        "AND method IS ? AND hw IS ?");
    for (const auto& c : candidates) {
      if (resumed) {
        recorded.reset();
        recorded.bind_all(run, c.epoch, non_empty(c.phase), models::format_widths(c.widths),
                          non_empty(c.method), non_empty(c.hw));
        if (recorded.step()) continue;
      }
      insert.reset();
      insert.bind_all(run, c.epoch, non_empty(c.phase), models::format_widths(c.widths), c.macs,
                      c.params, c.latency_cycles, c.stall_cycles, c.energy_pj, c.top1,
                      non_empty(c.method), non_empty(c.model), non_empty(c.dataset),
                      positive(c.bits), non_empty(c.hw), non_empty(c.hw_fingerprint));
      insert.run();
    }
  });
}

void SqliteSink::record_hw_config(const std::string& fingerprint, const std::string& name,
                                  const std::string& description) {
  std::lock_guard<std::mutex> lock(mutex_);
  db_.write_transaction([&] {
    auto insert = db_.prepare(
        "INSERT OR IGNORE INTO hw_configs (fingerprint, name, description) VALUES (?,?,?)");
    insert.bind(1, fingerprint).bind(2, name).bind(3, non_empty(description));
    insert.run();
  });
}

void SqliteSink::finish_run(RunId run, RunStatus status, std::optional<double> final_top1) {
  std::lock_guard<std::mutex> lock(mutex_);
  db_.write_transaction([&] {
    std::string now = utc_now_iso8601();
    auto update = db_.prepare(
        "UPDATE runs SET status = ?1, finished_at = ?2, final_top1 = COALESCE(?3, final_top1), "
        "wall_seconds = (julianday(?2) - julianday(started_at)) * 86400.0 WHERE id = ?4");
    update.bind(1, std::string(to_string(status))).bind(2, now).bind(3, final_top1).bind(4, run);
    update.run();
    if (sqlite3_changes(db_.handle()) != 1) {
      throw DatabaseError(db_.path() + ": finish_run: no run with id " + std::to_string(run));
    }
  });
}

std::unique_ptr<ResultSink> make_result_sink(const std::string& db_path) {
  if (db_path.empty()) return std::make_unique<NullSink>();
  return std::make_unique<SqliteSink>(db_path);
}

}  // namespace nce::results
