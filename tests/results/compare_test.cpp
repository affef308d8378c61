// Trade-off charts: the SVG is well-formed XML with one series per method and the Pareto front
// marked; the Markdown lists the front; the widths chart (Fig. 5) has a bar per layer and side.
#include "nce/results/compare.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <gtest/gtest.h>

#include "campaign_db.h"
#include "mini_xml.h"
#include "nce/models/network.h"
#include "nce/results/sqlite_sink.h"
#include "nce/results/svg_chart.h"
#include "support/errors.h"
#include "test_util.h"

namespace nce::results {
namespace {

using nce::testing::expect_mentions;
using testing::MiniXml;
using testing::ScratchFile;

const std::vector<std::string> kMethods = {"nce", "tas", "wrpn", "random", "original"};

// Per method i, three candidates (cost, accuracy): (10+i*5+k*20, 80+i+k*3).
void fill(const std::string& path) {
  SqliteSink sink(path);
  for (size_t i = 0; i < kMethods.size(); ++i) {
    RunId run = sink.begin_run(testing::run_info(kMethods[i], "resnet20", "cifar10"));
    for (int k = 0; k < 3; ++k) {
      CandidateRecord c;
      c.phase = "final";
      c.widths = {3, 16 + k};
      c.macs = 10 + static_cast<std::int64_t>(i) * 5 + k * 20;
      c.top1 = 80.0 + static_cast<double>(i) + k * 3;
      c.latency_cycles = 1000 - k;
      sink.record_candidate(run, c);
    }
  }
}

TEST(Compare, SvgIsWellFormedWithOneSeriesPerMethod) {
  ScratchFile file;
  fill(file.path());
  Database db(file.path());
  CompareOptions options;
  options.x = Metric::kMacs;
  Report report = make_compare_report(db, options);
  auto root = MiniXml::parse(report.svg);
  ASSERT_EQ(root->name, "svg");
  auto series = root->all("g", "class", "series");
  ASSERT_EQ(series.size(), kMethods.size());
  std::vector<std::string> names;
  for (const auto* s : series) {
    names.push_back(s->attributes.at("data-name"));
    // three markers each, whatever their shape
    size_t markers = s->all("circle").size() + s->all("rect").size() + s->all("polygon").size();
    EXPECT_EQ(markers, 3u) << names.back();
  }
  std::vector<std::string> sorted_names = names, sorted_methods = kMethods;
  std::sort(sorted_names.begin(), sorted_names.end());
  std::sort(sorted_methods.begin(), sorted_methods.end());
  EXPECT_EQ(sorted_names, sorted_methods);
  EXPECT_EQ(report.series, kMethods.size());
  EXPECT_EQ(report.points, 15u);

  // The front drawn is the one pareto_front() (tested against brute force) gives.
  auto front = root->all("g", "class", "pareto-front");
  ASSERT_EQ(front.size(), 1u);
  std::vector<Point2> points;
  for (size_t i = 0; i < kMethods.size(); ++i) {
    for (int k = 0; k < 3; ++k) {
      points.push_back({10.0 + i * 5.0 + k * 20.0, 80.0 + i + k * 3.0});
    }
  }
  size_t expected_front = pareto_front(points, Direction::kMinimize, Direction::kMaximize).size();
  EXPECT_EQ(front[0]->all("circle").size(), expected_front);
  EXPECT_NE(report.markdown.find("### Pareto front (" + std::to_string(expected_front)),
            std::string::npos)
      << report.markdown;
  // Every method appears as a row of the summary table.
  for (const auto& m : kMethods) {
    EXPECT_NE(report.markdown.find("| " + m + " | 3 |"), std::string::npos) << m;
  }
}

TEST(Compare, PythonMinidomAcceptsTheSvgWhenAvailable) {
  if (std::system("python3 -c 'import xml.dom.minidom' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 not available";
  }
  ScratchFile file, svg(".svg");
  fill(file.path());
  Database db(file.path());
  Report report = make_compare_report(db, {});
  testing::write_file(svg.path(), report.svg);
  std::string cmd =
      "python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); "
      "n = [g for g in d.getElementsByTagName(\"g\") if g.getAttribute(\"class\") "
      "== \"series\"]; sys.exit(0 if len(n) == 5 else 1)' " +
      svg.path();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(Compare, FiltersAndSeriesKeys) {
  ScratchFile file;
  fill(file.path());
  Database db(file.path());
  CompareOptions options;
  options.filter.method = "wrpn";
  Report only = make_compare_report(db, options);
  EXPECT_EQ(only.series, 1u);
  EXPECT_EQ(only.points, 3u);
  options.filter.method.clear();
  options.series = SeriesKey::kModel;
  EXPECT_EQ(make_compare_report(db, options).series, 1u);
  options.y = Metric::kLatency;  // a cost against a cost
  EXPECT_EQ(make_compare_report(db, options).points, 15u);
}

TEST(Compare, NoAccuracyIsAClearError) {
  ScratchFile file;
  {
    SqliteSink sink(file.path());
    RunId run = sink.begin_run({});
    CandidateRecord c;
    c.widths = {3, 4};
    c.macs = 5;
    sink.record_candidate(run, c);
  }
  Database db(file.path());
  try {
    make_compare_report(db, {});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no candidate has both macs and top1"), std::string::npos)
        << e.what();
  }
}

TEST(Compare, WidthsChartHasBeforeAndAfterPerLayer) {
  ScratchFile file;
  std::vector<int> after = {3,  16, 6,  4,  4,  4,  4,  4,  32, 32,
                            12, 19, 32, 28, 64, 64, 64, 64, 64, 44};
  {
    SqliteSink sink(file.path());
    RunId run = sink.begin_run(testing::run_info("tas", "resnet20", "cifar10"));
    CandidateRecord early;
    early.epoch = 0;
    early.phase = "search";
    early.widths = models::default_widths("resnet20");
    CandidateRecord last = early;
    last.epoch = 5;
    last.widths = after;
    sink.record_candidates(run, {last, early});  // the later epoch is not the last row
  }
  Database db(file.path());
  Report report = make_widths_report(db, 1);
  auto root = MiniXml::parse(report.svg);
  auto series = root->all("g", "class", "series");
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0]->attributes.at("data-name"), "before");
  EXPECT_EQ(series[1]->attributes.at("data-name"), "after");
  EXPECT_EQ(series[0]->all("rect").size(), 19u);
  EXPECT_EQ(series[1]->all("rect").size(), 19u);
  EXPECT_NE(report.markdown.find("| 2 | s1b1.conv_a | 16 | 6 | 0.38 |"), std::string::npos)
      << report.markdown;
  EXPECT_THROW(make_widths_report(db, 99), std::invalid_argument);
}

TEST(SvgChart, EscapesTextAndPicksNiceTicks) {
  ScatterChart chart;
  chart.title = "a < b & \"c\"";
  chart.series.push_back({"x<y>", {{1, 2, "tip & <tag>"}}, true});
  auto root = MiniXml::parse(render_scatter_svg(chart));
  EXPECT_EQ(root->all("g", "class", "series").at(0)->attributes.at("data-name"), "x&lt;y&gt;");
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(format_tick(40813184), "40.813M");
  EXPECT_EQ(format_tick(2500), "2500");
  EXPECT_EQ(format_tick(25000), "25k");
}

// ---- Campaign arms over seeds (tests/results/campaign_db.h has the numbers) ----

const testing::XmlElement* series_named(const testing::XmlElement& root, const std::string& name) {
  for (const auto* s : root.all("g", "class", "series")) {
    if (s->attributes.at("data-name") == name) return s;
  }
  return nullptr;
}

bool contains_nan_or_inf(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find("nan") != std::string::npos || text.find("inf") != std::string::npos;
}

TEST(CompareSeeds, EachArmIsOnePointWithErrorBarsAndItsN) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  Report report = make_compare_report(db, {});
  EXPECT_EQ(report.arms, 4u);
  EXPECT_EQ(report.series, 5u);                  // random (no campaign) + four arms
  EXPECT_EQ(report.points, 2u + 3 + 3 + 2 + 1);  // random's two candidates + the seeds
  auto root = MiniXml::parse(report.svg);
  const auto* random = series_named(*root, "random");
  ASSERT_NE(random, nullptr);
  EXPECT_TRUE(random->all("g", "class", "error-bars").empty());
  // nce: MACs 110 +- 10, top-1 81 +- 1: bars on both axes, one marker.
  const auto* nce = series_named(*root, "nce");
  ASSERT_NE(nce, nullptr);
  EXPECT_EQ(nce->all("circle").size() + nce->all("rect").size() + nce->all("polygon").size(), 1u);
  auto x_error = nce->all("g", "class", "x-error");
  auto y_error = nce->all("g", "class", "y-error");
  ASSERT_EQ(x_error.size(), 1u);
  ASSERT_EQ(y_error.size(), 1u);
  EXPECT_EQ(x_error[0]->attributes.at("data-value"), "10");
  EXPECT_EQ(y_error[0]->attributes.at("data-value"), "1");
  EXPECT_EQ(x_error[0]->all("line").size(), 3u);  // the bar and its two caps
  // The bar spans +-10 MACs around the mean: its ends are symmetric about the marker's centre.
  const auto* bar = x_error[0]->all("line")[0];
  const auto* cap = y_error[0]->all("line")[0];
  const double left = std::stod(bar->attributes.at("x1")),
               right = std::stod(bar->attributes.at("x2"));
  EXPECT_NEAR((left + right) / 2, std::stod(cap->attributes.at("x1")), 0.011);
  EXPECT_GT(right - left, 10);
  // original: MACs do not vary, top-1 does: a vertical bar only.
  const auto* original = series_named(*root, "original");
  ASSERT_NE(original, nullptr);
  EXPECT_TRUE(original->all("g", "class", "x-error").empty());
  EXPECT_EQ(original->all("g", "class", "y-error").size(), 1u);
  // tas-2x has one seed: no bars.
  const auto* single = series_named(*root, "tas-2x");
  ASSERT_NE(single, nullptr);
  EXPECT_TRUE(single->all("g", "class", "error-bars").empty());
  // n in the legend.
  const auto legend = root->all("g", "class", "legend");
  ASSERT_EQ(legend.size(), 1u);
  std::string legend_text;
  for (const auto* t : legend[0]->all("text")) legend_text += t->text + ";";
  expect_mentions(legend_text, {"nce (n=3);", "tas (n=2);", "tas-2x (n=1);", "random (2);"});
}

TEST(CompareSeeds, TablesGiveMeanSdAndWelchAgainstOriginalAndTas) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  const Report report = make_compare_report(db, {});
  const std::string& md = report.markdown;
  // Mean +- sd per arm; no hw, so no latency or energy column; n = 1 has no sd.
  expect_mentions(md, {"| arm | campaign | method | hw | seeds | top1 | macs | params | left out |",
                       "| nce | c1 | nce |  | 3 | 81.00 ± 1.00 | 110 ± 10 | 1000 ± 0 |  |",
                       "| tas | c1 | tas |  | 2 | 80.00 ± 0.71 | 155 ± 7 | 1550 ± 71 | 1 failed |",
                       "| tas-2x | c1 | tas |  | 1 | 83.00 ± n/a (n = 1) |"});
  // Against original: t = sqrt(6) = 2.449, df = 4, p = 0.0705 (arm_groups_test works it out).
  expect_mentions(md,
                  {"### Against `original`",
                   "| nce | top1 | 3 | 81.00 | 3 | 79.00 | +2.00 | 2.449 | 4.00 | 0.0705 |",
                   "| nce | params | 3 | 1000 | 3 | 2000 | -1000 | n/a (no variance in either) | "
                   "n/a | n/a |",
                   "| tas-2x | top1 | 1 | 83.00 | 3 | 79.00 | +4.00 | n/a (n = 1 and 3; needs 2 "
                   "each) | n/a | n/a |"});
  // Against tas: nce {80, 81, 82} vs tas {79.5, 80.5}: s^2/n = 1/3 and 1/4, t = 1 / sqrt(7/12)
  // = 1.309; df = (7/12)^2 / ((1/3)^2 / 2 + (1/4)^2 / 1) = (49/144) / (17/144) = 49/17 = 2.88.
  expect_mentions(
      md, {"### Against `tas`", "| nce | top1 | 3 | 81.00 | 2 | 80.00 | +1.00 | 1.309 | 2.88 |"});
  EXPECT_FALSE(contains_nan_or_inf(md)) << md;
  // The CSV: one row per arm and metric, then one per comparison.
  const std::string& csv = report.seeds_csv;
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "campaign,arm,hw,method,metric,n,mean,sd,versus,versus_n,versus_mean,versus_sd,"
            "difference,t,df,p,note");
  expect_mentions(csv, {"\r\nc1,tas-2x,,tas,top1,1,83,,,,,,,,,,n = 1: no sd\r\n",
                        "\r\nc1,nce,,nce,top1,3,81,1,original,3,79,1,2,2.449489743,4,0.0704",
                        "\r\nc1,tas-2x,,tas,top1,1,83,,original,3,79,1,4,,,,n = 1 and 3; needs 2 "
                        "each\r\n"});
  EXPECT_FALSE(contains_nan_or_inf(csv)) << csv;
}

