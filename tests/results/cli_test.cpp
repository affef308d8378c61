// The `nce` commands of the results area, run as a user would: exit codes, messages on stderr,
// files written, and databases left untouched on bad input.
#include <sys/wait.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "campaign_db.h"
#include "mini_xml.h"
#include "nce/results/database.h"
#include "nce/results/sqlite_sink.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::read_file;
using testing::ScratchFile;
using testing::write_file;

struct Outcome {
  int code = -1;
  std::string out, err;
};

Outcome nce(const std::string& args) {
  ScratchFile out(".out"), err(".err");
  std::string cmd = std::string(NCE_BIN_PATH) + " " + args + " >" + out.path() + " 2>" + err.path();
  int status = std::system(cmd.c_str());
  Outcome o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = read_file(out.path());
  o.err = read_file(err.path());
  return o;
}

std::string sweep_text(const std::string& grid) {
  return "[sweep]\nbase = " + std::string(NCE_SOURCE_DIR) +
         "/hw_configs/mid-32x32-os-2b.cfg\ndataset = cifar10\n[grid]\n" + grid +
         "\n[networks]\nmodel = resnet8\nwrpn = resnet8: 1.5\nwidths = resnet8: "
         "3,8,12,16,20,40,44,48\n";
}

std::string existing_db(const ScratchFile& file) {
  {
    SqliteSink sink(file.path());
    sink.finish_run(sink.begin_run({}), RunStatus::kFinished, 1.0);
  }
  return read_file(file.path());
}

TEST(Cli, SweepWritesOneCandidatePerPairAndTwoAtOnceLoseNothing) {
  ScratchFile db, sweep(".cfg");
  write_file(sweep.path(), sweep_text("array.rows = 16, 32"));
  Outcome first = nce("sweep --sweep " + sweep.path() + " --db " + db.path() + " --quiet");
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("6 evaluations"), std::string::npos) << first.out;
  std::string one = std::string(NCE_BIN_PATH) + " sweep --sweep " + sweep.path() + " --db " +
                    db.path() + " --quiet --jobs 1 >/dev/null";
  ASSERT_EQ(std::system(("(" + one + " & " + one + " & wait)").c_str()), 0);
  Database check(db.path());
  EXPECT_EQ(check.query_int("SELECT count(*) FROM v_candidates"), 18);
  EXPECT_EQ(check.query_int("SELECT count(*) FROM v_runs WHERE status = 'finished'"), 3);
}

TEST(Cli, BadSweepFilesFailAndLeaveTheDatabaseUntouched) {
  ScratchFile db, sweep(".cfg");
  const std::string before = existing_db(db);
  for (const std::string& grid : {std::string("array.colour = red"), std::string("")}) {
    write_file(sweep.path(), sweep_text(grid));
    Outcome o = nce("sweep --sweep " + sweep.path() + " --db " + db.path());
    EXPECT_EQ(o.code, 2);
    EXPECT_NE(o.err.find("nce sweep: error: " + sweep.path()), std::string::npos) << o.err;
    EXPECT_NE(o.err.find(grid.empty() ? "empty grid" : "unknown hw config key 'array.colour'"),
              std::string::npos)
        << o.err;
    EXPECT_EQ(read_file(db.path()), before);
  }
  ScratchFile fresh;
  Outcome o = nce("sweep --sweep " + sweep.path() + " --db " + fresh.path());
  EXPECT_EQ(o.code, 2);
  EXPECT_FALSE(testing::file_exists(fresh.path()));  // not even created
}

TEST(Cli, DbQueryErrorsAreClearAndChangeNothing) {
  ScratchFile db, junk(".txt");
  const std::string before = existing_db(db);
  Outcome o = nce("db query --db " + db.path() + " \"SELECT nope FROM v_runs\"");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("no such column: nope"), std::string::npos) << o.err;
  o = nce("db query --db " + db.path() + " \"DELETE FROM runs\"");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("refusing a statement that writes"), std::string::npos) << o.err;
  EXPECT_EQ(read_file(db.path()), before);
  write_file(junk.path(), std::string(3000, 'z'));
  o = nce("db query --db " + junk.path() + " \"SELECT 1\"");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find(junk.path() + ": not an SQLite database"), std::string::npos) << o.err;
  o = nce("db query --db " + db.path() + " --csv \"SELECT status FROM v_runs\"");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.out, "status\r\nfinished\r\n");
}

