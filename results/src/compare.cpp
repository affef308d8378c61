#include "nce/results/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/results/arm_groups.h"
#include "nce/results/pareto.h"
#include "nce/results/query.h"
#include "nce/results/stats.h"
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

std::string file_name(const std::string& path) {
  return path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
}

constexpr Metric kAllMetrics[] = {Metric::kTop1, Metric::kMacs, Metric::kParams, Metric::kLatency,
                                  Metric::kEnergy};

// "81.20 +- 0.35", "81.20 +- n/a (n = 1)", "-" (no value).
std::string mean_sd(const SampleStats& s, Metric m) {
  if (!s.mean) return "-";
  std::string out = format_value(*s.mean, m) + " ± ";
  out += s.sd ? format_value(*s.sd, m) : "n/a (n = " + std::to_string(s.n) + ")";
  return out;
}

// The mean, "+- sd" when there is one.
std::string front_value(const SampleStats& s, Metric m) {
  return s.sd ? mean_sd(s, m) : format_value(*s.mean, m);
}

std::string signed_value(double v, Metric m) {
  return (v > 0 ? "+" : "") + format_value(v, m);
}

std::string format_fixed(double v, const char* format) {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string format_p(double p) {
  return p >= 1e-4 ? format_fixed(p, "%.4f") : format_fixed(p, "%.2e");
}

std::string runs_text(const ArmGroup& g) {
  std::string out;
  for (const ArmSeed& s : g.seeds) {
    out += (out.empty() ? "" : ", ") + std::to_string(s.design.run_id);
  }
  return out;
}

std::string left_out_text(const ArmGroup& g) {
  std::string out;
  for (const auto& [status, count] : g.left_out) {
    out += (out.empty() ? "" : ", ") + std::to_string(count) + " " + status;
  }
  return out;
}

// An arm's point on the chart: the seeds whose design has both metrics.
struct ArmPoint {
  const ArmGroup* group = nullptr;
  SampleStats x, y;
};

std::string arm_label(const ArmPoint& a, Metric x, Metric y) {
  std::ostringstream o;
  o << a.group->name << ": campaign " << a.group->campaign << ", " << a.x.n << " seed"
    << (a.x.n == 1 ? "" : "s") << " (runs " << runs_text(*a.group) << "): " << metric_name(x)
    << " = " << mean_sd(a.x, x) << ", " << metric_name(y) << " = " << mean_sd(a.y, y);
  return o.str();
}

Value text_value(const std::string& text) {
  Value v;
  if (text.empty()) return v;
  v.type = Value::Type::kText;
  v.text = text;
  return v;
}
Value real_value(const std::optional<double>& x) {
  Value v;
  if (!x) return v;
  v.type = Value::Type::kReal;
  v.real = *x;
  return v;
}
Value int_value(std::size_t n) {
  Value v;
  v.type = Value::Type::kInteger;
  v.integer = static_cast<std::int64_t>(n);
  return v;
}

// The arm tables (Markdown) and their CSV.
void arm_tables(const std::vector<ArmGroup>& groups, const std::vector<std::string>& versus,
                std::ostringstream& md, std::string& csv) {
  std::vector<Metric> metrics;
  for (Metric m : kAllMetrics) {
    for (const ArmGroup& g : groups) {
      if (g.stats(m).n > 0) {
        metrics.push_back(m);
        break;
      }
    }
  }
  QueryResult table;
  table.columns = {"campaign",   "arm", "hw",     "method",   "metric",      "n",
                   "mean",       "sd",  "versus", "versus_n", "versus_mean", "versus_sd",
                   "difference", "t",   "df",     "p",        "note"};
  md << "\n### Campaign arms over seeds (" << groups.size() << ")\n\n";
  md << "Each arm's finished runs, one per seed, each its final design (the retrained result): "
        "mean ± sample sd (n - 1).\n\n";
  md << "| arm | campaign | method | hw | seeds |";
  for (Metric m : metrics) md << " " << metric_name(m) << " |";
  md << " left out |\n| --- | --- | --- | --- | ---: |";
  for (std::size_t i = 0; i < metrics.size(); ++i) md << " ---: |";
  md << " --- |\n";
  for (const ArmGroup& g : groups) {
    md << "| " << g.name << " | " << g.campaign << " | " << g.method << " | " << g.hw << " | "
       << g.seeds.size() << " |";
    for (Metric m : metrics) {
      const SampleStats st = g.stats(m);
      md << " " << mean_sd(st, m);
      if (st.n > 1 && st.n != g.seeds.size()) md << " (n = " << st.n << ")";
      md << " |";
      if (st.n == 0) continue;
      table.rows.push_back({text_value(g.campaign), text_value(g.arm), text_value(g.hw),
                            text_value(g.method), text_value(metric_name(m)), int_value(st.n),
                            real_value(st.mean), real_value(st.sd), Value{}, Value{}, Value{},
                            Value{}, Value{}, Value{}, Value{}, Value{},
                            text_value(st.sd ? "" : "n = 1: no sd")});
    }
    md << " " << left_out_text(g) << " |\n";
  }
  std::vector<std::string> done;  // references already tabulated: not repeated as arms
  for (const std::string& ref : versus) {
    if (std::find(done.begin(), done.end(), ref) != done.end()) continue;
    bool present = false;
    for (const ArmGroup& g : groups) present = present || g.arm == ref;
    if (!present) {
      md << "\nNo arm `" << ref << "`: no comparison against it.\n";
      continue;
    }
    std::vector<ArmComparison> comparisons = compare_arms(groups, ref, metrics);
    comparisons.erase(std::remove_if(comparisons.begin(), comparisons.end(),
                                     [&](const ArmComparison& c) {
                                       return std::find(done.begin(), done.end(), c.arm->arm) !=
                                              done.end();
                                     }),
                      comparisons.end());
    done.push_back(ref);
    if (comparisons.empty()) {
      md << "\nNo other arm to test against `" << ref
         << "` (in its campaign and hw config, and not tabulated above).\n";
      continue;
    }
    md << "\n### Against `" << ref << "` (Welch's t-test, two-sided)\n\n";
    md << "difference = the arm's mean - `" << ref
       << "`'s mean (same campaign and hw config); df: Welch-Satterthwaite"
       << (done.size() > 1 ? "; arms tabulated above as references are not repeated" : "")
       << ".\n\n";
    md << "| arm | metric | n | mean | n (" << ref << ") | mean (" << ref
       << ") | difference | t | df | p |\n";
    md << "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (const ArmComparison& c : comparisons) {
      const Metric m = c.metric;
      md << "| " << c.arm->name << " | " << metric_name(m) << " | " << c.arm_stats.n << " | "
         << format_value(*c.arm_stats.mean, m) << " | " << c.reference_stats.n << " | "
         << format_value(*c.reference_stats.mean, m) << " | " << signed_value(*c.test.difference, m)
         << " | ";
      if (c.test.t) {
        md << format_fixed(*c.test.t, "%.3f") << " | " << format_fixed(*c.test.df, "%.2f") << " | "
           << format_p(*c.test.p) << " |\n";
      } else {
        md << "n/a (" << c.test.reason << ") | n/a | n/a |\n";
      }
      table.rows.push_back(
          {text_value(c.arm->campaign), text_value(c.arm->arm), text_value(c.arm->hw),
           text_value(c.arm->method), text_value(metric_name(m)), int_value(c.arm_stats.n),
           real_value(c.arm_stats.mean), real_value(c.arm_stats.sd), text_value(ref),
           int_value(c.reference_stats.n), real_value(c.reference_stats.mean),
           real_value(c.reference_stats.sd), real_value(c.test.difference), real_value(c.test.t),
           real_value(c.test.df), real_value(c.test.p), text_value(c.test.reason)});
    }
  }
  csv = format_csv(table);
}

