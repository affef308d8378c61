// `nce db query|pareto|export|merge`: reading and joining result databases (results/).
#include <algorithm>
#include <iostream>
#include <sstream>

#include "cli_util.h"
#include "command.h"
#include "interrupt.h"
#include "nce/results/campaign_records.h"
#include "nce/results/candidates.h"
#include "nce/results/database.h"
#include "nce/results/merge.h"
#include "nce/results/pareto.h"
#include "nce/results/query.h"

namespace nce::app {
namespace {

using namespace nce::results;

Database open_read_only(const std::string& path) {
  OpenOptions options;
  options.mode = OpenMode::kReadOnly;
  return Database(path, options);
}

// --table (default), --csv, --json, --md: one of them.
std::string format_result(const QueryResult& result, const po::variables_map& vm) {
  int chosen = static_cast<int>(vm.count("csv")) + static_cast<int>(vm.count("json")) +
               static_cast<int>(vm.count("md"));
  if (chosen > 1) throw std::invalid_argument("choose one of --csv, --json, --md");
  if (vm.count("csv")) return format_csv(result);
  if (vm.count("json")) return format_json(result);
  if (vm.count("md")) return format_markdown(result);
  return format_table(result);
}

void add_format_options(po::options_description& options) {
  // clang-format off
  options.add_options()
      ("csv", "print CSV (RFC 4180) instead of an aligned table")
      ("json", "print a JSON array of objects")
      ("md", "print a Markdown table");
  // clang-format on
}

int db_query(const std::vector<std::string>& args) {
  po::options_description options("Options");
  // clang-format off
  options.add_options()
      ("db", po::value<std::string>()->required(), "result database (opened read-only)")
      ("sql", po::value<std::string>()->required(), "SQL to run (also the positional argument)")
      ("timeout", po::value<double>()->default_value(60),
       "stop the query after this many seconds (0 = no limit)")
      ("max-memory", po::value<double>()->default_value(1024),
       "stop the query when SQLite needs more than this many MiB (0 = no limit)");
  // clang-format on
  add_format_options(options);
  po::positional_options_description positional;
  positional.add("sql", 1);
  po::variables_map vm;
  if (!parse_or_help(
          args, "db query",
          "--db FILE \"SQL\" [--csv|--json|--md]\n\n"
          "Runs SQL on a result database opened read-only (statements that write are\n"
          "refused), within a time and a memory limit (--timeout, --max-memory;\n"
          "Ctrl-C stops it too). Stable views: v_candidates(run_id, method, model, dataset, "
          "bits,\n"
          "hw, epoch, phase, widths, macs, params, latency_cycles, energy_pj, top1) and\n"
          "v_runs(run_id, method, model, dataset, bits, hw, status, started_at,\n"
          "finished_at, final_top1, config). Example:\n"
          "  nce db query --db results.db \"SELECT method, max(top1) FROM v_candidates "
          "GROUP BY method\"",
          options, vm, &positional)) {
    return 0;
  }
  const InterruptHandler interrupts;
  QueryLimits limits;
  limits.seconds = vm["timeout"].as<double>();
  const double mib = vm["max-memory"].as<double>();
  if (!(limits.seconds >= 0) || !(mib >= 0) || mib > 1e9) {
    throw std::invalid_argument("--timeout and --max-memory must be 0 (no limit) or positive");
  }
  limits.heap_bytes = static_cast<std::int64_t>(mib * (1 << 20));
  limits.interrupted = [] { return interrupt_signal(); };
  Database db = open_read_only(vm["db"].as<std::string>());
  std::cout << format_result(run_query(db, vm["sql"].as<std::string>(), limits), vm);
  return 0;
}

int db_pareto(const std::vector<std::string>& args) {
  po::options_description options("Options");
  // clang-format off
  options.add_options()
      ("db", po::value<std::string>()->required(), "result database (opened read-only)")
      ("x", po::value<std::string>()->required(), "cost: macs|params|latency|energy")
      ("y", po::value<std::string>()->default_value("top1"),
       "second objective: top1 (maximized) or a cost (minimized)")
      ("method", po::value<std::string>()->default_value(""), "only this method")
      ("model", po::value<std::string>()->default_value(""), "only this model")
      ("dataset", po::value<std::string>()->default_value(""), "only this dataset")
      ("hw", po::value<std::string>()->default_value(""), "only this hw config name")
      ("bits", po::value<int>()->default_value(0), "only this precision")
      ("phase", po::value<std::string>()->default_value(""), "only this phase (final, sweep...)")
      ("run", po::value<std::int64_t>(), "only this run id")
      ("per-method", "one front per method instead of one over all rows");
  // clang-format on
  add_format_options(options);
  po::variables_map vm;
  if (!parse_or_help(args, "db pareto",
                     "--db FILE --x macs|params|latency|energy [--y top1|...] [filters]\n\n"
                     "Prints the candidates on the Pareto front of x (minimized) against y\n"
                     "(top1 maximized; a cost minimized), best x first.",
                     options, vm)) {
    return 0;
  }
  Metric x = parse_metric(vm["x"].as<std::string>());
  Metric y = parse_metric(vm["y"].as<std::string>());
  if (x == y) throw std::invalid_argument("--x and --y must differ");
  Database db = open_read_only(vm["db"].as<std::string>());
  CandidateFilter filter;
  filter.method = vm["method"].as<std::string>();
  filter.model = vm["model"].as<std::string>();
  filter.dataset = vm["dataset"].as<std::string>();
  filter.hw = vm["hw"].as<std::string>();
  filter.bits = vm["bits"].as<int>();
  filter.phase = vm["phase"].as<std::string>();
  if (vm.count("run")) filter.run_id = vm["run"].as<std::int64_t>();
  filter.require = {x, y};
  auto rows = load_candidates(db, filter);

  std::vector<std::vector<std::size_t>> groups;
  if (vm.count("per-method")) {
    std::vector<std::string> methods;
    for (const auto& r : rows) {
      if (std::find(methods.begin(), methods.end(), r.method) == methods.end()) {
        methods.push_back(r.method);
      }
    }
    std::sort(methods.begin(), methods.end());
    for (const auto& m : methods) {
      std::vector<std::size_t> g;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].method == m) g.push_back(i);
      }
      groups.push_back(g);
    }
  } else {
    std::vector<std::size_t> all(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) all[i] = i;
    groups.push_back(all);
  }
  QueryResult out;
  out.columns = {"method", "model",  "dataset",        "bits",          "hw", "run_id", "epoch",
                 "phase",  "widths", metric_column(x), metric_column(y)};
  auto text = [](const std::string& s) {
    Value v;
    if (!s.empty()) {
      v.type = Value::Type::kText;
      v.text = s;
    }
    return v;
  };
  auto integer = [](std::optional<std::int64_t> n) {
    Value v;
    if (n) {
      v.type = Value::Type::kInteger;
      v.integer = *n;
    }
    return v;
  };
  auto metric = [&](const CandidateRow& r, Metric m) {
    if (m == Metric::kEnergy || m == Metric::kTop1) {
      Value v;
      v.type = Value::Type::kReal;
      v.real = *r.value(m);
      return v;
    }
    return integer(static_cast<std::int64_t>(*r.value(m)));
  };
  for (const auto& group : groups) {
    std::vector<Point2> points;
    for (auto i : group) points.push_back({*rows[i].value(x), *rows[i].value(y)});
    for (auto k : pareto_front(points, metric_direction(x), metric_direction(y))) {
      const CandidateRow& r = rows[group[k]];
      out.rows.push_back({text(r.method), text(r.model), text(r.dataset),
                          integer(r.bits ? std::optional<std::int64_t>(*r.bits) : std::nullopt),
                          text(r.hw), integer(r.run_id),
                          integer(r.epoch ? std::optional<std::int64_t>(*r.epoch) : std::nullopt),
                          text(r.phase), text(r.widths), metric(r, x), metric(r, y)});
    }
  }
  std::cout << format_result(out, vm);
  return 0;
}

