// Sweeps: every (hw config, network) pair evaluated once, with the fast path's numbers; shards
// partition the pairs and merge back; bad sweep files fail with the file, line and key named.
#include "nce/sweep/sweep.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/results/candidates.h"
#include "nce/results/merge.h"
#include "nce/results/query.h"
#include "nce/results/sqlite_cost_cache.h"
#include "nce/results/sqlite_sink.h"
#include "nce/sim/report.h"
#include "support/errors.h"
#include "test_util.h"

namespace nce::sweep {
namespace {

using nce::testing::what_thrown;

using namespace nce::results;  // the database side the sweep writes to

using results::testing::ScratchFile;

// The first column of the first row of `sql`, as text ("" when there is no row).
std::string first_text(const Database& db, const std::string& sql) {
  const QueryResult r = run_query(db, sql);
  return r.rows.empty() ? std::string() : r.rows[0][0].text;
}

const std::string kHwDir = std::string(NCE_SOURCE_DIR) + "/hw_configs";

// 2 hw configs x 3 networks.
const char* kSweep = R"(
[sweep]
name = unit
base = mid-32x32-os-2b.cfg   ; relative to the base dir given
dataset = cifar10
[grid]
array.rows = 16, 32
[networks]
model = resnet8
wrpn = resnet8: 1.5
widths = resnet8: 3, 8, 12, 16, 20, 40, 44, 48
)";

SweepSpec unit_spec(const std::string& text = kSweep) {
  return parse_sweep(text, "unit.cfg", kHwDir, nullptr);
}

std::string error_of(const std::string& text) {
  return what_thrown<std::invalid_argument>([&] { unit_spec(text); });
}

TEST(Sweep, TwoConfigsTimesThreeNetworksMatchTheFastPath) {
  SweepSpec spec = unit_spec();
  ASSERT_EQ(spec.points.size(), 2u);
  ASSERT_EQ(spec.networks.size(), 3u);
  EXPECT_EQ(spec.points[0].hw.rows, 16);
  EXPECT_EQ(spec.points[1].hw.rows, 32);
  EXPECT_EQ(spec.points[0].name, "mid-32x32-os-2b{rows=16}");
  EXPECT_EQ(spec.networks[1].method, "wrpn");
  EXPECT_EQ(spec.networks[2].widths, (std::vector<int>{3, 8, 12, 16, 20, 40, 44, 48}));

  ScratchFile file;
  SqliteSink sink(file.path());
  SweepOptions options;
  options.jobs = 2;
  SweepSummary summary = run_sweep(spec, sink, nullptr, options);
  EXPECT_EQ(summary.evaluations, 6u);
  EXPECT_EQ(summary.infeasible, 0u);

  auto rows = load_candidates(sink.database(), {});
  ASSERT_EQ(rows.size(), 6u);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& row : rows) {
    const SweepPoint* point = nullptr;
    for (const auto& p : spec.points) {
      if (p.name == row.hw) point = &p;
    }
    ASSERT_NE(point, nullptr) << row.hw;
    models::Network net =
        models::build(row.model, common::parse_json_int_array(row.widths), models::cifar_input());
    sim::NetworkReport expected = sim::fast_network_report(point->hw, sim::gemm_layers(net));
    ASSERT_TRUE(row.latency_cycles.has_value());
    EXPECT_EQ(*row.latency_cycles, expected.total_cycles) << row.hw << " " << row.widths;
    EXPECT_NEAR(*row.energy_pj, expected.energy_pj, 1e-6 * expected.energy_pj);
    EXPECT_EQ(*row.macs, net.macs());
    EXPECT_EQ(*row.params, net.params());
    EXPECT_EQ(row.bits, point->hw.bits);
    seen.insert({row.hw, row.widths});
  }
  EXPECT_EQ(seen.size(), 6u);  // every pair exactly once
  EXPECT_EQ(sink.database().query_int("SELECT count(*) FROM hw_configs"), 2);
  EXPECT_EQ(sink.database().query_int("SELECT count(*) FROM v_runs WHERE method = 'sweep' AND "
                                      "status = 'finished'"),
            1);
}

TEST(Sweep, CostCacheMakesTheSecondSweepComputeNothing) {
  ScratchFile file;
  SweepSpec spec = unit_spec();
  SqliteSink sink(file.path());
  SweepSummary first, second;
  {
    SqliteCostCache cache(file.path());
    first = run_sweep(spec, sink, &cache, {});
  }
  {
    SqliteCostCache cache(file.path());
    second = run_sweep(spec, sink, &cache, {});
    EXPECT_EQ(cache.misses(), 0);
  }
  EXPECT_GT(first.layers_computed, 0);
  EXPECT_EQ(second.layers_computed, 0);
  EXPECT_GT(second.cache_hits, 0);
  CandidateFilter f;
  f.run_id = first.run;
  auto a = load_candidates(sink.database(), f);
  f.run_id = second.run;
  auto b = load_candidates(sink.database(), f);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].latency_cycles, b[i].latency_cycles);
    EXPECT_EQ(a[i].energy_pj, b[i].energy_pj);
  }
}

