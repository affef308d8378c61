// Where train, search, sim and sweep send what they measure: a small sink interface with a SQLite
// implementation (sqlite_sink.h), a console one and a null one (this header).
//
// How a producer writes (the whole contract):
//
//   auto sink = nce::results::make_result_sink(db_path);   // sqlite_sink.h; "" -> NullSink
//   nce::results::RunInfo info;
//   info.method = "nce"; info.model = "resnet20"; info.dataset = "cifar10"; info.bits = 2;
//   info.hw = hw.name; info.config_json = my_config_as_json; info.git_commit = NCE_GIT_COMMIT;
//   info.seed = seed;
//   nce::results::RunScope run(*sink, info);          // begin_run; marks the run "failed" if
//                                                     // destroyed before finish() (an exception)
//   for (epoch ...) {
//     run.epoch({epoch, "search", loss, train_top1, test_top1, seconds});
//     nce::results::CandidateRecord c;                // the derived architecture of this epoch
//     c.epoch = epoch; c.phase = "search"; c.widths = widths; c.macs = net.macs();
//     c.params = net.params(); c.latency_cycles = cycles; c.energy_pj = pj;
//     run.candidate(c);
//   }
//   run.finish(nce::results::RunStatus::kFinished, final_top1);
//
// Units: accuracies (top1) in percent 0..100; latency in cycles of the modelled array; energy in
// pJ; seconds of wall time. Optional fields left empty are stored as NULL.
// Thread safety: the implementations here and SqliteSink may be called from several threads.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace nce::results {

using RunId = std::int64_t;

// kDiverged: the network's loss or logits became non-finite; its candidates are kept in the
// tables for the record but off v_candidates, every Pareto front and every chart.
enum class RunStatus { kRunning, kFinished, kFailed, kInterrupted, kDiverged };
// "running", "finished", "failed", "interrupted", "diverged"
const char* to_string(RunStatus status);

struct RunInfo {
  std::string method;              // "nce", "tas", "wrpn", "random", "original", "train", "sweep"
  std::string model;               // "resnet20"; "" when a run covers several (a sweep)
  std::string dataset;             // "cifar10", "fashion-mnist"; "" when none
  int bits = 0;                    // uniform weight/activation bits; 0 = not applicable/several
  std::string hw;                  // hardware config name; "" when none or several
  std::string config_json = "{}";  // the run's full configuration, a JSON object
  std::string git_commit;          // the executable's NCE_GIT_COMMIT
  std::optional<std::uint64_t> seed;
  // What a later resume of this run finds it by, e.g. "search /abs/path/run.ckpt" (the checkpoint
  // it writes); "" = not resumable.
  std::string resume_key;
  // A campaign's run (nce campaign): the campaign's name and the plan's arm ("" = none).
  std::string campaign;
  std::string arm;
};

struct EpochRecord {
  int epoch = 0;
  std::string phase;                // "warmup", "search", "retrain", "train"
  std::optional<double> loss;       // mean training loss of the epoch
  std::optional<double> top1;       // training accuracy, percent
  std::optional<double> test_top1;  // test/validation accuracy, percent
  std::optional<double> seconds;    // wall time of the epoch
  std::string extra_json;           // optional JSON object (tau, lr, ...); "" = none
};

// One candidate design: a width vector (widths[0] = input channels, then one per searchable
// conv, as models::Network::widths) and what it costs. The fields in the last group override the
// run's values for this row; leave them empty (0 for bits) to inherit (searches usually do;
// sweeps set them because one sweep run covers many networks and configs).
struct CandidateRecord {
  std::optional<int> epoch;
  std::string phase;  // "search" (derived each epoch), "final", "sweep", ...
  std::vector<int> widths;
  std::optional<std::int64_t> macs;  // multiply-accumulates (papers' FLOPs), no biases
  std::optional<std::int64_t> params;
  std::optional<std::int64_t> latency_cycles;  // total cycles incl. stalls
  std::optional<std::int64_t> stall_cycles;
  std::optional<double> energy_pj;
  std::optional<double> top1;  // percent
  std::string method, model, dataset, hw, hw_fingerprint;
  int bits = 0;
};

// Throws std::invalid_argument naming the field and value when a record holds a number that
// cannot be a measurement: a negative or overflowing count (MACs, PARAMs, cycles, stalls), a
// NaN/infinite/negative energy, an accuracy outside [0, 100] or NaN. Every sink stores only
// records that pass (no wrong number reaches the database).
void validate(const CandidateRecord& record);
void validate(const EpochRecord& record);

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // Starts a run (status "running", started_at = now) and returns its id.
  virtual RunId begin_run(const RunInfo& info) = 0;
  // Continues the latest run recorded with info.resume_key (status "running" again, finished_at
  // cleared) and returns its id; candidates already recorded for it are not recorded twice. A
  // run of that key that does not exist (another database, an empty key): begin_run(info).
  virtual RunId resume_run(const RunInfo& info) { return begin_run(info); }
  virtual void record_epoch(RunId run, const EpochRecord& epoch) = 0;
  // All rows in one transaction: either all are stored or none.
  virtual void record_candidates(RunId run, const std::vector<CandidateRecord>& candidates) = 0;
  void record_candidate(RunId run, const CandidateRecord& candidate) {
    record_candidates(run, {candidate});
  }
  // A hardware config candidates refer to by fingerprint (stored once; later calls ignored).
  virtual void record_hw_config(const std::string& fingerprint, const std::string& name,
                                const std::string& description) {}
  // Ends a run: status, finished_at = now, wall seconds since started_at, final accuracy.
  virtual void finish_run(RunId run, RunStatus status,
                          std::optional<double> final_top1 = std::nullopt) = 0;
};

// Discards everything; run ids count up from 1.
class NullSink : public ResultSink {
 public:
  RunId begin_run(const RunInfo& info) override;
  void record_epoch(RunId, const EpochRecord&) override {}
  void record_candidates(RunId, const std::vector<CandidateRecord>&) override {}
  void finish_run(RunId, RunStatus, std::optional<double>) override {}

 private:
  std::mutex mutex_;
  RunId next_ = 1;
};

// One human-readable line per event on a stream (e.g. std::cerr).
class ConsoleSink : public ResultSink {
 public:
  explicit ConsoleSink(std::ostream& out) : out_(out) {}
  RunId begin_run(const RunInfo& info) override;
  void record_epoch(RunId run, const EpochRecord& epoch) override;
  void record_candidates(RunId run, const std::vector<CandidateRecord>& candidates) override;
  void finish_run(RunId run, RunStatus status, std::optional<double> final_top1) override;

 private:
  std::ostream& out_;
  std::mutex mutex_;
  RunId next_ = 1;
};

// begin_run (resume: resume_run) on construction; finish_run(kFailed) on destruction unless
// finish() was called (errors while doing so are swallowed: destructors do not throw).
class RunScope {
 public:
  RunScope(ResultSink& sink, const RunInfo& info, bool resume = false)
      : sink_(sink), id_(resume ? sink.resume_run(info) : sink.begin_run(info)) {}
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  ~RunScope();

  RunId id() const { return id_; }
  void epoch(const EpochRecord& record) { sink_.record_epoch(id_, record); }
  void candidate(const CandidateRecord& record) { sink_.record_candidate(id_, record); }
  void candidates(const std::vector<CandidateRecord>& records) {
    sink_.record_candidates(id_, records);
  }
  void finish(RunStatus status, std::optional<double> final_top1 = std::nullopt);

 private:
  ResultSink& sink_;
  RunId id_;
  bool finished_ = false;
};

}  // namespace nce::results
