#include "nce/deploy/infer.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace nce::deploy {

InferResult infer_dataset(IntEngine& engine, const nn::Dataset& data, int batch,
                          const std::string& model_source) {
  const IntModel& m = engine.model();
  if (data.channels != m.input_channels() || data.height != m.input_height() ||
      data.width != m.input_width())
    throw std::invalid_argument(
        data.source + ": images are " + std::to_string(data.channels) + "x" +
        std::to_string(data.height) + "x" + std::to_string(data.width) + ", the model " +
        model_source + " wants " + std::to_string(m.input_channels()) + "x" +
        std::to_string(m.input_height()) + "x" + std::to_string(m.input_width()));
  if (data.num_classes != m.classes())
    throw std::invalid_argument(model_source + ": the model has " + std::to_string(m.classes()) +
                                " classes, the data set " + data.source + " has " +
                                std::to_string(data.num_classes));
  if (batch < 1) throw std::invalid_argument("infer: batch must be >= 1");
  InferResult r;
  r.kernel = to_string(engine.kernel());
  r.images = data.size();
  r.predictions.resize(static_cast<std::size_t>(data.size()));
  IntLogits logits;
  int hit1 = 0, hit5 = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i0 = 0; i0 < data.size(); i0 += batch) {
    const int n = std::min(batch, data.size() - i0);
    engine.run(data.image(i0), n, logits);
    for (int i = 0; i < n; ++i) {
      const std::int64_t* row = logits.values.data() + static_cast<std::size_t>(i) * logits.classes;
      const int rank =
          label_rank(row, logits.classes, data.labels[static_cast<std::size_t>(i0 + i)]);
      hit1 += rank < 1;
      hit5 += rank < 5;
      r.predictions[static_cast<std::size_t>(i0 + i)] = argmax(row, logits.classes);
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.images > 0) {
    r.top1 = 100.0 * hit1 / r.images;
    r.top5 = 100.0 * hit5 / r.images;
  }
  return r;
}

InferResult run_infer(const InferConfig& config) {
  if (config.model.empty()) throw std::invalid_argument("infer: --model is required");
  if (config.subset < 0) throw std::invalid_argument("infer: --subset must be >= 0");
  const KernelKind kernel = parse_kernel(config.engine);
  const IntModel model = read_int_model(config.model);
  const std::string dataset = config.dataset.empty() ? model.dataset : config.dataset;
  nn::DatasetPair data = nn::load_dataset(dataset, config.data_dir);
  if (config.subset > 0) data.test = nn::subset_per_class(data.test, config.subset);
  IntEngine engine(model, kernel);
  InferResult r = infer_dataset(engine, data.test, config.batch, config.model);
  if (!config.compare_checkpoint.empty()) {
    r.agreement = compare_with_trainer(model, r.predictions, config.compare_checkpoint, data.test,
                                       config.batch);
    r.compared = true;
  }
  return r;
}

}  // namespace nce::deploy