TEST(CompareSeeds, VersusNamesTheReferenceArms) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  CompareOptions options;
  options.versus = {"tas-2x", "wrpn"};
  const std::string md = make_compare_report(db, options).markdown;
  EXPECT_EQ(md.find("### Against `original`"), std::string::npos) << md;
  EXPECT_NE(md.find("### Against `tas-2x`"), std::string::npos) << md;
  EXPECT_NE(md.find("No arm `wrpn`: no comparison against it."), std::string::npos) << md;
}

TEST(CompareSeeds, PerSeedDrawsCampaignRunsLikeAnyOther) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  CompareOptions options;
  options.group_seeds = false;
  const Report report = make_compare_report(db, options);
  // Series by method (original, nce, tas, random): every candidate of every non-diverged run,
  // the failed tas seed and the nce runs' teacher rows included.
  EXPECT_EQ(report.series, 4u);
  EXPECT_EQ(report.points, 10u * 2 + 3 + 2);
  EXPECT_EQ(report.arms, 0u);
  EXPECT_TRUE(report.seeds_csv.empty());
  EXPECT_EQ(report.markdown.find("Campaign arms"), std::string::npos);
  EXPECT_EQ(report.svg.find("error-bars"), std::string::npos);
}

TEST(CompareSeeds, WithoutCampaignsNothingChanges) {
  ScratchFile file;
  fill(file.path());
  Database db(file.path());
  const Report report = make_compare_report(db, {});
  EXPECT_EQ(report.arms, 0u);
  EXPECT_TRUE(report.seeds_csv.empty());
  EXPECT_EQ(report.markdown.find("Campaign arms"), std::string::npos);
  EXPECT_EQ(report.svg.find("error-bars"), std::string::npos);
  EXPECT_NE(report.markdown.find("15 candidates with both macs and top1.\n"), std::string::npos);
}