TEST(Sweep, ShardsPartitionThePairsAndMergeBack) {
  SweepSpec spec = unit_spec();
  ScratchFile s0(".s0.db"), s1(".s1.db"), s2(".s2.db"), merged(".merged.db");
  std::vector<std::string> shards = {s0.path(), s1.path(), s2.path()};
  std::multiset<std::tuple<std::string, std::string, std::int64_t>> all;
  for (int i = 0; i < 3; ++i) {
    SqliteSink sink(shards[i]);
    SweepOptions options;
    options.shard = common::parse_shard(std::to_string(i) + "/3");
    EXPECT_EQ(run_sweep(spec, sink, nullptr, options).evaluations, 2u);
  }
  Database out(merged.path());
  for (const auto& s : shards) merge_database(out, s);
  for (const auto& r : load_candidates(out, {})) all.insert({r.hw, r.widths, *r.latency_cycles});
  ScratchFile whole(".whole.db");
  SqliteSink sink(whole.path());
  run_sweep(spec, sink, nullptr, {});
  std::multiset<std::tuple<std::string, std::string, std::int64_t>> expected;
  for (const auto& r : load_candidates(sink.database(), {})) {
    expected.insert({r.hw, r.widths, *r.latency_cycles});
  }
  EXPECT_EQ(all, expected);
  EXPECT_EQ(all.size(), 6u);
}

TEST(Sweep, TwoProcessesSweepingOneDatabaseLoseNothing) {
  ScratchFile file;
  SweepSpec spec = unit_spec();
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        SqliteSink sink(file.path());
        SqliteCostCache cache(file.path(), 1);  // a write per store: maximum contention
        SweepOptions options;
        options.batch = 1;
        for (int repeat = 0; repeat < 5; ++repeat) run_sweep(spec, sink, &cache, options);
      } catch (const std::exception& e) {
        fprintf(stderr, "child %d: %s\n", p, e.what());
        _exit(1);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  ASSERT_NO_FATAL_FAILURE(results::testing::expect_children_exit_cleanly(children));
  Database db(file.path());
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 2 * 5 * 6);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_runs WHERE status = 'finished'"), 10);
  EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(Sweep, BadSweepFilesNameFileLineAndKey) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string text = kSweep;
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  // The line of kSweep edited (from -> to) and what the error must say.
  const struct {
    const char* from;
    const char* to;
    const char* needle;
  } edits[] = {
      {"array.rows = 16, 32", "array.colour = red",
       "unit.cfg:7: unknown hw config key 'array.colour'"},
      {"array.rows = 16, 32", "", "unit.cfg: empty grid"},
      {"array.rows = 16, 32", "array.rows =", "[grid] array.rows has no values"},
      {"array.rows = 16, 32", "array.rows = 16, -4", "-4"},
      {"dataset = cifar10", "datasett = cifar10", "unit.cfg:5: unknown key 'datasett' in [sweep]"},
      {"[networks]", "[netwerks]", "unknown section '[netwerks]'"},
      {"model = resnet8", "model = resnet9", "resnet9"},
      {"3, 8, 12, 16, 20, 40, 44, 48", "3, 8, 12", "network 'resnet8 [3,8,12]'"},
      {"wrpn = resnet8: 1.5", "wrpn = resnet8: wide", "bad multiplier 'wide'"},
  };
  for (const auto& edit : edits) {
    const std::string e = error_of(with(edit.from, edit.to));
    EXPECT_NE(e.find(edit.needle), std::string::npos) << edit.to << ": " << e;
  }
  std::string no_networks = kSweep;
  no_networks = no_networks.substr(0, no_networks.find("[networks]"));
  EXPECT_NE(error_of(no_networks).find("no networks"), std::string::npos);
  EXPECT_NE(error_of(with("base = mid-32x32-os-2b.cfg", "base = nowhere.cfg")).find("nowhere.cfg"),
            std::string::npos);
}

// A grid is refused before any point is built when it has more than kMaxSweepPoints points (the
// cap used to be a million, so a few lines of a sweep file could make the parser build and hold a
// million validated hw configs; sweep_fuzz hit that as timeouts), naming the file and the sizes.
TEST(Sweep, GridsOfMoreThanTenThousandPointsAreRefused) {
  auto values = [](int n) {
    std::string list;
    for (int i = 1; i <= n; ++i) list += (i > 1 ? ", " : "") + std::to_string(i);
    return list;
  };
  auto grid = [&](int rows, int cols) {
    std::string text = kSweep;
    const std::string from = "array.rows = 16, 32";
    return text.replace(text.find(from), from.size(),
                        "array.rows = " + values(rows) + "\narray.cols = " + values(cols));
  };
  static_assert(kMaxSweepPoints == 10000);
  const std::string e = error_of(grid(101, 100));
  EXPECT_NE(e.find("unit.cfg: [grid] has more than 10000 points (101 array.rows x 100 array.cols)"),
            std::string::npos)
      << e;
  EXPECT_EQ(unit_spec(grid(100, 100)).points.size(), kMaxSweepPoints);
}

