// Small SVG charts written by the project itself: an x/y scatter chart (one series per method,
// optionally joined by lines, the Pareto front marked) and a grouped bar chart (channels per
// layer before and after adaptation, the paper's Fig. 5).
//
// Why our own writer: Debian 12 has no maintained C++ SVG plotting library, the charts are simple
// (axes, ticks, markers, lines, bars, a legend), and plain SVG text keeps results/reports/ diffable
// and needs no runtime beyond a browser. Output is well-formed XML (every text escaped).
// Structure tests and scripts may rely on: each series is one <g class="series" data-name="...">,
// the Pareto front is <g class="pareto-front">, the legend <g class="legend">, a point's error
// bars <g class="error-bars"> (ChartPoint).
// Units: pixels; the data coordinates are whatever the caller plots (MACs, cycles, pJ, %).
#pragma once

#include <string>
#include <vector>

namespace nce::results {

struct ChartPoint {
  double x = 0;
  double y = 0;
  std::string label;  // shown as a tooltip (<title>); may be empty
  // Error bars: the point +- x_error horizontally and +- y_error vertically (e.g. one standard
  // deviation over seeds), drawn as a <g class="error-bars"> of capped lines inside the series'
  // group, before its marker; 0 = no bar on that axis. The axes are fitted to include them.
  double x_error = 0;
  double y_error = 0;
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;
  bool connect = true;   // join the points (sorted by x) with a line
  std::string legend{};  // the legend's text; "" = "<name> (<number of points>)"
};

struct ScatterChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
  std::vector<ChartPoint> front;  // drawn as a dashed step line with rings; may be empty
  std::string front_label = "Pareto front";
  int width = 760;
  int height = 480;
};

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category
  std::string color{};         // "" = series_color(name)
};

struct BarChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> categories;  // x axis, e.g. layer names
  std::vector<BarSeries> series;        // drawn side by side in each category
  int width = 900;
  int height = 420;
};

std::string render_scatter_svg(const ScatterChart& chart);
std::string render_bar_svg(const BarChart& chart);

// The colour a series name gets: fixed for nce, tas, wrpn, random, original, before, after;
// others cycle through a palette by a hash of the name.
std::string series_color(const std::string& name);
// The k-th of a fixed list of distinct colours (cycling): for series that are numbered, not named.
std::string indexed_color(std::size_t k);

// Escapes &, <, >, " and ' for XML text and attribute values.
std::string xml_escape(const std::string& text);

// Tick positions covering [lo, hi] at a 1/2/5 x 10^k step (about `target` ticks).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// "40.8M", "1.2k", "0.5", "91.5": compact tick text.
std::string format_tick(double value);

}  // namespace nce::results
