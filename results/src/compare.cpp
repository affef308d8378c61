#include "nce/results/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/results/pareto.h"
#include "nce/results/svg_chart.h"

namespace nce::results {

namespace {

std::string series_name(const CandidateRow& r, SeriesKey key) {
  switch (key) {
    case SeriesKey::kMethod:
      return r.method.empty() ? "(none)" : r.method;
    case SeriesKey::kHw:
      return r.hw.empty() ? "(none)" : r.hw;
    case SeriesKey::kModel:
      return r.model.empty() ? "(none)" : r.model;
  }
  return "";
}

std::string format_value(double v, Metric m) {
  char buf[48];
  if (m == Metric::kTop1) {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  } else if (m == Metric::kEnergy) {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

// The order methods appear in: the paper's first, then the rest alphabetically.
int method_rank(const std::string& name) {
  static const char* order[] = {"original", "nce", "tas", "wrpn", "random"};
  for (int i = 0; i < 5; ++i) {
    if (name == order[i]) return i;
  }
  return 5;
}

std::string point_label(const CandidateRow& r, Metric x, Metric y) {
  std::ostringstream o;
  o << r.method << " " << r.model;
  if (!r.hw.empty()) o << " @" << r.hw;
  o << " run " << r.run_id;
  if (r.epoch) o << " epoch " << *r.epoch;
  o << ": " << metric_name(x) << "=" << format_value(*r.value(x), x) << ", " << metric_name(y)
    << "=" << format_value(*r.value(y), y);
  return o.str();
}

}  // namespace

SeriesKey parse_series_key(const std::string& name) {
  if (name == "method") return SeriesKey::kMethod;
  if (name == "hw") return SeriesKey::kHw;
  if (name == "model") return SeriesKey::kModel;
  throw std::invalid_argument("unknown series key '" + name + "' (choose method, hw or model)");
}

Report make_compare_report(const Database& db, const CompareOptions& options) {
  CandidateFilter filter = options.filter;
  filter.require = {options.x, options.y};
  auto rows = load_candidates(db, filter);
  if (rows.empty()) {
    std::string missing = options.y == Metric::kTop1
                              ? " (accuracy comes from searches and training runs; for sweep "
                                "results plot a cost against a cost, e.g. --y latency)"
                              : "";
    throw std::invalid_argument(db.path() + ": no candidate has both " + metric_name(options.x) +
                                " and " + metric_name(options.y) + missing);
  }
  std::map<std::string, std::vector<std::size_t>> by_series;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    by_series[series_name(rows[i], options.series)].push_back(i);
  }
  std::vector<std::string> names;
  for (const auto& [name, idx] : by_series) names.push_back(name);
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return method_rank(a) < method_rank(b);
  });

  ScatterChart chart;
  chart.title = options.title.empty()
                    ? std::string(metric_label(options.y)) + " vs " + metric_label(options.x)
                    : options.title;
  chart.x_label = metric_label(options.x);
  chart.y_label = metric_label(options.y);
  for (const auto& name : names) {
    ChartSeries s;
    s.name = name;
    s.connect = options.lines;
    for (auto i : by_series[name]) {
      s.points.push_back({*rows[i].value(options.x), *rows[i].value(options.y),
                          point_label(rows[i], options.x, options.y)});
    }
    chart.series.push_back(std::move(s));
  }
  std::vector<Point2> points;
  for (const auto& r : rows) points.push_back({*r.value(options.x), *r.value(options.y)});
  auto front = pareto_front(points, metric_direction(options.x), metric_direction(options.y));
  for (auto i : front) chart.front.push_back({points[i].x, points[i].y, ""});

  std::ostringstream md;
  md << "## " << chart.title << "\n\n";
  const std::string& path = db.path();
  md << "Database `" << path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1)
     << "`: " << rows.size() << " candidates with both " << metric_name(options.x) << " and "
     << metric_name(options.y) << ".\n\n";
  md << "| series | candidates | best " << metric_name(options.y) << " | at "
     << metric_name(options.x) << " | lowest " << metric_name(options.x) << " | on the front |\n";
  md << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& name : names) {
    const auto& idx = by_series[name];
    std::size_t best = idx.front();
    double lowest_x = INFINITY;
    for (auto i : idx) {
      double yi = *rows[i].value(options.y), yb = *rows[best].value(options.y);
      bool better = metric_direction(options.y) == Direction::kMaximize ? yi > yb : yi < yb;
      if (better) best = i;
      lowest_x = std::min(lowest_x, *rows[i].value(options.x));
    }
    std::size_t on_front = 0;
    for (auto f : front) on_front += series_name(rows[f], options.series) == name ? 1 : 0;
    md << "| " << name << " | " << idx.size() << " | "
       << format_value(*rows[best].value(options.y), options.y) << " | "
       << format_value(*rows[best].value(options.x), options.x) << " | "
       << format_value(lowest_x, options.x) << " | " << on_front << " |\n";
  }
  md << "\n### Pareto front (" << front.size() << " candidates, best " << metric_name(options.x)
     << " first)\n\n";
  md << "| series | model | hw | bits | run | epoch | " << metric_name(options.x) << " | "
     << metric_name(options.y) << " | widths |\n";
  md << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (auto i : front) {
    const auto& r = rows[i];
    md << "| " << series_name(r, options.series) << " | " << r.model << " | " << r.hw << " | "
       << (r.bits ? std::to_string(*r.bits) : "") << " | " << r.run_id << " | "
       << (r.epoch ? std::to_string(*r.epoch) : "") << " | "
       << format_value(*r.value(options.x), options.x) << " | "
       << format_value(*r.value(options.y), options.y) << " | `" << r.widths << "` |\n";
  }
  Report report;
  report.svg = render_scatter_svg(chart);
  report.markdown = md.str();
  report.series = chart.series.size();
  report.points = rows.size();
  return report;
}

