// Trade-off reports from a result database: accuracy (or a second cost) against a cost, one
// series per method (or per hw config / model), the Pareto front marked; as an SVG chart plus a
// Markdown table. And the paper's Fig. 5: channels per layer before and after adaptation.
#pragma once

#include <string>

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
};

struct Report {
  std::string svg;
  std::string markdown;
  std::size_t series = 0;  // series drawn
  std::size_t points = 0;  // candidates drawn
};

// Throws std::invalid_argument when no candidate has both metrics (the message says which
// metric is missing and how to add it, e.g. "no candidate has top1 ... run a search or use --y").
Report make_compare_report(const Database& db, const CompareOptions& options);

// Fig. 5 for one run: "before" = the model's published widths (models::default_widths at the
// run's input channels), "after" = the run's last candidate (phase "final" if any, else the
// highest epoch). Bars per searchable layer, named after the layer each width feeds.
// Throws std::invalid_argument naming the run if it has no candidate.
Report make_widths_report(const Database& db, RunId run);

}  // namespace nce::results
