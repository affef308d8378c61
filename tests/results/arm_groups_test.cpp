// Grouping a campaign's runs by arm over seeds: which runs and designs count, mean +- sd per
// metric, and the Welch comparisons against a reference arm (numbers worked out by hand).
#include "nce/results/arm_groups.h"

#include <cmath>

#include <gtest/gtest.h>

#include "campaign_db.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::ScratchFile;

const ArmGroup& find(const std::vector<ArmGroup>& groups, const std::string& arm) {
  for (const ArmGroup& g : groups) {
    if (g.arm == arm) return g;
  }
  throw std::runtime_error("no arm " + arm);
}

TEST(ArmGroups, OneGroupPerArmWithEachRunsFinalDesign) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  const std::vector<ArmGroup> groups = load_arm_groups(db, {});
  ASSERT_EQ(groups.size(), 4u);  // the random run outside the campaign is not a group
  // original, nce, tas, then tas-2x (method tas, not named after it).
  EXPECT_EQ(groups[0].arm, "original");
  EXPECT_EQ(groups[1].arm, "nce");
  EXPECT_EQ(groups[2].arm, "tas");
  EXPECT_EQ(groups[3].arm, "tas-2x");
  for (const ArmGroup& g : groups) {
    EXPECT_EQ(g.name, g.arm);  // one campaign, one hw: the arm's name alone
    EXPECT_EQ(g.campaign, "c1");
    EXPECT_EQ(g.model, "resnet20");
    EXPECT_EQ(g.bits, 2);
  }
  const ArmGroup& nce = find(groups, "nce");
  ASSERT_EQ(nce.seeds.size(), 3u);
  for (const ArmSeed& s : nce.seeds) {
    EXPECT_EQ(s.design.phase, "final");
    EXPECT_EQ(s.design.method, "nce");  // not the retrained teacher (top-1 99)
  }
  EXPECT_EQ(nce.seeds[2].design.seed, 3);
  // nce top-1 {80, 81, 82}: mean 81, sd = sqrt((1 + 0 + 1) / 2) = 1.
  SampleStats top1 = nce.stats(Metric::kTop1);
  EXPECT_EQ(top1.n, 3u);
  EXPECT_DOUBLE_EQ(*top1.mean, 81);
  EXPECT_DOUBLE_EQ(*top1.sd, 1);
  // MACs {100, 110, 120}: mean 110, sd 10. PARAMs all 1000: sd 0.
  EXPECT_DOUBLE_EQ(*nce.stats(Metric::kMacs).mean, 110);
  EXPECT_DOUBLE_EQ(*nce.stats(Metric::kMacs).sd, 10);
  EXPECT_DOUBLE_EQ(*nce.stats(Metric::kParams).sd, 0);
  EXPECT_EQ(nce.stats(Metric::kLatency).n, 0u);  // no hw: no cycles recorded
  // tas: the failed third seed is left out and counted.
  const ArmGroup& tas = find(groups, "tas");
  EXPECT_EQ(tas.seeds.size(), 2u);
  EXPECT_EQ(tas.left_out, (std::map<std::string, std::size_t>{{"failed", 1}}));
  EXPECT_DOUBLE_EQ(*tas.stats(Metric::kTop1).mean, 80);
  EXPECT_DOUBLE_EQ(*tas.stats(Metric::kTop1).sd, std::sqrt(0.5));
  // tas-2x: one seed, a mean but no sd.
  const SampleStats one = find(groups, "tas-2x").stats(Metric::kTop1);
  EXPECT_EQ(one.n, 1u);
  EXPECT_DOUBLE_EQ(*one.mean, 83);
  EXPECT_FALSE(one.sd.has_value());
}

TEST(ArmGroups, FiltersNarrowTheRuns) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  CandidateFilter f;
  f.method = "tas";
  std::vector<ArmGroup> groups = load_arm_groups(db, f);
  ASSERT_EQ(groups.size(), 2u);  // tas and tas-2x
  f = {};
  f.campaign = "other";
  EXPECT_TRUE(load_arm_groups(db, f).empty());
  f.campaign = "c1";
  f.phase = "search";  // ignored: a seed is always its run's final design
  groups = load_arm_groups(db, f);
  EXPECT_DOUBLE_EQ(*find(groups, "nce").stats(Metric::kTop1).mean, 81);
}