int db_export(const std::vector<std::string>& args) {
  po::options_description options("Options");
  // clang-format off
  options.add_options()
      ("db", po::value<std::string>()->required(), "result database (opened read-only)")
      ("format", po::value<std::string>()->default_value("csv"), "csv|json")
      ("table", po::value<std::string>()->default_value("v_candidates"),
       "table or view to export (v_candidates, v_runs, runs, epochs, candidates, hw_configs, "
       "cost_cache)")
      ("out", po::value<std::string>()->default_value("-"), "output file; - for stdout");
  // clang-format on
  po::variables_map vm;
  if (!parse_or_help(args, "db export", "--db FILE --format csv|json [--table NAME] [--out FILE]",
                     options, vm)) {
    return 0;
  }
  const std::string format = vm["format"].as<std::string>();
  if (format != "csv" && format != "json") {
    throw std::invalid_argument("--format: unknown format '" + format + "' (csv or json)");
  }
  Database db = open_read_only(vm["db"].as<std::string>());
  QueryResult table = dump_table(db, vm["table"].as<std::string>());
  write_text_file(vm["out"].as<std::string>(),
                  format == "csv" ? format_csv(table) : format_json(table));
  return 0;
}

int db_merge(const std::vector<std::string>& args) {
  po::options_description options("Options");
  // clang-format off
  options.add_options()
      ("db", po::value<std::string>()->required(), "output database (created if missing)")
      ("inputs", po::value<std::vector<std::string>>()->required(),
       "databases to merge (positional)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("inputs", -1);
  po::variables_map vm;
  if (!parse_or_help(args, "db merge",
                     "--db OUT IN1 [IN2 ...]\n\n"
                     "Copies every run (with its epochs and candidates), hw config and cost-cache\n"
                     "entry of the inputs into OUT. Runs already in OUT (same uuid) are skipped,\n"
                     "so merging again is harmless; a run OUT holds as still running is updated\n"
                     "from a newer copy. Inputs are only read (an old schema is migrated in a\n"
                     "temporary copy). Joins the shards of `nce sweep --shard i/N`.",
                     options, vm, &positional)) {
    return 0;
  }
  Database out(vm["db"].as<std::string>());
  for (const auto& input : vm["inputs"].as<std::vector<std::string>>()) {
    MergeStats s = merge_database(out, input);
    std::cout << input << ": " << s.runs_added << " runs (" << s.runs_skipped
              << " already present, " << s.runs_updated << " updated), " << s.candidates_added
              << " candidates, " << s.epochs_added << " epochs, " << s.hw_configs_added
              << " hw configs, " << s.cost_entries_added << " cost-cache entries\n";
  }
  const RowCounts rows = row_counts(out);
  std::cout << out.path() << ": " << rows.runs << " runs, " << rows.candidates << " candidates\n";
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("db query", "run SQL on a result database (read-only; table/CSV/JSON)",
                     db_query);
NCE_REGISTER_COMMAND("db pareto", "Pareto-optimal candidates: a cost against accuracy or a cost",
                     db_pareto);
NCE_REGISTER_COMMAND("db export", "export a table or view as CSV or JSON", db_export);
NCE_REGISTER_COMMAND("db merge", "join result databases (e.g. sweep shards) into one", db_merge);

}  // namespace nce::app