TEST(Cli, ShardsMergeAndCompareDrawsEveryMethod) {
  ScratchFile s0(".s0.db"), s1(".s1.db"), out(".out.db"), sweep(".cfg"), svg(".svg"), md(".md");
  write_file(sweep.path(), sweep_text("array.rows = 16, 32"));
  for (int i = 0; i < 2; ++i) {
    Outcome o = nce("sweep --sweep " + sweep.path() + " --db " + (i ? s1.path() : s0.path()) +
                    " --shard " + std::to_string(i) + "/2 --quiet");
    ASSERT_EQ(o.code, 0) << o.err;
  }
  Outcome m = nce("db merge --db " + out.path() + " " + s0.path() + " " + s1.path());
  ASSERT_EQ(m.code, 0) << m.err;
  {
    Database check(out.path());
    EXPECT_EQ(check.query_int("SELECT count(*) FROM v_candidates"), 6);
  }
  Outcome c = nce("compare --db " + out.path() + " --x macs --y latency --out " + svg.path() +
                  " --md " + md.path());
  ASSERT_EQ(c.code, 0) << c.err;
  auto root = testing::MiniXml::parse(read_file(svg.path()));
  EXPECT_EQ(root->all("g", "class", "series").size(), 3u);  // original, wrpn, custom
  EXPECT_NE(read_file(md.path()).find("| wrpn | 2 |"), std::string::npos) << read_file(md.path());
  Outcome p = nce("db pareto --db " + out.path() + " --x latency --y energy --json");
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("\"latency_cycles\""), std::string::npos) << p.out;
  // One front per method: each of the three methods contributes at least its own best point.
  Outcome pm = nce("db pareto --db " + out.path() + " --x latency --y energy --per-method --csv");
  EXPECT_EQ(pm.code, 0) << pm.err;
  for (const char* method : {"\r\noriginal,", "\r\nwrpn,", "\r\ncustom,"}) {
    EXPECT_NE(pm.out.find(method), std::string::npos) << pm.out;
  }
  Outcome e = nce("db export --db " + out.path() + " --format json --table v_runs");
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("\"method\": \"sweep\""), std::string::npos) << e.out;
}

TEST(Cli, CompareGroupsCampaignArmsOverSeeds) {
  ScratchFile db, svg(".svg"), md(".md"), csv(".csv"), widths(".widths.svg");
  testing::fill_campaign(db.path());
  Outcome c = nce("compare --db " + db.path() + " --out " + svg.path() + " --md " + md.path() +
                  " --seeds-csv " + csv.path());
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.err.find("5 series, 11 points, 4 campaign arms"), std::string::npos) << c.err;
  const std::string table = read_file(md.path());
  EXPECT_NE(table.find("### Against `original`"), std::string::npos) << table;
  EXPECT_NE(table.find("### Against `tas`"), std::string::npos) << table;
  EXPECT_NE(read_file(csv.path()).find("c1,nce,,nce,top1,3,81,1,original,"), std::string::npos);
  auto root = testing::MiniXml::parse(read_file(svg.path()));
  EXPECT_EQ(root->all("g", "class", "error-bars").size(), 3u);  // original, nce, tas
  // --versus and --campaign; stdout is the Markdown without --md.
  c = nce("compare --db " + db.path() + " --campaign c1 --versus 'tas-2x, nce'");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("### Against `tas-2x`"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("### Against `nce`"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("### Against `original`"), std::string::npos) << c.out;
  c = nce("compare --db " + db.path() + " --campaign nope");
  EXPECT_EQ(c.code, 2);  // only the campaign's runs: none
  // --per-seed: today's drawing, and nothing for --seeds-csv to write.
  c = nce("compare --db " + db.path() + " --per-seed --seeds-csv " + csv.path());
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.err.find("--seeds-csv: no campaign arm"), std::string::npos) << c.err;
  c = nce("compare --db " + db.path() + " --seeds-csv " + db.path());
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.err.find("same file"), std::string::npos) << c.err;
  // Each seed's widths side by side.
  c = nce("compare --db " + db.path() + " --widths-arm nce --out " + widths.path());
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("| 2 | s1b1.conv_a | 16 | 20 | 16 | 16 | 17.3 | 1.08 |"), std::string::npos)
      << c.out;
  EXPECT_EQ(testing::MiniXml::parse(read_file(widths.path()))->all("g", "class", "series").size(),
            4u);
  c = nce("compare --db " + db.path() + " --widths-arm wrpn");
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.err.find("no finished run of arm 'wrpn'"), std::string::npos) << c.err;
  c = nce("compare --help");
  EXPECT_EQ(c.code, 0);
  for (const char* option :
       {"--versus", "--per-seed", "--seeds-csv", "--widths-arm", "--campaign", "Welch"}) {
    EXPECT_NE(c.out.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace nce::results
