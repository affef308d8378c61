// nce search's output: the progress lines (printing only; recording is
// campaign::RecordingObserver's), the comparison table, the analysis files (Fig. 1 and Fig. 4
// data) and the JSON summary.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "cli_util.h"
#include "interrupt.h"
#include "nce/models/network.h"
#include "nce/search/search_run.h"

namespace nce::app {

// 1.23M, 45.6k, ...; "-" for a negative (unknown) value.
std::string si(double v);

// Prints the search's progress (recording is campaign::RecordingObserver's); a SIGINT/SIGTERM
// ends the search at the next batch or phase (throw_if_interrupted), where the last epoch's
// checkpoint is complete.
class SearchProgress : public search::SearchObserver {
 public:
  SearchProgress(std::ostream& out, bool quiet)
      : out_(out), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

  void on_phase(const std::string& what) override {
    throw_if_interrupted();
    if (!quiet_) out_ << "== " << what << std::endl;
  }
  void on_retrain_batch(int, int, int) override { throw_if_interrupted(); }
  void on_batch(int epoch, int batch, int num_batches) override {
    throw_if_interrupted();
    if (quiet_ || !tty_) return;
    if (batch % 5 == 0 || batch == num_batches) {
      std::fprintf(stderr, "\r  epoch %d: batch %d/%d ", epoch, batch, num_batches);
      std::fflush(stderr);
    }
  }
  void on_epoch(const search::SearchEpoch& e, int epochs) override {
    elapsed_ += e.seconds;
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r%40s\r", "");
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch %3d/%d %-6s tau %.2f  lr %.4f  loss %.4f  train %6.2f%%", e.epoch, epochs,
                  e.phase.c_str(), e.tau, e.lr, e.loss, e.top1);
    out_ << line;
    if (e.phase == "search") {
      std::snprintf(line, sizeof line, "  arch-loss %.4f", e.arch_loss);
      out_ << line;
    }
    const double eta = elapsed_ / e.epoch * (epochs - e.epoch);
    out_ << "  " << format_duration(e.seconds) << "  ETA " << format_duration(eta);
    if (!e.expanded.empty()) out_ << "  expanded " << e.expanded.size() << " layer(s)";
    out_ << std::endl;
  }
  void on_candidate(const search::Candidate& c) override {
    if (quiet_ || c.phase != "search") return;
    out_ << "  derived " << models::format_widths(c.widths) << "  MACs " << si(c.macs)
         << "  PARAMs " << si(c.params);
    if (c.latency_cycles >= 0) out_ << "  cycles " << si(c.latency_cycles);
    out_ << std::endl;
  }
  void on_retrain_epoch(const std::string&, const std::vector<int>&, const nn::EpochStats& e,
                        int epochs) override {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r%40s\r", "");
    char line[200];
    std::snprintf(line, sizeof line, "  retrain %3d/%d  loss %.4f  train %6.2f%%", e.epoch, epochs,
                  e.loss, e.top1);
    out_ << line;
    if (std::isfinite(e.test_top1)) {
      std::snprintf(line, sizeof line, "  test %6.2f%%", e.test_top1);
      out_ << line;
    }
    std::snprintf(line, sizeof line, "  %7.1f img/s  %s", e.images_per_s,
                  format_duration(e.seconds).c_str());
    out_ << line << std::endl;
  }

 private:
  std::ostream& out_;
  bool quiet_;
  bool tty_;
  double elapsed_ = 0;
};

// The final network beside the original (trained with the same budget when given), with ratios.
void print_comparison(std::ostream& out, const search::SearchResult& r,
                      const search::Candidate* original_trained, int bits,
                      const std::string& hw_name);
// alpha.csv, kendall.csv and, after an activation analysis, activations.csv and two SVG charts.
void write_analysis(const std::string& dir, const search::SearchResult& r);
// The activation analysis as a table: per layer, STDEV and SQNR of each profiled network.
void print_activation_table(std::ostream& out, const search::SearchResult& r);
// The --json summary (path "-" = stdout).
void write_search_json(const std::string& path, const search::SearchResult& result,
                       const search::Candidate& original, const std::string& config_json);

}  // namespace nce::app
