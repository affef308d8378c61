// Reading candidate designs back from v_candidates, and the cost/accuracy metrics users plot and
// rank them by.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nce/results/database.h"
#include "nce/results/pareto.h"
#include "nce/results/result_sink.h"

namespace nce::results {

enum class Metric {
  kMacs,     // multiply-accumulates (papers' FLOPs)             v_candidates.macs
  kParams,   // parameters                                       v_candidates.params
  kLatency,  // cycles on the modelled array incl. stalls        v_candidates.latency_cycles
  kEnergy,   // pJ                                               v_candidates.energy_pj
  kTop1,     // test accuracy, percent                           v_candidates.top1
};

// "macs", "params", "latency", "energy", "top1" (also the column names "latency_cycles",
// "energy_pj"); throws std::invalid_argument naming the value and the choices.
Metric parse_metric(const std::string& name);
const char* metric_name(Metric metric);     // "macs", ...
const char* metric_column(Metric metric);   // the v_candidates column
const char* metric_label(Metric metric);    // axis label: "MACs", "latency (cycles)", ...
Direction metric_direction(Metric metric);  // top1 is maximized, every cost minimized

struct CandidateRow {
  RunId run_id = 0;
  std::string method, model, dataset, hw, phase, widths;  // widths: JSON array text
  std::optional<int> bits, epoch;
  std::optional<std::int64_t> macs, params, latency_cycles;
  std::optional<double> energy_pj, top1;
  // Of the run: its own method (the row's may differ, e.g. the original a search retrains), status,
  // seed, and the campaign and arm of a campaign's run ("" when none, or before schema v6).
  std::string run_method, run_status, campaign, arm;
  std::optional<std::int64_t> seed;
  std::optional<double> value(Metric metric) const;
};

// Selects rows of v_candidates; empty fields match everything.
struct CandidateFilter {
  std::string method, model, dataset, hw, phase;
  std::string campaign;  // runs.campaign (nce campaign); "" matches every run
  int bits = 0;
  std::optional<RunId> run_id;
  // Only rows where both metrics are non-NULL.
  std::vector<Metric> require;
};

std::vector<CandidateRow> load_candidates(const Database& db, const CandidateFilter& filter);

// Whether the file's runs table has the campaign and arm columns (schema v6; a read-only open of
// an older file is not migrated).
bool has_campaign_columns(const Database& db);

}  // namespace nce::results
