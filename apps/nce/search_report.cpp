#include "search_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "nce/common/json.h"
#include "nce/results/svg_chart.h"

namespace nce::app {

std::string si(double v) {
  char buf[32];
  if (v < 0) return "-";
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.3fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

void print_comparison(std::ostream& out, const search::SearchResult& r,
                      const search::Candidate* original_trained, int bits,
                      const std::string& hw_name) {
  out << "\nresult (W" << bits << "A" << bits;
  if (!hw_name.empty()) out << ", hw " << hw_name;
  out << ")\n";
  out << std::left << std::setw(10) << "network" << std::right << std::setw(9) << "top-1"
      << std::setw(10) << "MACs" << std::setw(10) << "PARAMs" << std::setw(10) << "cycles"
      << std::setw(12) << "energy"
      << "  widths\n";
  auto row = [&](const std::string& name, const search::Candidate& c) {
    char top1[32];
    if (c.top1 >= 0) {
      std::snprintf(top1, sizeof top1, "%.2f%%", c.top1);
    } else {
      std::snprintf(top1, sizeof top1, "-");
    }
    out << std::left << std::setw(10) << name << std::right << std::setw(9) << top1 << std::setw(10)
        << si(c.macs) << std::setw(10) << si(c.params) << std::setw(10) << si(c.latency_cycles)
        << std::setw(12) << (c.energy_pj >= 0 ? si(c.energy_pj * 1e-6) + "uJ" : std::string("-"))
        << "  " << models::format_widths(c.widths) << "\n";
  };
  row("original", original_trained ? *original_trained : r.original);
  row(r.final.method == "original" ? "original" : r.final.method, r.final);
  auto ratio = [](double a, double b) { return b > 0 && a >= 0 ? a / b : -1.0; };
  const search::Candidate& base = original_trained ? *original_trained : r.original;
  char line[200];
  std::snprintf(line, sizeof line, "%s / original: MACs x%.3f, PARAMs x%.3f",
                r.final.method.c_str(), ratio(r.final.macs, base.macs),
                ratio(r.final.params, base.params));
  out << line;
  if (r.final.latency_cycles >= 0) {
    std::snprintf(line, sizeof line, ", cycles x%.3f, energy x%.3f",
                  ratio(r.final.latency_cycles, base.latency_cycles),
                  ratio(r.final.energy_pj, base.energy_pj));
    out << line;
  }
  if (r.final.top1 >= 0 && base.top1 >= 0) {
    std::snprintf(line, sizeof line, ", top-1 %+.2f points", r.final.top1 - base.top1);
    out << line;
  }
  out << "\n";
}

void write_analysis(const std::string& dir, const search::SearchResult& r) {
  ::mkdir(dir.c_str(), 0755);
  std::ostringstream alpha, kendall;
  alpha << "epoch,phase,width_index,candidate,probability,ce_alpha_grad\n";
  kendall << "epoch,width_index,kendall_tau\n";
  for (const auto& e : r.epochs) {
    for (size_t w = 0; w < e.probabilities.size(); ++w) {
      for (size_t i = 0; i < e.probabilities[w].size(); ++i) {
        alpha << e.epoch << "," << e.phase << "," << w + 1 << "," << i << ","
              << e.probabilities[w][i] << "," << e.ce_alpha_grad[w][i] << "\n";
      }
      if (e.phase == "search") kendall << e.epoch << "," << w + 1 << "," << e.kendall[w] << "\n";
    }
  }
  write_text_file(dir + "/alpha.csv", alpha.str());
  write_text_file(dir + "/kendall.csv", kendall.str());
  if (r.activations.empty()) return;
  std::ostringstream act;
  act << "network,method,bits,top1,layer_index,layer,channels,mean,stdev,out_stdev,act_bits,clip,"
         "sqnr_db,sqnr_reference\n";
  for (const auto& p : r.activations) {
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const nn::ActivationStats& a = p.layers[i];
      act << p.network << "," << p.method << "," << p.bits << "," << p.top1 << "," << i + 1 << ","
          << a.name << "," << a.channels << "," << a.mean << "," << a.stdev << "," << a.out_stdev
          << "," << a.bits << "," << a.clip << ","
          << (std::isfinite(a.sqnr_db) ? std::to_string(a.sqnr_db) : std::string("inf")) << ","
          << (a.reference ? 1 : 0) << "\n";
    }
  }
  write_text_file(dir + "/activations.csv", act.str());
  // Fig. 1 as two grouped bar charts: per layer, one bar per network.
  for (const bool sqnr : {false, true}) {
    results::BarChart chart;
    chart.title = sqnr ? "Activation SQNR per layer (dB; ReLU layers: best " +
                             std::to_string(r.activations.back().bits) + "-bit clip)"
                       : "Activation STDEV per layer (input of the ReLU/PACT)";
    chart.x_label = "layer";
    chart.y_label = sqnr ? "SQNR (dB)" : "STDEV";
    for (const auto& a : r.activations.front().layers) chart.categories.push_back(a.name);
    for (const auto& p : r.activations) {
      results::BarSeries series{p.network, {}};
      for (const auto& a : p.layers) {
        series.values.push_back(sqnr ? (std::isfinite(a.sqnr_db) ? a.sqnr_db : 99.0) : a.stdev);
      }
      series.values.resize(chart.categories.size(), 0.0);
      chart.series.push_back(std::move(series));
    }
    chart.width = std::max(900, 60 * static_cast<int>(chart.categories.size()));
    write_text_file(dir + (sqnr ? "/activations_sqnr.svg" : "/activations_stdev.svg"),
                    results::render_bar_svg(chart));
  }
}

void print_activation_table(std::ostream& out, const search::SearchResult& r) {
  if (r.activations.empty()) return;
  out << "activations (Fig. 1; " << r.activations.front().layers.size()
      << " layers): STDEV of the pre-activation / SQNR in dB (* = hypothetical "
      << "quantizer on a ReLU)\n";
  out << std::left << std::setw(14) << "layer";
  for (const auto& p : r.activations) out << std::right << std::setw(24) << p.network;
  out << "\n";
  for (size_t i = 0; i < r.activations.front().layers.size(); ++i) {
    out << std::left << std::setw(14) << r.activations.front().layers[i].name;
    for (const auto& p : r.activations) {
      if (i >= p.layers.size()) continue;
      const nn::ActivationStats& a = p.layers[i];
      char cell[64];
      std::snprintf(cell, sizeof cell, "%3d ch %6.3f / %5.1f%s", a.channels, a.stdev, a.sqnr_db,
                    a.reference ? "*" : " ");
      out << std::right << std::setw(24) << cell;
    }
    out << "\n";
  }
}

void write_search_json(const std::string& path, const search::SearchResult& result,
                       const search::Candidate& original, const std::string& config_json) {
  std::ostringstream out;
  common::JsonWriter j(out, true);
  auto cand = [&](const search::Candidate& k) {
    j.begin_object();
    j.key("method").value(k.method).key("widths").value(k.widths);
    j.key("macs").value(k.macs).key("params").value(k.params);
    if (k.latency_cycles >= 0) j.key("latency_cycles").value(k.latency_cycles);
    if (k.energy_pj >= 0) j.key("energy_pj").value(k.energy_pj);
    if (k.top1 >= 0) j.key("top1").value(k.top1);
    j.end_object();
  };
  j.begin_object();
  j.key("what").value("search");
  j.key("config").raw(config_json);
  j.key("final");
  cand(result.final);
  j.key("original");
  cand(original);
  j.key("candidates").begin_array();
  for (const auto& k : result.candidates) cand(k);
  j.end_array();
  if (!result.activations.empty()) {
    j.key("activations").begin_array();
    for (const auto& p : result.activations) {
      j.begin_object();
      j.key("network").value(p.network).key("method").value(p.method);
      j.key("bits").value(p.bits).key("widths").value(p.widths).key("top1").value(p.top1);
      j.key("layers").begin_array();
      for (const auto& a : p.layers) {
        j.begin_object();
        j.members("name", a.name, "channels", a.channels, "stdev", a.stdev, "out_stdev",
                  a.out_stdev, "act_bits", a.bits, "clip", a.clip);
        if (std::isfinite(a.sqnr_db)) j.key("sqnr_db").value(a.sqnr_db);
        j.key("sqnr_reference").value(a.reference);
        j.end_object();
      }
      j.end_array();
      j.end_object();
    }
    j.end_array();
  }
  j.key("seconds").value(result.seconds);
  j.end_object();
  out << "\n";
  write_text_file(path, out.str());
}

}  // namespace nce::app
