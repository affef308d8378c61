// Trade-off reports from a result database: accuracy (or a second cost) against a cost, one
// series per method (or per hw config / model), the Pareto front marked; as an SVG chart plus a
// Markdown table. A campaign's arms are summarized over their seeds (mean +- sd, error bars) and
// tested against reference arms (Welch's t). And the paper's Fig. 5: channels per layer before
// and after adaptation, for one run or for each seed of an arm.
#pragma once

#include <string>
#include <vector>

#include "nce/results/candidates.h"
#include "nce/results/database.h"

namespace nce::results {

enum class SeriesKey { kMethod, kHw, kModel };
SeriesKey parse_series_key(const std::string& name);  // "method", "hw", "model"

struct CompareOptions {
  Metric x = Metric::kMacs;
  Metric y = Metric::kTop1;
  SeriesKey series = SeriesKey::kMethod;
  CandidateFilter filter;  // which rows of v_candidates take part
  std::string title;       // "" = "<y> vs <x>"
  bool lines = true;       // join each series' points (trade-off curves); false: markers only
  // Campaign runs (runs.arm set): true = one series per arm (campaign, arm, hw config; see
  // arm_groups.h), its point the mean of the seeds' final designs with +-1 sd error bars, plus the
  // tables below; false = drawn candidate by candidate like every other run.
  bool group_seeds = true;
  // The arms every other arm is tested against (Welch's t), each in its own table.
  std::vector<std::string> versus = {"original", "tas"};
};

struct Report {
  std::string svg;
  std::string markdown;
  std::size_t series = 0;  // series drawn
  std::size_t points = 0;  // candidates drawn (an arm's point counts its seeds)
  std::size_t arms = 0;    // arm groups (campaign runs grouped over seeds)
  // The arm tables as CSV (RFC 4180), one row per arm and metric, then one per comparison (the
  // "versus" columns set); "" when there are no arm groups. Columns: campaign, arm, hw, method,
  // metric, n, mean, sd, versus, versus_n, versus_mean, versus_sd, difference, t, df, p, note
  // (why sd or t/df/p are empty).
  std::string seeds_csv;
};

// Throws std::invalid_argument when no candidate has both metrics (the message says which
// metric is missing and how to add it, e.g. "no candidate has top1 ... run a search or use --y").
Report make_compare_report(const Database& db, const CompareOptions& options);

// Fig. 5 for one run: "before" = the model's published widths (models::default_widths at the
// run's input channels), "after" = the run's last candidate (phase "final" if any, else the
// highest epoch). Bars per searchable layer, named after the layer each width feeds.
// Throws std::invalid_argument naming the run if it has no candidate.
Report make_widths_report(const Database& db, RunId run);

// Fig. 5 for a campaign arm: "before" as above, then one bar per seed (its final design, see
// ArmSeed) side by side in each layer, and a mean column in the table. `filter` narrows the runs
// (campaign, hw, ...). Throws std::invalid_argument when no finished run of the arm matches, or
// when the arm's runs form several groups (campaigns or hw configs: the message lists them).
Report make_arm_widths_report(const Database& db, const std::string& arm,
                              const CandidateFilter& filter);

}  // namespace nce::results
