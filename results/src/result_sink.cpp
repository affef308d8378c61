#include "nce/results/result_sink.h"

#include <ostream>

#include "nce/models/network.h"

namespace nce::results {

const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kFinished:
      return "finished";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kInterrupted:
      return "interrupted";
  }
  return "unknown";
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
