// `nce compare`: accuracy (or a cost) against a cost per method, Pareto front marked, as SVG +
// Markdown; `--widths-chart --run ID`: channels per layer before/after adaptation (paper Fig. 5).
#include <iostream>

#include "cli_util.h"
#include "command.h"
#include "nce/results/compare.h"
#include "nce/results/database.h"

namespace nce::app {
namespace {

using namespace nce::results;

int compare(const std::vector<std::string>& args) {
  return run_guarded("compare", [&] {
    po::options_description options("Options");
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
        ("widths-chart", "draw channels per layer before/after adaptation for --run (Fig. 5)")
        ("run", po::value<std::int64_t>(),
         "run id: the run for --widths-chart, else only this run's candidates");
    // clang-format on
    po::variables_map vm;
    if (!parse_or_help(
            args, "compare",
            "--db FILE --x macs|params|latency|energy [--y top1] [--out FILE.svg] "
            "[--md FILE.md] [filters]\n"
            "       nce compare --db FILE --widths-chart --run ID [--out FILE.svg] "
            "[--md FILE.md]\n\n"
            "Draws every candidate of v_candidates with both metrics, one series per\n"
            "method (nce, tas, wrpn, random, original, ...), and marks the Pareto front;\n"
            "the Markdown table summarises each series and lists the front.",
            options, vm)) {
      return 0;
    }
    OpenOptions ro;
    ro.mode = OpenMode::kReadOnly;
    Database db(vm["db"].as<std::string>(), ro);
    Report report;
    if (vm.count("widths-chart")) {
      if (!vm.count("run")) throw std::invalid_argument("--widths-chart needs --run ID");
      report = make_widths_report(db, vm["run"].as<std::int64_t>());
    } else {
      CompareOptions o;
      o.x = parse_metric(vm["x"].as<std::string>());
      o.y = parse_metric(vm["y"].as<std::string>());
      if (o.x == o.y) throw std::invalid_argument("--x and --y must differ");
      o.series = parse_series_key(vm["series"].as<std::string>());
      o.title = vm["title"].as<std::string>();
      o.lines = !vm.count("points");
      o.filter.method = vm["method"].as<std::string>();
      o.filter.model = vm["model"].as<std::string>();
      o.filter.dataset = vm["dataset"].as<std::string>();
      o.filter.hw = vm["hw"].as<std::string>();
      o.filter.bits = vm["bits"].as<int>();
      o.filter.phase = vm["phase"].as<std::string>();
      if (vm.count("run")) o.filter.run_id = vm["run"].as<std::int64_t>();
      report = make_compare_report(db, o);
    }
    if (vm.count("out")) write_text_file(vm["out"].as<std::string>(), report.svg);
    write_text_file(vm.count("md") ? vm["md"].as<std::string>() : "-", report.markdown);
    if (vm.count("out")) {
      std::cerr << "nce compare: " << report.series << " series, " << report.points << " points -> "
                << vm["out"].as<std::string>() << "\n";
    }
    return 0;
  });
}

}  // namespace

NCE_REGISTER_COMMAND("compare", "trade-off charts (SVG) and tables (Markdown) from a result db",
                     compare);

}  // namespace nce::app