// The candidates by series (with --group-seeds those outside campaigns) and the campaign arms.
struct CompareData {
  std::vector<CandidateRow> rows;
  std::vector<ArmGroup> groups;
  std::vector<ArmPoint> arm_points;
  std::map<std::string, std::vector<std::size_t>> by_series;  // series -> indices into rows
  std::vector<std::string> names;                             // the series, in method order
  std::size_t seeds_drawn = 0;
};

CompareData load_compare_data(const Database& db, const CompareOptions& options) {
  CompareData d;
  CandidateFilter filter = options.filter;
  filter.require = {options.x, options.y};
  d.rows = load_candidates(db, filter);
  if (options.group_seeds) {
    d.groups = load_arm_groups(db, options.filter);
    d.rows.erase(std::remove_if(d.rows.begin(), d.rows.end(),
                                [](const CandidateRow& r) { return !r.arm.empty(); }),
                 d.rows.end());
    for (const ArmGroup& g : d.groups) {
      ArmPoint a{&g, g.stats(options.x, {options.x, options.y}),
                 g.stats(options.y, {options.x, options.y})};
      if (a.x.n > 0) d.arm_points.push_back(a);
    }
  }
  if (d.rows.empty() && d.arm_points.empty()) {
    std::string missing = options.y == Metric::kTop1
                              ? " (accuracy comes from searches and training runs; for sweep "
                                "results plot a cost against a cost, e.g. --y latency)"
                              : "";
    throw std::invalid_argument(db.path() + ": no candidate has both " + metric_name(options.x) +
                                " and " + metric_name(options.y) + missing);
  }
  for (std::size_t i = 0; i < d.rows.size(); ++i)
    d.by_series[series_name(d.rows[i], options.series)].push_back(i);
  for (const auto& [name, idx] : d.by_series) d.names.push_back(name);
  std::stable_sort(d.names.begin(), d.names.end(), [](const std::string& a, const std::string& b) {
    return method_rank(a) < method_rank(b);
  });
  for (const ArmPoint& a : d.arm_points) d.seeds_drawn += a.x.n;
  return d;
}

