// `nce compare`: accuracy (or a cost) against a cost per method, Pareto front marked, as SVG +
// Markdown; a campaign's arms over their seeds (mean +- sd, Welch's t against reference arms);
// `--widths-chart --run ID`: channels per layer before/after adaptation (paper Fig. 5);
// `--widths-arm ARM`: the same for each seed of a campaign arm, side by side.
#include <iostream>
#include <utility>

#include "cli_util.h"
#include "command.h"
#include "nce/common/text.h"
#include "nce/results/compare.h"
#include "nce/results/database.h"

namespace nce::app {
namespace {

using namespace nce::results;

// "original,tas" -> {"original", "tas"}; blanks around names dropped, empty names skipped.
std::vector<std::string> arm_list(const std::string& text) {
  std::vector<std::string> names;
  for (std::string& name : common::split_list(text))
    if (!name.empty()) names.push_back(std::move(name));
  return names;
}

void add_compare_options(po::options_description& options) {
  // clang-format off
  options.add_options()
      ("db", po::value<std::string>()->required(), "result database (opened read-only)")
      ("x", po::value<std::string>()->default_value("macs"),
       "cost axis: macs|params|latency|energy")
      ("y", po::value<std::string>()->default_value("top1"),
       "other axis: top1 (maximized) or a cost (minimized)")
      ("series", po::value<std::string>()->default_value("method"),
       "one series per method|hw|model")
      ("out", po::value<std::string>(), "write the SVG chart here")
      ("md", po::value<std::string>(), "write the Markdown table here (default: stdout)")
      ("title", po::value<std::string>()->default_value(""), "chart title")
      ("points", "markers only, no lines joining a series (for sweeps)")
      ("method", po::value<std::string>()->default_value(""), "only this method")
      ("model", po::value<std::string>()->default_value(""), "only this model")
      ("dataset", po::value<std::string>()->default_value(""), "only this dataset")
      ("hw", po::value<std::string>()->default_value(""), "only this hw config name")
      ("bits", po::value<int>()->default_value(0), "only this precision")
      ("phase", po::value<std::string>()->default_value(""),
       "only this phase (e.g. final: the retrained results, not every search epoch)")
      ("campaign", po::value<std::string>()->default_value(""),
       "only the runs of this campaign (runs.campaign, set by nce campaign)")
      ("per-seed", "draw campaign runs candidate by candidate like other runs, not one "
       "point per arm")
      ("versus", po::value<std::string>()->default_value("original,tas"),
       "arms every other arm is tested against (Welch's t), comma-separated; '' = none")
      ("seeds-csv", po::value<std::string>(),
       "write the arm tables (mean, sd, Welch's t, df, p) here as CSV")
      ("widths-chart", "draw channels per layer before/after adaptation for --run (Fig. 5)")
      ("widths-arm", po::value<std::string>(),
       "draw channels per layer for each finished seed of this campaign arm side by side "
       "(narrow with --campaign, --hw)")
      ("run", po::value<std::int64_t>(),
       "run id: the run for --widths-chart, else only this run's candidates");
  // clang-format on
}

// The filters --widths-arm and the charts share.
CandidateFilter filter_options(const po::variables_map& vm) {
  CandidateFilter f;
  f.campaign = vm["campaign"].as<std::string>();
  f.method = vm["method"].as<std::string>();
  f.model = vm["model"].as<std::string>();
  f.dataset = vm["dataset"].as<std::string>();
  f.hw = vm["hw"].as<std::string>();
  f.bits = vm["bits"].as<int>();
  return f;
}

CompareOptions compare_options(const po::variables_map& vm) {
  CompareOptions o;
  o.x = parse_metric(vm["x"].as<std::string>());
  o.y = parse_metric(vm["y"].as<std::string>());
  if (o.x == o.y) throw std::invalid_argument("--x and --y must differ");
  o.series = parse_series_key(vm["series"].as<std::string>());
  o.title = vm["title"].as<std::string>();
  o.lines = !vm.count("points");
  o.filter = filter_options(vm);
  o.filter.phase = vm["phase"].as<std::string>();
  if (vm.count("run")) o.filter.run_id = vm["run"].as<std::int64_t>();
  o.group_seeds = !vm.count("per-seed");
  o.versus = arm_list(vm["versus"].as<std::string>());
  return o;
}

int compare(const std::vector<std::string>& args) {
  po::options_description options("Options");
  add_compare_options(options);
  po::variables_map vm;
  if (!parse_or_help(
          args, "compare",
          "--db FILE --x macs|params|latency|energy [--y top1] [--out FILE.svg] "
          "[--md FILE.md] [--seeds-csv FILE.csv] [filters]\n"
          "       nce compare --db FILE --widths-chart --run ID [--out FILE.svg] "
          "[--md FILE.md]\n"
          "       nce compare --db FILE --widths-arm ARM [--campaign NAME] [--out FILE.svg] "
          "[--md FILE.md]\n\n"
          "Draws every candidate of v_candidates with both metrics, one series per\n"
          "method (nce, tas, wrpn, random, original, ...), and marks the Pareto front;\n"
          "the Markdown table summarises each series and lists the front.\n\n"
          "Runs of nce campaign (runs.arm set) are grouped instead: one series per arm\n"
          "(campaign, arm, hw config), drawn at the mean of its finished runs' final\n"
          "designs (one run per seed; whatever --phase says) with +-1 sample sd error\n"
          "bars and n in the legend. Tables: each arm's n and mean +- sd of top1, macs,\n"
          "params, latency and energy (where recorded), then each arm against each\n"
          "--versus arm of its campaign: difference of means, Welch's t, Welch-\n"
          "Satterthwaite df, two-sided p; n/a (with the reason) for n < 2 or no variance.\n"
          "Runs outside campaigns are drawn as before; --per-seed draws campaign runs\n"
          "that way too.",
          options, vm)) {
    return 0;
  }
  OpenOptions ro;
  ro.mode = OpenMode::kReadOnly;
  Database db(vm["db"].as<std::string>(), ro);
  Report report;
  if (vm.count("widths-arm")) {
    if (vm.count("widths-chart")) {
      throw std::invalid_argument("--widths-arm and --widths-chart exclude each other");
    }
    report = make_arm_widths_report(db, vm["widths-arm"].as<std::string>(), filter_options(vm));
  } else if (vm.count("widths-chart")) {
    if (!vm.count("run")) throw std::invalid_argument("--widths-chart needs --run ID");
    report = make_widths_report(db, vm["run"].as<std::int64_t>());
  } else {
    report = make_compare_report(db, compare_options(vm));
  }
  if (vm.count("seeds-csv")) {
    if (report.seeds_csv.empty()) {
      throw std::invalid_argument(
          "--seeds-csv: no campaign arm to tabulate (no run with "
          "runs.arm set matches" +
          std::string(vm.count("per-seed") ? ", or --per-seed" : "") + ")");
    }
    write_text_file(vm["seeds-csv"].as<std::string>(), report.seeds_csv);
  }
  if (vm.count("out")) write_text_file(vm["out"].as<std::string>(), report.svg);
  write_text_file(vm.count("md") ? vm["md"].as<std::string>() : "-", report.markdown);
  if (vm.count("out")) {
    std::cerr << "nce compare: " << report.series << " series, " << report.points << " points"
              << (report.arms ? ", " + std::to_string(report.arms) +
                                    (report.arms == 1 ? " campaign arm" : " campaign arms")
                              : "")
              << " -> " << vm["out"].as<std::string>() << "\n";
  }
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("compare", "trade-off charts (SVG) and tables (Markdown) from a result db",
                     compare);

}  // namespace nce::app