// A pair whose layer does not fit the SRAMs is an expected outcome, not an error: it is stored with
// phase "infeasible" and NULL costs, so every pair still has its row. (The fast path now chunks
// the streamed dimension, so a valid config always fits; the cache is seeded with the status.)
TEST(Sweep, InfeasiblePairsAreRecordedWithoutCosts) {
  SweepSpec spec = unit_spec();
  sim::MemoryCostCache cache;
  const sim::HwConfig& first = spec.points[0].hw;
  for (const auto& n : spec.networks) {
    models::Network net = models::build(n.model, n.widths, models::cifar_input());
    const models::Layer& stem = net.layers.front();
    cache.store(first.fingerprint(), sim::cost_key_for(stem, stem.c_in, stem.c_out), first.bits,
                sim::infeasible_cost("memory.ofmap_sram_kb: too small", 1));
  }
  ScratchFile file;
  SqliteSink sink(file.path());
  SweepOptions options;
  options.jobs = 1;
  SweepSummary summary = run_sweep(spec, sink, &cache, options);
  EXPECT_EQ(summary.evaluations, 6u);
  EXPECT_EQ(summary.infeasible, 3u);
  auto infeasible = run_query(sink.database(),
                              "SELECT DISTINCT hw FROM v_candidates WHERE phase = 'infeasible' AND "
                              "latency_cycles IS NULL AND energy_pj IS NULL AND macs > 0");
  ASSERT_EQ(infeasible.rows.size(), 1u);
  EXPECT_EQ(infeasible.rows[0][0].text, spec.points[0].name);
  EXPECT_EQ(sink.database().query_int(
                "SELECT count(*) FROM v_candidates WHERE phase = 'sweep' AND latency_cycles > 0"),
            3);
}

// Issue 13, finding 6: a sweep stopped part-way (a signal) is an "interrupted" run whose partial
// rows stay in the table but are not in v_candidates as if the sweep were complete.
TEST(Sweep, AStoppedSweepIsInterruptedAndItsPartialRowsAreOffTheView) {
  SweepSpec spec = unit_spec();
  ScratchFile file;
  SqliteSink sink(file.path());
  SweepOptions options;
  options.batch = 2;
  int polls = 0;
  options.stop_requested = [&] { return ++polls > 1; };  // stop after the first batch
  SweepSummary summary = run_sweep(spec, sink, nullptr, options);
  EXPECT_TRUE(summary.interrupted);
  EXPECT_EQ(summary.evaluations, 2u);
  Database& db = sink.database();
  EXPECT_EQ(first_text(db, "SELECT status FROM runs WHERE id = " + std::to_string(summary.run)),
            "interrupted");
  EXPECT_EQ(db.query_int("SELECT count(*) FROM candidates"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 0);
  // A sweep still running (or killed with SIGKILL) is not complete either; a finished one counts.
  options.stop_requested = nullptr;
  SweepSummary whole = run_sweep(spec, sink, nullptr, options);
  EXPECT_FALSE(whole.interrupted);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 6);
  db.exec("UPDATE runs SET status = 'running' WHERE id = " + std::to_string(whole.run));
  EXPECT_EQ(db.query_int("SELECT count(*) FROM v_candidates"), 0);
}

TEST(Sweep, ShardSyntax) {
  EXPECT_EQ(common::parse_shard("2/5").index, 2);
  EXPECT_EQ(common::parse_shard("2/5").count, 5);
  for (const char* bad : {"5/5", "-1/2", "1", "a/b", "1/0", "1/2x"}) {
    EXPECT_THROW(common::parse_shard(bad), std::invalid_argument) << bad;
  }
}

TEST(Sweep, CandidatesFromTheDatabase) {
  ScratchFile file;
  {
    SqliteSink sink(file.path());
    RunId run = sink.begin_run(results::testing::run_info("nce", "resnet8", "cifar10"));
    CandidateRecord c;
    c.phase = "final";
    c.widths = {3, 16, 20, 24, 36, 64, 80, 64};
    c.top1 = 88.5;
    sink.record_candidate(run, c);
  }
  OpenOptions ro;
  ro.mode = OpenMode::kReadOnly;
  Database db(file.path(), ro);
  std::string text = kSweep;
  text += "candidates = SELECT * FROM v_candidates WHERE method = 'nce' AND phase = 'final'\n";
  SweepSpec spec = parse_sweep(text, "unit.cfg", kHwDir, &db);
  ASSERT_EQ(spec.networks.size(), 4u);
  EXPECT_EQ(spec.networks[3].method, "nce");
  EXPECT_EQ(spec.networks[3].top1, 88.5);
  EXPECT_EQ(spec.networks[3].widths, (std::vector<int>{3, 16, 20, 24, 36, 64, 80, 64}));
}

}  // namespace
}  // namespace nce::sweep