// A series per name and per arm (its mean, +-1 sd); front: over all (>= rows.size(): an arm).
ScatterChart compare_chart(const CompareData& d, const CompareOptions& options,
                           std::vector<std::size_t>& front) {
  ScatterChart chart;
  chart.title = options.title.empty()
                    ? std::string(metric_label(options.y)) + " vs " + metric_label(options.x)
                    : options.title;
  chart.x_label = metric_label(options.x);
  chart.y_label = metric_label(options.y);
  for (const auto& name : d.names) {
    ChartSeries s;
    s.name = name;
    s.connect = options.lines;
    for (auto i : d.by_series.at(name))
      s.points.push_back({*d.rows[i].value(options.x), *d.rows[i].value(options.y),
                          point_label(d.rows[i], options.x, options.y)});
    chart.series.push_back(std::move(s));
  }
  for (const ArmPoint& a : d.arm_points) {
    ChartSeries s;
    s.name = a.group->name;
    s.connect = false;
    s.legend = a.group->name + " (n=" + std::to_string(a.x.n) + ")";
    ChartPoint p{*a.x.mean, *a.y.mean, arm_label(a, options.x, options.y)};
    p.x_error = a.x.sd.value_or(0);
    p.y_error = a.y.sd.value_or(0);
    s.points.push_back(p);
    chart.series.push_back(std::move(s));
  }
  std::vector<Point2> points;
  for (const auto& r : d.rows) points.push_back({*r.value(options.x), *r.value(options.y)});
  for (const ArmPoint& a : d.arm_points) points.push_back({*a.x.mean, *a.y.mean});
  front = pareto_front(points, metric_direction(options.x), metric_direction(options.y));
  for (auto i : front) chart.front.push_back({points[i].x, points[i].y, ""});
  return chart;
}

// Per series: its candidates, its best y and the x there, its lowest x, its points on the front.
void write_series_table(std::ostream& md, const CompareData& d,
                        const std::vector<std::size_t>& front, const CompareOptions& options) {
  if (!d.names.empty()) {
    md << "| series | candidates | best " << metric_name(options.y) << " | at "
       << metric_name(options.x) << " | lowest " << metric_name(options.x) << " | on the front |\n";
    md << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  }
  for (const auto& name : d.names) {
    const auto& idx = d.by_series.at(name);
    std::size_t best = idx.front();
    double lowest_x = INFINITY;
    for (auto i : idx) {
      double yi = *d.rows[i].value(options.y), yb = *d.rows[best].value(options.y);
      bool better = metric_direction(options.y) == Direction::kMaximize ? yi > yb : yi < yb;
      if (better) best = i;
      lowest_x = std::min(lowest_x, *d.rows[i].value(options.x));
    }
    std::size_t on_front = 0;
    for (auto f : front)
      on_front += f < d.rows.size() && series_name(d.rows[f], options.series) == name ? 1 : 0;
    md << "| " << name << " | " << idx.size() << " | "
       << format_value(*d.rows[best].value(options.y), options.y) << " | "
       << format_value(*d.rows[best].value(options.x), options.x) << " | "
       << format_value(lowest_x, options.x) << " | " << on_front << " |\n";
  }
}