Report make_widths_report(const Database& db, RunId run) {
  CandidateFilter filter;
  filter.run_id = run;
  auto rows = load_candidates(db, filter);
  if (rows.empty()) {
    throw std::invalid_argument(db.path() + ": run " + std::to_string(run) +
                                " has no candidates (see `nce db query --db FILE \"SELECT * FROM "
                                "v_runs\"`)");
  }
  // The last candidate: phase "final" if any, else the highest epoch (latest row on ties).
  const CandidateRow* after = &rows.front();
  for (const auto& r : rows) {
    bool after_final = after->phase == "final";
    bool r_final = r.phase == "final";
    if (r_final && !after_final) {
      after = &r;
    } else if (r_final == after_final && r.epoch.value_or(-1) >= after->epoch.value_or(-1)) {
      after = &r;
    }
  }
  std::vector<int> after_widths = parse_json_int_array(after->widths);
  if (after_widths.size() < 2) {
    throw std::invalid_argument(db.path() + ": run " + std::to_string(run) +
                                ": width vector too short: " + after->widths);
  }
  std::vector<int> before = models::default_widths(after->model, after_widths[0]);
  if (before.size() != after_widths.size()) {
    throw std::invalid_argument(db.path() + ": run " + std::to_string(run) + ": model '" +
                                after->model + "' has " + std::to_string(before.size()) +
                                " widths but the candidate has " +
                                std::to_string(after_widths.size()));
  }
  // Name each width after the layer it is the output of.
  models::InputShape input = models::canonical_input(after->model);
  if (after->dataset == "fashion-mnist") input = models::fashion_mnist_input();
  input.channels = after_widths[0];
  std::vector<std::string> names(before.size());
  try {
    models::Network net = models::build(after->model, {}, input);
    for (const auto& layer : net.layers) {
      if (layer.out_width_index > 0 && names[layer.out_width_index].empty()) {
        names[layer.out_width_index] = layer.name;
      }
    }
  } catch (const std::exception&) {
    // Fall back to numbered layers.
  }
  BarChart chart;
  chart.title = "Channels per layer before and after adaptation: " + after->method + " " +
                after->model + " (run " + std::to_string(run) + ")";
  chart.x_label = "layer";
  chart.y_label = "output channels";
  BarSeries b{"before", {}}, a{"after", {}};
  std::ostringstream md;
  md << "## " << chart.title << "\n\n";
  md << "`before` = " << after->model << "'s published widths; `after` = run " << run
     << "'s last candidate (phase " << (after->phase.empty() ? "-" : after->phase) << ", epoch "
     << (after->epoch ? std::to_string(*after->epoch) : "-") << ").\n\n";
  md << "| # | layer | before | after | after/before |\n| ---: | --- | ---: | ---: | ---: |\n";
  std::int64_t sum_before = 0, sum_after = 0;
  for (std::size_t i = 1; i < before.size(); ++i) {
    std::string name = names[i].empty() ? "L" + std::to_string(i) : names[i];
    chart.categories.push_back(name);
    b.values.push_back(before[i]);
    a.values.push_back(after_widths[i]);
    sum_before += before[i];
    sum_after += after_widths[i];
    char ratio[16];
    std::snprintf(ratio, sizeof ratio, "%.2f", static_cast<double>(after_widths[i]) / before[i]);
    md << "| " << i << " | " << name << " | " << before[i] << " | " << after_widths[i] << " | "
       << ratio << " |\n";
  }
  md << "| | total | " << sum_before << " | " << sum_after << " | |\n";
  chart.series = {b, a};
  Report report;
  report.svg = render_bar_svg(chart);
  report.markdown = md.str();
  report.series = 2;
  report.points = chart.categories.size();
  return report;
}

}  // namespace nce::results