TEST(CompareSeeds, ArmWidthsChartHasOneBarPerSeedAndLayer) {
  ScratchFile file;
  testing::fill_campaign(file.path());
  Database db(file.path());
  const Report report = make_arm_widths_report(db, "nce", {});
  auto root = MiniXml::parse(report.svg);
  auto series = root->all("g", "class", "series");
  ASSERT_EQ(series.size(), 4u);
  EXPECT_EQ(series[0]->attributes.at("data-name"), "before");
  EXPECT_EQ(series[1]->attributes.at("data-name"), "seed 1");
  EXPECT_EQ(series[3]->attributes.at("data-name"), "seed 3");
  for (const auto* s : series) EXPECT_EQ(s->all("rect").size(), 19u);
  // Seed 1 widened width 2 (s1b1.conv_a) by 4; seeds 2 and 3 widened widths 5 and 7.
  EXPECT_NE(report.markdown.find("| # | layer | before | seed 1 | seed 2 | seed 3 | mean | "
                                 "mean/before |"),
            std::string::npos)
      << report.markdown;
  EXPECT_NE(report.markdown.find("| 2 | s1b1.conv_a | 16 | 20 | 16 | 16 | 17.3 | 1.08 |"),
            std::string::npos)
      << report.markdown;
  EXPECT_EQ(make_arm_widths_report(db, "tas", {}).series, 3u);  // the failed seed left out
  EXPECT_THROW(make_arm_widths_report(db, "wrpn", {}), std::invalid_argument);
}

}  // namespace
}  // namespace nce::results
