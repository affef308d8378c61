#include "nce/results/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "nce/common/utf8.h"

namespace nce::results {

namespace {

constexpr int kMarginLeft = 80;
constexpr int kMarginRight = 170;  // room for the legend
constexpr int kMarginTop = 46;
constexpr int kMarginBottom = 56;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

const char* kMarkerShapes[] = {"circle", "square", "triangle", "diamond"};

std::string marker(const std::string& shape, double cx, double cy, double r,
                   const std::string& color, const std::string& title) {
  std::ostringstream o;
  std::string tip = title.empty() ? "" : "<title>" + xml_escape(title) + "</title>";
  std::string close = tip.empty() ? "/>" : ">" + tip;
  if (shape == "square") {
    o << "<rect x=\"" << num(cx - r) << "\" y=\"" << num(cy - r) << "\" width=\"" << num(2 * r)
      << "\" height=\"" << num(2 * r) << "\" fill=\"" << color << "\"" << close
      << (tip.empty() ? "" : "</rect>");
  } else if (shape == "triangle" || shape == "diamond") {
    std::string pts = shape == "triangle"
                          ? num(cx) + "," + num(cy - r * 1.2) + " " + num(cx - r * 1.1) + "," +
                                num(cy + r) + " " + num(cx + r * 1.1) + "," + num(cy + r)
                          : num(cx) + "," + num(cy - r * 1.3) + " " + num(cx - r * 1.3) + "," +
                                num(cy) + " " + num(cx) + "," + num(cy + r * 1.3) + " " +
                                num(cx + r * 1.3) + "," + num(cy);
    o << "<polygon points=\"" << pts << "\" fill=\"" << color << "\"" << close
      << (tip.empty() ? "" : "</polygon>");
  } else {
    o << "<circle cx=\"" << num(cx) << "\" cy=\"" << num(cy) << "\" r=\"" << num(r) << "\" fill=\""
      << color << "\"" << close << (tip.empty() ? "" : "</circle>");
  }
  return o.str();
}

void header(std::ostringstream& o, int width, int height, const std::string& title) {
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << " " << height
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    << "<title>" << xml_escape(title) << "</title>\n"
    << "<rect width=\"" << width << "\" height=\"" << height << "\" fill=\"white\"/>\n"
    << "<text x=\"" << width / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
    << xml_escape(title) << "</text>\n";
}

struct Axis {
  double lo = 0, hi = 1;
  double pixel_lo = 0, pixel_hi = 1;
  double map(double v) const {
    if (hi == lo) return (pixel_lo + pixel_hi) / 2;
    return pixel_lo + (v - lo) / (hi - lo) * (pixel_hi - pixel_lo);
  }
};

// Pads [lo, hi] a little and snaps it to the tick grid.
std::vector<double> fit_axis(double lo, double hi, Axis& axis) {
  const bool non_negative = lo >= 0;
  if (!(hi > lo)) {
    double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  } else {
    double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  if (non_negative && lo < 0) lo = 0;  // counts and costs never go below zero
  auto ticks = nice_ticks(lo, hi);
  axis.lo = std::min(lo, ticks.front());
  axis.hi = std::max(hi, ticks.back());
  return ticks;
}

void axes(std::ostringstream& o, const Axis& x, const Axis& y, const std::vector<double>& xticks,
          const std::vector<double>& yticks, const std::string& x_label, const std::string& y_label,
          bool x_numeric) {
  o << "<g class=\"axes\" stroke=\"#333\" fill=\"none\">\n";
  o << "<rect x=\"" << num(x.pixel_lo) << "\" y=\"" << num(y.pixel_hi) << "\" width=\""
    << num(x.pixel_hi - x.pixel_lo) << "\" height=\"" << num(y.pixel_lo - y.pixel_hi)
    << "\"/>\n</g>\n";
  o << "<g class=\"grid\" stroke=\"#ddd\" stroke-width=\"0.6\">\n";
  for (double t : yticks) {
    o << "<line x1=\"" << num(x.pixel_lo) << "\" y1=\"" << num(y.map(t)) << "\" x2=\""
      << num(x.pixel_hi) << "\" y2=\"" << num(y.map(t)) << "\"/>\n";
  }
  if (x_numeric) {
    for (double t : xticks) {
      o << "<line x1=\"" << num(x.map(t)) << "\" y1=\"" << num(y.pixel_lo) << "\" x2=\""
        << num(x.map(t)) << "\" y2=\"" << num(y.pixel_hi) << "\"/>\n";
    }
  }
  o << "</g>\n<g class=\"tick-labels\" fill=\"#333\">\n";
  for (double t : yticks) {
    o << "<text x=\"" << num(x.pixel_lo - 6) << "\" y=\"" << num(y.map(t) + 4)
      << "\" text-anchor=\"end\">" << xml_escape(format_tick(t)) << "</text>\n";
  }
  if (x_numeric) {
    for (double t : xticks) {
      o << "<text x=\"" << num(x.map(t)) << "\" y=\"" << num(y.pixel_lo + 16)
        << "\" text-anchor=\"middle\">" << xml_escape(format_tick(t)) << "</text>\n";
    }
  }
  o << "</g>\n";
  o << "<text class=\"x-label\" x=\"" << num((x.pixel_lo + x.pixel_hi) / 2) << "\" y=\""
    << num(y.pixel_lo + 40) << "\" text-anchor=\"middle\">" << xml_escape(x_label) << "</text>\n";
  o << "<text class=\"y-label\" transform=\"translate(18," << num((y.pixel_lo + y.pixel_hi) / 2)
    << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(y_label) << "</text>\n";
}

// +- x_error and +- y_error around p, each a line with caps.
void error_bars(std::ostringstream& o, const Axis& x, const Axis& y, const ChartPoint& p,
                const std::string& color) {
  constexpr double kCap = 4;  // half the cap's length, pixels
  const double cx = x.map(p.x), cy = y.map(p.y);
  auto line = [&](double x1, double y1, double x2, double y2) {
    o << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\""
      << num(y2) << "\"/>";
  };
  o << "<g class=\"error-bars\" stroke=\"" << color << "\" stroke-width=\"1.2\">";
  if (p.x_error > 0) {
    const double left = x.map(p.x - p.x_error), right = x.map(p.x + p.x_error);
    o << "<g class=\"x-error\" data-value=\"" << p.x_error << "\">";
    line(left, cy, right, cy);
    line(left, cy - kCap, left, cy + kCap);
    line(right, cy - kCap, right, cy + kCap);
    o << "</g>";
  }
  if (p.y_error > 0) {
    const double low = y.map(p.y - p.y_error), high = y.map(p.y + p.y_error);
    o << "<g class=\"y-error\" data-value=\"" << p.y_error << "\">";
    line(cx, low, cx, high);
    line(cx - kCap, low, cx + kCap, low);
    line(cx - kCap, high, cx + kCap, high);
    o << "</g>";
  }
  o << "</g>\n";
}

}  // namespace

std::string xml_escape(const std::string& raw) {
  const std::string text = common::to_valid_utf8(raw);  // XML is UTF-8 here: invalid bytes become U+FFFD
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t') {
          out += ' ';
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / std::max(1, target);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  double first = std::floor(lo / step) * step;
  // From the last tick at or below lo to the first tick at or above hi.
  for (double t = first;; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    if (t >= hi - step * 1e-9 || ticks.size() > 100) break;
  }
  return ticks;
}

std::string format_tick(double value) {
  double a = std::fabs(value);
  char buf[32];
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  const char* suffix = "";
  double scaled = value;
  if (a >= 1e9) {
    scaled = value / 1e9;
    suffix = "G";
  } else if (a >= 1e6) {
    scaled = value / 1e6;
    suffix = "M";
  } else if (a >= 1e4) {
    scaled = value / 1e3;
    suffix = "k";
  }
  std::snprintf(buf, sizeof buf, "%.3f", scaled);
  return trim(buf) + suffix;
}

std::string series_color(const std::string& name) {
  static const std::pair<const char*, const char*> fixed[] = {
      {"nce", "#d62728"},      {"tas", "#1f77b4"},    {"wrpn", "#2ca02c"},  {"random", "#7f7f7f"},
      {"original", "#000000"}, {"before", "#9ecae1"}, {"after", "#d62728"}, {"sweep", "#9467bd"},
  };
  for (const auto& [n, c] : fixed) {
    if (name == n) return c;
  }
  static const char* palette[] = {"#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                  "#17becf", "#bcbd22", "#1f77b4", "#2ca02c"};
  return palette[std::hash<std::string>{}(name) % 8];
}

std::string indexed_color(std::size_t k) {
  static const char* colors[] = {"#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                 "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#1f77b4"};
  return colors[k % 10];
}

std::string render_scatter_svg(const ScatterChart& chart) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : chart.series) {
    for (const auto& p : s.points) {
      xmin = std::min(xmin, p.x - p.x_error);
      xmax = std::max(xmax, p.x + p.x_error);
      ymin = std::min(ymin, p.y - p.y_error);
      ymax = std::max(ymax, p.y + p.y_error);
    }
  }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  Axis x, y;
  x.pixel_lo = kMarginLeft;
  x.pixel_hi = chart.width - kMarginRight;
  y.pixel_lo = chart.height - kMarginBottom;
  y.pixel_hi = kMarginTop;
  auto xticks = fit_axis(xmin, xmax, x);
  auto yticks = fit_axis(ymin, ymax, y);

  std::ostringstream o;
  header(o, chart.width, chart.height, chart.title);
  axes(o, x, y, xticks, yticks, chart.x_label, chart.y_label, true);

  if (!chart.front.empty()) {
    std::vector<ChartPoint> front = chart.front;
    std::sort(front.begin(), front.end(),
              [](const ChartPoint& a, const ChartPoint& b) { return a.x < b.x; });
    o << "<g class=\"pareto-front\" fill=\"none\" stroke=\"#444\">\n<polyline "
         "stroke-dasharray=\"5,4\" stroke-width=\"1.2\" points=\"";
    for (size_t i = 0; i < front.size(); ++i) {
      if (i > 0) o << num(x.map(front[i].x)) << "," << num(y.map(front[i - 1].y)) << " ";
      o << num(x.map(front[i].x)) << "," << num(y.map(front[i].y)) << " ";
    }
    o << "\"/>\n";
    for (const auto& p : front) {
      o << "<circle cx=\"" << num(x.map(p.x)) << "\" cy=\"" << num(y.map(p.y))
        << "\" r=\"7\" stroke-width=\"1.5\"/>\n";
    }
    o << "</g>\n";
  }

  for (size_t si = 0; si < chart.series.size(); ++si) {
    const auto& s = chart.series[si];
    std::string color = series_color(s.name);
    std::string shape = kMarkerShapes[si % 4];
    o << "<g class=\"series\" data-name=\"" << xml_escape(s.name) << "\">\n";
    if (s.connect && s.points.size() > 1) {
      std::vector<ChartPoint> sorted = s.points;
      std::sort(sorted.begin(), sorted.end(),
                [](const ChartPoint& a, const ChartPoint& b) { return a.x < b.x; });
      o << "<polyline fill=\"none\" stroke=\"" << color
        << "\" stroke-width=\"1.2\" stroke-opacity=\"0.7\" points=\"";
      for (const auto& p : sorted) o << num(x.map(p.x)) << "," << num(y.map(p.y)) << " ";
      o << "\"/>\n";
    }
    for (const auto& p : s.points) {
      if (p.x_error > 0 || p.y_error > 0) error_bars(o, x, y, p, color);
      o << marker(shape, x.map(p.x), y.map(p.y), 4, color, p.label) << "\n";
    }
    o << "</g>\n";
  }

  o << "<g class=\"legend\">\n";
  double lx = chart.width - kMarginRight + 16;
  double ly = kMarginTop + 10;
  for (size_t si = 0; si < chart.series.size(); ++si) {
    const auto& s = chart.series[si];
    o << marker(kMarkerShapes[si % 4], lx + 6, ly, 4, series_color(s.name), "") << "\n";
    const std::string legend =
        s.legend.empty() ? s.name + " (" + std::to_string(s.points.size()) + ")" : s.legend;
    o << "<text x=\"" << num(lx + 18) << "\" y=\"" << num(ly + 4) << "\">" << xml_escape(legend)
      << "</text>\n";
    ly += 20;
  }
  if (!chart.front.empty()) {
    o << "<circle cx=\"" << num(lx + 6) << "\" cy=\"" << num(ly)
      << "\" r=\"7\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.5\"/>\n";
    o << "<text x=\"" << num(lx + 18) << "\" y=\"" << num(ly + 4) << "\">"
      << xml_escape(chart.front_label) << "</text>\n";
  }
  o << "</g>\n</svg>\n";
  return o.str();
}

std::string render_bar_svg(const BarChart& chart) {
  double ymax = 0;
  for (const auto& s : chart.series) {
    for (double v : s.values) ymax = std::max(ymax, v);
  }
  Axis x, y;
  x.pixel_lo = kMarginLeft;
  x.pixel_hi = chart.width - kMarginRight;
  y.pixel_lo = chart.height - kMarginBottom - 40;  // room for rotated category labels
  y.pixel_hi = kMarginTop;
  auto yticks = nice_ticks(0, ymax > 0 ? ymax * 1.02 : 1);
  y.lo = 0;
  y.hi = std::max(yticks.back(), ymax);
  std::ostringstream o;
  header(o, chart.width, chart.height, chart.title);
  axes(o, x, y, {}, yticks, "", chart.y_label, false);
  o << "<text class=\"x-label\" x=\"" << num((x.pixel_lo + x.pixel_hi) / 2) << "\" y=\""
    << chart.height - 6 << "\" text-anchor=\"middle\">" << xml_escape(chart.x_label) << "</text>\n";

  const double n = static_cast<double>(std::max<size_t>(1, chart.categories.size()));
  const double slot = (x.pixel_hi - x.pixel_lo) / n;
  const double group = slot * 0.8;
  const double bar = group / static_cast<double>(std::max<size_t>(1, chart.series.size()));
  o << "<g class=\"category-labels\" fill=\"#333\" font-size=\"10\">\n";
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    double cx = x.pixel_lo + slot * (static_cast<double>(c) + 0.5);
    o << "<text transform=\"translate(" << num(cx + 3) << "," << num(y.pixel_lo + 8)
      << ") rotate(60)\">" << xml_escape(chart.categories[c]) << "</text>\n";
  }
  o << "</g>\n";
  for (size_t si = 0; si < chart.series.size(); ++si) {
    const auto& s = chart.series[si];
    o << "<g class=\"series\" data-name=\"" << xml_escape(s.name) << "\" fill=\""
      << (s.color.empty() ? series_color(s.name) : s.color) << "\">\n";
    for (size_t c = 0; c < s.values.size() && c < chart.categories.size(); ++c) {
      double left = x.pixel_lo + slot * static_cast<double>(c) + (slot - group) / 2 +
                    bar * static_cast<double>(si);
      double top = y.map(s.values[c]);
      o << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(bar * 0.92)
        << "\" height=\"" << num(y.pixel_lo - top) << "\"><title>"
        << xml_escape(chart.categories[c] + " " + s.name + ": " + format_tick(s.values[c]))
        << "</title></rect>\n";
    }
    o << "</g>\n";
  }
  o << "<g class=\"legend\">\n";
  double lx = chart.width - kMarginRight + 16;
  double ly = kMarginTop + 10;
  for (const auto& s : chart.series) {
    o << "<rect x=\"" << num(lx) << "\" y=\"" << num(ly - 6) << "\" width=\"12\" height=\"12\" "
      << "fill=\"" << (s.color.empty() ? series_color(s.name) : s.color) << "\"/>\n<text x=\""
      << num(lx + 18) << "\" y=\"" << num(ly + 4) << "\">" << xml_escape(s.name) << "</text>\n";
    ly += 20;
  }
  o << "</g>\n</svg>\n";
  return o.str();
}

}  // namespace nce::results