void write_front_table(std::ostream& md, const CompareData& d,
                       const std::vector<std::size_t>& front, const CompareOptions& options) {
  md << "\n### Pareto front (" << front.size() << " candidates, best " << metric_name(options.x)
     << " first)\n\n";
  md << "| series | model | hw | bits | run | epoch | " << metric_name(options.x) << " | "
     << metric_name(options.y) << " | widths |\n";
  md << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (auto i : front) {
    if (i >= d.rows.size()) {
      const ArmPoint& a = d.arm_points[i - d.rows.size()];
      const ArmGroup& g = *a.group;
      md << "| " << g.name << " | " << g.model << " | " << g.hw << " | "
         << (g.bits ? std::to_string(*g.bits) : "") << " | " << a.x.n
         << (a.x.n == 1 ? " seed" : " seeds") << " | | " << front_value(a.x, options.x) << " | "
         << front_value(a.y, options.y) << " | |\n";
      continue;
    }
    const auto& r = d.rows[i];
    md << "| " << series_name(r, options.series) << " | " << r.model << " | " << r.hw << " | "
       << (r.bits ? std::to_string(*r.bits) : "") << " | " << r.run_id << " | "
       << (r.epoch ? std::to_string(*r.epoch) : "") << " | "
       << format_value(*r.value(options.x), options.x) << " | "
       << format_value(*r.value(options.y), options.y) << " | `" << r.widths << "` |\n";
  }
}

}  // namespace

SeriesKey parse_series_key(const std::string& name) {
  if (name == "method") return SeriesKey::kMethod;
  if (name == "hw") return SeriesKey::kHw;
  if (name == "model") return SeriesKey::kModel;
  throw std::invalid_argument("unknown series key '" + name + "' (choose method, hw or model)");
}

Report make_compare_report(const Database& db, const CompareOptions& options) {
  const CompareData d = load_compare_data(db, options);
  std::vector<std::size_t> front;
  const ScatterChart chart = compare_chart(d, options, front);
  std::ostringstream md;
  md << "## " << chart.title << "\n\n";
  if (d.groups.empty()) {
    md << "Database `" << file_name(db.path()) << "`: " << d.rows.size() << " candidates with both "
       << metric_name(options.x) << " and " << metric_name(options.y) << ".\n\n";
  } else {
    md << "Database `" << file_name(db.path()) << "`: " << d.rows.size()
       << " candidates outside campaigns and " << d.arm_points.size() << " campaign arms ("
       << d.seeds_drawn << " seeds) with both " << metric_name(options.x) << " and "
       << metric_name(options.y) << "; an arm is drawn at its seeds' mean, ±1 sd.\n"
       << (d.names.empty() ? "" : "\n");
  }
  write_series_table(md, d, front, options);
  write_front_table(md, d, front, options);
  Report report;
  if (!d.groups.empty()) arm_tables(d.groups, options.versus, md, report.seeds_csv);
  report.svg = render_scatter_svg(chart);
  report.markdown = md.str();
  report.series = chart.series.size();
  report.points = d.rows.size() + d.seeds_drawn;
  report.arms = d.groups.size();
  return report;
}

namespace {

// Each width named after the layer it is the output of ("" where unknown).
std::vector<std::string> width_names(const std::string& model, const std::string& dataset,
                                     int in_channels, std::size_t count) {
  models::InputShape input = models::canonical_input(model);
  if (dataset == "fashion-mnist") input = models::fashion_mnist_input();
  input.channels = in_channels;
  std::vector<std::string> names(count);
  try {
    models::Network net = models::build(model, {}, input);
    for (const auto& layer : net.layers) {
      if (layer.out_width_index > 0 && layer.out_width_index < static_cast<int>(count) &&
          names[layer.out_width_index].empty()) {
        names[layer.out_width_index] = layer.name;
      }
    }
  } catch (const std::exception&) {
    // Fall back to numbered layers.
  }
  return names;
}

}  // namespace

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
  std::vector<int> after_widths = common::parse_json_int_array(after->widths);
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
  const std::vector<std::string> names =
      width_names(after->model, after->dataset, after_widths[0], before.size());
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