TEST(ArmGroups, WelchAgainstTheOriginalByHand) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  const std::vector<ArmGroup> groups = load_arm_groups(db, {});
  const auto comparisons =
      compare_arms(groups, "original", {Metric::kTop1, Metric::kMacs, Metric::kParams});
  // nce, tas, tas-2x against original, three metrics each; never original against itself.
  ASSERT_EQ(comparisons.size(), 9u);
  const ArmComparison* top1 = nullptr;
  const ArmComparison* macs = nullptr;
  const ArmComparison* params = nullptr;
  const ArmComparison* single = nullptr;
  for (const ArmComparison& c : comparisons) {
    EXPECT_EQ(c.reference->arm, "original");
    EXPECT_NE(c.arm->arm, "original");
    if (c.arm->arm == "nce" && c.metric == Metric::kTop1) top1 = &c;
    if (c.arm->arm == "nce" && c.metric == Metric::kMacs) macs = &c;
    if (c.arm->arm == "nce" && c.metric == Metric::kParams) params = &c;
    if (c.arm->arm == "tas-2x" && c.metric == Metric::kTop1) single = &c;
  }
  ASSERT_TRUE(top1 && macs && params && single);
  // top-1: nce {80, 81, 82} vs original {78, 79, 80}: difference 2, s^2/n = 1/3 each,
  // t = 2 / sqrt(2/3) = sqrt(6), df = (2/3)^2 / ((1/3)^2 / 2 + (1/3)^2 / 2) = 4. For df = 4 the
  // CDF has the closed form F(t) = 1/2 + (3/8) (t / sqrt(q)) (1 - t^2 / (12 q)), q = 1 + t^2 / 4,
  // so p = 2 (1 - F) = 0.0705.
  EXPECT_DOUBLE_EQ(*top1->test.difference, 2);
  EXPECT_NEAR(*top1->test.t, std::sqrt(6.0), 1e-12);
  EXPECT_NEAR(*top1->test.df, 4, 1e-12);
  const double t = std::sqrt(6.0), q = 1 + t * t / 4;
  const double cdf = 0.5 + 0.375 * (t / std::sqrt(q)) * (1 - t * t / (12 * q));
  EXPECT_NEAR(*top1->test.p, 2 * (1 - cdf), 1e-12);  // 0.0705
  // MACs: nce {100, 110, 120} vs original 200 x3 (no variance): t = -90 / (10 / sqrt(3)),
  // df = n - 1 = 2, p = 1 - |t| / sqrt(2 + t^2).
  EXPECT_NEAR(*macs->test.t, -90 / (10 / std::sqrt(3.0)), 1e-9);
  EXPECT_NEAR(*macs->test.df, 2, 1e-12);
  const double tm = 90 / (10 / std::sqrt(3.0));
  EXPECT_NEAR(*macs->test.p, 1 - tm / std::sqrt(2 + tm * tm), 1e-12);
  // PARAMs: 1000 x3 vs 2000 x3: no variance in either, t undefined but the difference is -1000.
  EXPECT_FALSE(params->test.t.has_value());
  EXPECT_DOUBLE_EQ(*params->test.difference, -1000);
  EXPECT_EQ(params->test.reason, "no variance in either");
  // tas-2x has one seed.
  EXPECT_FALSE(single->test.t.has_value());
  EXPECT_EQ(single->test.reason, "n = 1 and 3; needs 2 each");
  EXPECT_DOUBLE_EQ(*single->test.difference, 4);

  EXPECT_TRUE(compare_arms(groups, "no-such-arm", {Metric::kTop1}).empty());
}

TEST(ArmGroups, SeveralCampaignsAndHwConfigsAreNamedApart) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  {
    SqliteSink sink(file.path());
    for (const char* hw : {"edge-a", "edge-b"}) {
      RunInfo info;
      info.method = "nce";
      info.model = "resnet20";
      info.hw = hw;
      info.campaign = "c2";
      info.arm = "nce";
      const RunId run = sink.begin_run(info);
      CandidateRecord c;
      c.phase = "final";
      c.widths = models::default_widths("resnet20");
      c.macs = 100;
      c.top1 = 80;
      sink.record_candidate(run, c);
      sink.finish_run(run, RunStatus::kFinished, 80.0);
    }
  }
  Database db(file.path());
  const std::vector<ArmGroup> groups = load_arm_groups(db, {});
  ASSERT_EQ(groups.size(), 6u);
  EXPECT_EQ(groups[0].name, "c1/original");
  EXPECT_EQ(groups[4].name, "c2/nce @edge-a");
  EXPECT_EQ(groups[5].name, "c2/nce @edge-b");
  // c2 has no original: its arms are not compared with c1's.
  for (const ArmComparison& c : compare_arms(groups, "original", {Metric::kTop1})) {
    EXPECT_EQ(c.arm->campaign, "c1");
  }
}

}  // namespace
}  // namespace nce::results
