// `nce sweep`: a grid of hw configs x a set of networks, one fast-path evaluation per pair,
// stored in the result database (sweep/sweep.h documents the sweep file).
#include <iostream>

#include "cli_util.h"
#include "command.h"
#include "nce/results/campaign_records.h"
#include "nce/results/query.h"
#include "nce/results/sqlite_cost_cache.h"
#include "nce/results/sqlite_sink.h"
#include "nce/sweep/sweep.h"

namespace nce::app {
namespace {

using namespace nce::results;
using namespace nce::sweep;

int sweep(const std::vector<std::string>& args) {
  po::options_description options("Options");
  // clang-format off
  options.add_options()
      ("sweep", po::value<std::string>()->required(), "sweep file (hw_configs/sweeps/*.cfg)")
      ("db", po::value<std::string>()->required(), "result database (created if missing)")
      ("shard", po::value<std::string>()->default_value("0/1"),
       "evaluate only pairs with index % N == i (i/N, 0-based; for batch job arrays)")
      ("jobs", po::value<int>()->default_value(2), "worker threads")
      ("no-cache", "do not read or fill the database's cost cache")
      ("dry-run", "validate the sweep and list its grid points and networks; write nothing")
      ("quiet", "print only the summary line");
  // clang-format on
  po::variables_map vm;
  if (!parse_or_help(
          args, "sweep",
          "--sweep FILE --db FILE [--shard i/N] [--jobs J] [--no-cache] [--dry-run]\n\n"
          "Evaluates every (hw config, network) pair of the sweep file by the fast cost\n"
          "path and stores one candidate per pair in v_candidates (hw = grid point name,\n"
          "method = original|custom|wrpn|<source method>). Several sweeps may write one\n"
          "database at once; shards are joined with `nce db merge`. A grid may have at most\n" +
              std::to_string(kMaxSweepPoints) +
              " points (the product of its value lists); split a bigger one into several\n"
              "sweep files.\n"
              "Sweep file format: sweep/include/nce/sweep/sweep.h, hw_configs/sweeps/.",
          options, vm)) {
    return 0;
  }
  const std::string db_path = vm["db"].as<std::string>();
  SweepOptions o;
  o.shard = common::parse_shard(vm["shard"].as<std::string>());
  o.jobs = vm["jobs"].as<int>();
  if (o.jobs < 1 || o.jobs > 256) throw std::invalid_argument("--jobs must be in 1..256");
  o.git_commit = NCE_GIT_COMMIT;
  const InterruptHandler interrupts;  // a signal ends the sweep between batches, "interrupted"
  o.stop_requested = [] { return interrupt_signal() != 0; };
  // Everything is validated before the database is opened for writing.
  SweepSpec spec = load_sweep(vm["sweep"].as<std::string>(), db_path);
  if (vm.count("dry-run")) {
    std::cout << "sweep " << spec.name << ": " << spec.points.size() << " hw configs x "
              << spec.networks.size() << " networks = " << spec.pairs() << " evaluations\n";
    for (const auto& p : spec.points) std::cout << "  hw       " << p.name << "\n";
    for (const auto& n : spec.networks) {
      std::cout << "  network  " << n.label << " (" << n.method << ")\n";
    }
    return 0;
  }
  SqliteSink sink(db_path);
  std::unique_ptr<SqliteCostCache> cache;
  if (!vm.count("no-cache")) cache = std::make_unique<SqliteCostCache>(db_path);
  SweepSummary s = run_sweep(spec, sink, cache.get(), o);
  if (cache) cache->flush();
  if (s.interrupted) throw common::Interrupted(interrupt_signal());
  if (!vm.count("quiet")) {
    QueryResult table = run_query(sink.database(), run_candidates_sql(s.run));
    std::cout << format_table(table);
  }
  std::cout << "sweep " << spec.name << " shard " << o.shard.index << "/" << o.shard.count << ": "
            << s.evaluations << " evaluations (" << s.infeasible << " infeasible) in " << s.seconds
            << " s; " << s.layers_computed << " layer costs computed, " << s.cache_hits
            << " from the cache; run " << s.run << " in " << db_path << "\n";
  return 0;
}

}  // namespace

NCE_REGISTER_COMMAND("sweep", "evaluate a grid of hw configs x networks into the result db", sweep);

}  // namespace nce::app
