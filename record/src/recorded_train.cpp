#include "nce/record/recorded_train.h"

#include <cmath>
#include <memory>
#include <optional>
#include <sstream>

#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/record/recorded_search.h"
#include "run_end.h"

namespace nce::record {

results::RunInfo train_run_info(const nn::TrainConfig& c, const std::string& config_json,
                                const std::string& git_commit) {
  results::RunInfo info;
  info.method = "train";
  info.model = c.model;
  info.dataset = c.dataset;
  info.bits = c.network.weight_bits == c.network.activation_bits ? c.network.weight_bits : 0;
  info.config_json = config_json;
  info.git_commit = git_commit;
  info.seed = c.seed;
  if (!c.checkpoint_path.empty()) info.resume_key = "train " + absolute_path(c.checkpoint_path);
  return info;
}

void TrainRecorder::on_epoch(const nn::EpochStats& e, int, double) {
  results::EpochRecord r;
  r.epoch = e.epoch;
  r.phase = "train";
  r.loss = e.loss;
  r.top1 = e.top1;
  if (!std::isnan(e.test_top1)) r.test_top1 = e.test_top1;
  r.seconds = e.seconds;
  std::ostringstream extra;
  common::JsonWriter j(extra);
  j.begin_object().key("lr").value(e.lr).key("images_per_s").value(e.images_per_s);
  if (!std::isnan(e.test_top5)) j.key("test_top5").value(e.test_top5);
  j.end_object();
  r.extra_json = extra.str();
  run_.epoch(r);
}

void TrainRecorder::record_result(const nn::TrainConfig& c, const nn::DatasetPair& data,
                                  const nn::TrainResult& r) {
  if (!r.stopped_early) {
    const models::Network d = models::build(
        c.model, r.widths,
        {data.train.channels, data.train.height, data.train.width, data.train.num_classes});
    results::CandidateRecord cand;
    cand.epoch = c.epochs;
    cand.phase = "final";
    cand.widths = r.widths;
    cand.macs = d.macs();
    cand.params = d.params();
    cand.top1 = r.test.top1;
    run_.candidate(cand);
    run_.finish(results::RunStatus::kFinished, r.test.top1);
  } else {
    run_.finish(results::RunStatus::kInterrupted);
  }
}

nn::TrainResult run_recorded_training(const nn::TrainConfig& config, const nn::DatasetPair& data,
                                      results::ResultSink* sink, const results::RunInfo& info,
                                      nn::TrainObserver* printer) {
  std::optional<results::RunScope> run;
  if (sink) run.emplace(*sink, info, config.resume);
  std::optional<TrainRecorder> recorder;
  if (run) recorder.emplace(*run);
  TrainObservers observers;
  observers.add(printer);
  observers.add(recorder ? &*recorder : nullptr);
  const nn::TrainResult result = end_run_on_throw(
      run ? &*run : nullptr, [&] { return nn::train(config, data.train, data.test, &observers); });
  if (recorder) recorder->record_result(config, data, result);
  return result;
}

}  // namespace nce::record
