// The SQLite ResultSink: every call is one write transaction on the result database (schema.h),
// retried while another process holds the lock, so concurrent runs and sweeps lose nothing.
// Thread safety: calls are serialized by a mutex; one SqliteSink per process is enough.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "nce/results/database.h"
#include "nce/results/result_sink.h"

namespace nce::results {

class SqliteSink : public ResultSink {
 public:
  // Opens (creates, migrates) the database at `path`; throws DatabaseError naming it.
  explicit SqliteSink(const std::string& path);

  RunId begin_run(const RunInfo& info) override;
  RunId resume_run(const RunInfo& info) override;
  void record_epoch(RunId run, const EpochRecord& epoch) override;
  void record_candidates(RunId run, const std::vector<CandidateRecord>& candidates) override;
  void record_hw_config(const std::string& fingerprint, const std::string& name,
                        const std::string& description) override;
  void finish_run(RunId run, RunStatus status, std::optional<double> final_top1) override;

  // The underlying connection (for reads by the same process; hold no statement across calls).
  Database& database() { return db_; }

 private:
  std::mutex mutex_;
  Database db_;
  std::set<RunId> resumed_;  // runs continued by resume_run: candidates recorded once
};

// A SqliteSink for a non-empty path, a NullSink for "".
std::unique_ptr<ResultSink> make_result_sink(const std::string& db_path);

// A fresh random 128-bit identifier as 32 lowercase hex digits (runs.uuid).
std::string random_uuid();

}  // namespace nce::results
