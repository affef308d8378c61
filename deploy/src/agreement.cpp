// compare_with_trainer (infer.h): the integer engine's predictions against the trainer's eval of
// the checkpoint, and for each image where they part, why: a float tie in an intermediate PACT
// rounding, a float tie in the logits, or something else.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "nce/deploy/infer.h"
#include "nce/nn/checkpoint.h"
#include "nce/nn/trainer.h"

namespace nce::deploy {
namespace {

// Where the float network's codes first part from the engine's for one image, walking the PACT
// activations in forward order: Cause::kCodeTie when every differing code there is one level off
// and the float value sat within kCodeTieDistance of the rounding boundary; kOther when one is
// not; kNone when all codes agree (the difference is in the head).
enum class Cause { kNone, kCodeTie, kOther };

// The float network's activation names -> the integer model's values they stand for.
std::map<std::string, int> values_by_activation_name(const IntModel& model) {
  std::map<std::string, int> value_of;
  for (const Op& op : model.ops) {
    if (op.kind == OpKind::kConv) value_of[op.conv.name] = op.conv.output;
    if (op.kind == OpKind::kAdd) {
      const std::string& n = op.add.name;  // "<block>.add"; the float network says "<block>.out"
      value_of[n.substr(0, n.size() - 4) + ".out"] = op.add.output;
    }
  }
  return value_of;
}

// value_of: values_by_activation_name(model).
Cause first_code_difference(nn::Network& net, const IntModel& model,
                            const std::map<std::string, int>& value_of, IntEngine& engine,
                            const nn::Tensor& image, const std::uint8_t* pixels) {
  std::vector<std::vector<std::uint8_t>> codes;
  engine.trace(pixels, codes);
  Cause cause = Cause::kNone;
  net.visit_activation_inputs(image, [&](const std::string& name, const nn::Tensor& x,
                                         const nn::ActParams& act) {
    if (cause != Cause::kNone || act.kind != nn::ActParams::Kind::kPact || act.bits >= 32) return;
    auto it = value_of.find(name);
    if (it == value_of.end()) return;
    const ValueInfo& vi = model.values[static_cast<std::size_t>(it->second)];
    const std::vector<std::uint8_t>& ic = codes[static_cast<std::size_t>(it->second)];
    const int C = x.c(), plane = x.plane();
    if (vi.kind != ValueKind::kCodes || vi.channels != C || vi.height * vi.width != plane) return;
    const double levels = std::ldexp(1.0, act.bits) - 1.0;
    bool differs = false, all_ties = true;
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < plane; ++p) {
        const double t = std::clamp(static_cast<double>(x[static_cast<std::size_t>(c) * plane + p]),
                                    0.0, static_cast<double>(act.clip)) *
                         levels / act.clip;
        const int fc = static_cast<int>(std::lround(t));
        const int icode = ic[static_cast<std::size_t>(p) * C + c];
        if (fc == icode) continue;
        differs = true;
        all_ties = all_ties && std::abs(fc - icode) == 1 &&
                   std::fabs(t - std::floor(t) - 0.5) < kCodeTieDistance;
      }
    if (differs) cause = all_ties ? Cause::kCodeTie : Cause::kOther;
  });
  return cause;
}

}  // namespace

Agreement compare_with_trainer(const IntModel& model, const std::vector<int>& predictions,
                               const std::string& checkpoint_path, const nn::Dataset& data,
                               int batch) {
  const nn::Checkpoint ck = nn::read_checkpoint(checkpoint_path);
  const nn::Normalization norm{model.norm_mean, model.norm_stddev};
  auto net = nn::network_from_checkpoint(ck, checkpoint_path, norm);
  const nn::NetworkOptions& o = net->options();
  if (ck.model != model.model || net->description().widths != model.widths ||
      o.weight_bits != model.weight_bits || o.activation_bits != model.activation_bits ||
      nn::to_string(o.quantizer) != model.quantizer)
    throw std::runtime_error(checkpoint_path + ": not the network of the integer model (" +
                             ck.model + " W" + std::to_string(o.weight_bits) + "A" +
                             std::to_string(o.activation_bits) + " " + nn::to_string(o.quantizer) +
                             " against " + model.model + " W" + std::to_string(model.weight_bits) +
                             "A" + std::to_string(model.activation_bits) + " " + model.quantizer +
                             ", or other widths)");
  if (static_cast<int>(predictions.size()) != data.size())
    throw std::invalid_argument("compare_with_trainer: one prediction per image");
  IntEngine engine(model, KernelKind::kPortable);
  nn::Batcher batcher(data, norm, nn::BatchOptions{batch, false, false, 0, false});
  std::mt19937_64 unused(0);
  batcher.start_epoch(unused);
  nn::Tensor images, one;
  std::vector<int> labels;
  Agreement a;
  int hits = 0, top5_hits = 0;
  const std::map<std::string, int> value_of = values_by_activation_name(model);
  while (batcher.next(images, labels)) {
    const int first = a.images;
    std::vector<int> apart;  // in this batch
    {
      const nn::Tensor& logits = net->forward(images, nn::Mode::kEval);
      const int classes = logits.c();
      for (int i = 0; i < images.n(); ++i, ++a.images) {
        const float* f = logits.data() + static_cast<std::size_t>(i) * classes;
        const int label = labels[static_cast<std::size_t>(i)];
        int best = 0;
        for (int j = 0; j < classes; ++j)
          if (f[j] > f[best]) best = j;
        nn::count_hits(f, classes, label, &hits, &top5_hits);
        const int p = predictions[static_cast<std::size_t>(a.images)];
        if (p == best) {
          ++a.equal;
        } else if (p >= 0 && p < classes &&
                   std::fabs(f[best] - f[p]) <= kTieLogitGap * (1.0 + std::fabs(f[best]))) {
          ++a.logit_ties;
        } else {
          apart.push_back(i);
        }
        if (p != best && a.disagreeing.size() < 20) a.disagreeing.push_back(a.images);
      }
    }
    const std::size_t image_floats = images.size() / static_cast<std::size_t>(images.n());
    for (int i : apart) {
      one.resize(1, images.c(), images.h(), images.w());
      std::copy(images.data() + i * image_floats, images.data() + (i + 1) * image_floats,
                one.data());
      const Cause c =
          first_code_difference(*net, model, value_of, engine, one, data.image(first + i));
      if (c == Cause::kCodeTie) {
        ++a.code_ties;
      } else {
        ++a.other;
      }
    }
  }
  if (a.images > 0) a.float_top1 = 100.0 * hits / a.images;
  return a;
}

}  // namespace nce::deploy
