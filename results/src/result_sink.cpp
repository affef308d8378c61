#include "nce/results/result_sink.h"

#include <cmath>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "nce/common/name_table.h"
#include "nce/common/text.h"
#include "nce/models/network.h"

namespace nce::results {

const char* to_string(RunStatus status) {
  static const common::NamedValue<RunStatus> kNames[] = {{RunStatus::kRunning, "running"},
                                                 {RunStatus::kFinished, "finished"},
                                                 {RunStatus::kFailed, "failed"},
                                                 {RunStatus::kInterrupted, "interrupted"},
                                                 {RunStatus::kDiverged, "diverged"}};
  return common::name_of(kNames, status, "unknown");
}

namespace {

[[noreturn]] void bad_record(const char* field, const std::string& value, const char* why) {
  throw std::invalid_argument(std::string("result record: ") + field + " = " + value + ": " + why);
}

void check_count(const char* field, const std::optional<std::int64_t>& v) {
  if (v && *v < 0) bad_record(field, std::to_string(*v), "must be >= 0 (an overflow upstream?)");
}

void check_percent(const char* field, const std::optional<double>& v) {
  if (v && !(*v >= 0.0 && *v <= 100.0)) {
    bad_record(field, common::number_text(*v), "an accuracy must be a percentage in [0, 100]");
  }
}

}  // namespace

void validate(const CandidateRecord& r) {
  check_count("macs", r.macs);
  check_count("params", r.params);
  check_count("latency_cycles", r.latency_cycles);
  check_count("stall_cycles", r.stall_cycles);
  if (r.energy_pj && !(std::isfinite(*r.energy_pj) && *r.energy_pj >= 0.0)) {
    bad_record("energy_pj", common::number_text(*r.energy_pj), "must be finite and >= 0");
  }
  check_percent("top1", r.top1);
}

void validate(const EpochRecord& r) {
  if (r.loss && !std::isfinite(*r.loss)) {
    bad_record("loss", common::number_text(*r.loss), "must be finite (a diverged run?)");
  }
  check_percent("top1", r.top1);
  check_percent("test_top1", r.test_top1);
}

RunId NullSink::begin_run(const RunInfo&) {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_++;
}

RunId ConsoleSink::begin_run(const RunInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  RunId id = next_++;
  out_ << "run " << id << " begin: method=" << info.method << " model=" << info.model
       << " dataset=" << info.dataset << " bits=" << info.bits << " hw=" << info.hw << "\n";
  return id;
}

void ConsoleSink::record_epoch(RunId run, const EpochRecord& e) {
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << "run " << run << " epoch " << e.epoch << " " << e.phase;
  if (e.loss) out_ << " loss=" << *e.loss;
  if (e.top1) out_ << " top1=" << *e.top1;
  if (e.test_top1) out_ << " test_top1=" << *e.test_top1;
  if (e.seconds) out_ << " seconds=" << *e.seconds;
  out_ << "\n";
}

void ConsoleSink::record_candidates(RunId run, const std::vector<CandidateRecord>& candidates) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& c : candidates) {
    out_ << "run " << run << " candidate " << c.phase;
    if (c.epoch) out_ << " epoch=" << *c.epoch;
    out_ << " widths=" << models::format_widths(c.widths);
    if (c.macs) out_ << " macs=" << *c.macs;
    if (c.latency_cycles) out_ << " cycles=" << *c.latency_cycles;
    if (c.energy_pj) out_ << " energy_pj=" << *c.energy_pj;
    if (c.top1) out_ << " top1=" << *c.top1;
    out_ << "\n";
  }
}

void ConsoleSink::finish_run(RunId run, RunStatus status, std::optional<double> final_top1) {
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << "run " << run << " " << to_string(status);
  if (final_top1) out_ << " final_top1=" << *final_top1;
  out_ << "\n";
}

RunScope::~RunScope() {
  if (finished_) return;
  try {
    sink_.finish_run(id_, RunStatus::kFailed, std::nullopt);
  } catch (...) {
  }
}

void RunScope::finish(RunStatus status, std::optional<double> final_top1) {
  sink_.finish_run(id_, status, final_top1);
  finished_ = true;
}

}  // namespace nce::results
