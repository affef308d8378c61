#include "train_report.h"

#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli_util.h"
#include "interrupt.h"
#include "nce/common/json.h"
#include "nce/models/network.h"

namespace nce::app {

TrainProgress::TrainProgress(std::ostream& out, bool quiet)
    : out_(out), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

void TrainProgress::on_start(const nn::TrainConfig& c, const models::Network& d, int start_epoch) {
  if (quiet_) return;
  out_ << "train " << c.model << " " << models::format_widths(d.widths) << " on " << c.dataset
       << " (" << d.input.channels << "x" << d.input.height << "x" << d.input.width << "), W"
       << c.network.weight_bits << "A" << c.network.activation_bits << " "
       << nn::to_string(c.network.quantizer) << ", " << c.epochs << " epochs, batch "
       << c.batch_size << ", " << c.optimizer << " lr " << c.lr << ", " << omp_get_max_threads()
       << " threads";
  if (start_epoch > 0) out_ << ", resuming after epoch " << start_epoch;
  out_ << "\n";
}

void TrainProgress::on_batch(int epoch, int batch, int num_batches, double running_loss) {
  throw_if_interrupted();
  if (quiet_ || !tty_) return;
  if (batch % 10 == 0 || batch == num_batches) {
    std::fprintf(stderr, "\r  epoch %d: batch %d/%d  loss %.4f ", epoch, batch, num_batches,
                 running_loss);
    std::fflush(stderr);
  }
}

void TrainProgress::on_epoch(const nn::EpochStats& e, int epochs, double eta) {
  if (!quiet_) {
    if (tty_) std::fprintf(stderr, "\r%60s\r", "");
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch %3d/%d  loss %.4f  train %6.2f%%  lr %.5f  %7.1f img/s  %s", e.epoch,
                  epochs, e.loss, e.top1, e.lr, e.images_per_s, format_duration(e.seconds).c_str());
    out_ << line;
    if (!std::isnan(e.test_top1)) {
      std::snprintf(line, sizeof line, "  test %6.2f%% (top-5 %6.2f%%)", e.test_top1, e.test_top5);
      out_ << line;
    }
    out_ << "  ETA " << format_duration(eta) << std::endl;
  }
}

void TrainProgress::print_result(const nn::TrainConfig& c, const nn::TrainResult& r) {
  if (quiet_) return;
  if (r.stopped_early) {
    out_ << "stopped after epoch " << r.history.size() << " of " << c.epochs;
    if (!c.checkpoint_path.empty()) out_ << "; continue with --resume";
    out_ << "\n";
  } else {
    char line[160];
    std::snprintf(line, sizeof line, "test: top-1 %.2f%%  top-5 %.2f%%  loss %.4f  (%d images)\n",
                  r.test.top1, r.test.top5, r.test.loss, r.test.images);
    out_ << line;
  }
}

std::string train_summary_json(const nn::TrainConfig& c, const std::string& config_json,
                               const nn::DatasetPair& data, const nn::TrainResult& r) {
  std::ostringstream out;
  common::JsonWriter j(out, true);
  j.begin_object();
  j.members("what", "train", "model", c.model, "dataset", c.dataset, "widths", r.widths,
            "weight_bits", c.network.weight_bits, "activation_bits", c.network.activation_bits,
            "quantizer", nn::to_string(c.network.quantizer), "macs",
            static_cast<std::int64_t>(r.macs), "trainable_parameters",
            static_cast<std::int64_t>(r.parameters), "train_images", data.train.size(),
            "test_images", data.test.size(), "resumed_from_epoch", r.resumed_from, "stopped_early",
            r.stopped_early, "seconds", r.seconds);
  j.key("config").raw(config_json);
  j.key("epochs").begin_array();
  double ips_sum = 0.0;
  for (const auto& e : r.history) {
    ips_sum += e.images_per_s;
    j.begin_object();
    j.members("epoch", e.epoch, "loss", e.loss, "top1", e.top1, "lr", e.lr, "seconds", e.seconds,
              "images_per_s", e.images_per_s, "test_loss", e.test_loss, "test_top1", e.test_top1,
              "test_top5", e.test_top5);
    j.end_object();
  }
  j.end_array();
  j.key("images_per_s").value(r.history.empty() ? 0.0 : ips_sum / r.history.size());
  j.key("test").begin_object();
  if (r.test.images > 0) {
    j.members("loss", r.test.loss, "top1", r.test.top1, "top5", r.test.top5);
  }
  j.key("images").value(r.test.images);
  j.end_object();
  j.end_object();
  out << "\n";
  return out.str();
}

}  // namespace nce::app
