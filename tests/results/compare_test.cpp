// Trade-off charts: the SVG is well-formed XML with one series per method and the Pareto front
// marked; the Markdown lists the front; the widths chart (Fig. 5) has a bar per layer and side.
#include "nce/results/compare.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "mini_xml.h"
#include "nce/models/network.h"
#include "nce/results/sqlite_sink.h"
#include "nce/results/svg_chart.h"
#include "test_util.h"

namespace nce::results {
namespace {

using testing::MiniXml;
using testing::ScratchFile;

const std::vector<std::string> kMethods = {"nce", "tas", "wrpn", "random", "original"};

// Per method i, three candidates (cost, accuracy): (10+i*5+k*20, 80+i+k*3).
void fill(const std::string& path) {
  SqliteSink sink(path);
  for (size_t i = 0; i < kMethods.size(); ++i) {
    RunInfo info;
    info.method = kMethods[i];
    info.model = "resnet20";
    info.dataset = "cifar10";
    RunId run = sink.begin_run(info);
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
    RunInfo info;
    info.method = "tas";
    info.model = "resnet20";
    info.dataset = "cifar10";
    RunId run = sink.begin_run(info);
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

}  // namespace
}  // namespace nce::results