Report make_arm_widths_report(const Database& db, const std::string& arm,
                              const CandidateFilter& filter) {
  std::vector<ArmGroup> groups = load_arm_groups(db, filter);
  groups.erase(std::remove_if(groups.begin(), groups.end(),
                              [&](const ArmGroup& g) { return g.arm != arm || g.seeds.empty(); }),
               groups.end());
  if (groups.empty()) {
    throw std::invalid_argument(db.path() + ": no finished run of arm '" + arm +
                                "' (see `nce db query --db FILE \"SELECT id, campaign, arm, status "
                                "FROM runs WHERE arm IS NOT NULL\"`)");
  }
  if (groups.size() > 1) {
    std::string which;
    for (const ArmGroup& g : groups) {
      which += (which.empty() ? "" : ", ") + std::string("campaign '") + g.campaign + "' hw '" +
               g.hw + "'";
    }
    throw std::invalid_argument(db.path() + ": arm '" + arm + "' has runs in " +
                                std::to_string(groups.size()) + " groups (" + which +
                                "); choose one with --campaign or --hw");
  }
  const ArmGroup& g = groups.front();
  std::vector<std::vector<int>> seeds;
  for (const ArmSeed& s : g.seeds) {
    seeds.push_back(common::parse_json_int_array(s.design.widths));
    if (seeds.back().size() < 2 || seeds.back().size() != seeds.front().size()) {
      throw std::invalid_argument(db.path() + ": run " + std::to_string(s.design.run_id) +
                                  ": width vector " + s.design.widths + " does not match run " +
                                  std::to_string(g.seeds.front().design.run_id) + "'s");
    }
  }
  const std::vector<int> before = models::default_widths(g.model, seeds.front()[0]);
  if (before.size() != seeds.front().size()) {
    throw std::invalid_argument(db.path() + ": arm '" + arm + "': model '" + g.model + "' has " +
                                std::to_string(before.size()) + " widths but the designs have " +
                                std::to_string(seeds.front().size()));
  }
  const std::vector<std::string> names =
      width_names(g.model, g.dataset, seeds.front()[0], before.size());
  auto seed_name = [&](std::size_t k) {
    const ArmSeed& s = g.seeds[k];
    return s.design.seed ? "seed " + std::to_string(*s.design.seed)
                         : "run " + std::to_string(s.design.run_id);
  };
  BarChart chart;
  chart.title = "Channels per layer, each seed: arm " + g.name + " (" + g.method + " " + g.model +
                ", campaign " + g.campaign + ")";
  chart.x_label = "layer";
  chart.y_label = "output channels";
  chart.series.push_back({"before", {}});
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    chart.series.push_back({seed_name(k), {}, indexed_color(k)});
  }
  std::ostringstream md;
  md << "## " << chart.title << "\n\n";
  md << "`before` = " << g.model << "'s published widths; one column per finished run of the arm "
     << "(" << seeds.size() << ": runs " << runs_text(g) << "), each its final design.\n\n";
  md << "| # | layer | before |";
  for (std::size_t k = 0; k < seeds.size(); ++k) md << " " << seed_name(k) << " |";
  md << " mean | mean/before |\n| ---: | --- | ---: |";
  for (std::size_t k = 0; k < seeds.size(); ++k) md << " ---: |";
  md << " ---: | ---: |\n";
  for (std::size_t i = 1; i < before.size(); ++i) {
    const std::string name = names[i].empty() ? "L" + std::to_string(i) : names[i];
    chart.categories.push_back(name);
    chart.series[0].values.push_back(before[i]);
    md << "| " << i << " | " << name << " | " << before[i] << " |";
    double sum = 0;
    for (std::size_t k = 0; k < seeds.size(); ++k) {
      chart.series[k + 1].values.push_back(seeds[k][i]);
      sum += seeds[k][i];
      md << " " << seeds[k][i] << " |";
    }
    const double mean = sum / static_cast<double>(seeds.size());
    md << " " << format_fixed(mean, "%.1f") << " | " << format_fixed(mean / before[i], "%.2f")
       << " |\n";
  }
  Report report;
  report.svg = render_bar_svg(chart);
  report.markdown = md.str();
  report.series = chart.series.size();
  report.points = chart.categories.size();
  report.arms = 1;
  return report;
}

}  // namespace nce::results
