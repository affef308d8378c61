#include "nce/record/search_settings.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "nce/common/json.h"
#include "nce/models/network.h"
#include "nce/nn/quantizer.h"

namespace nce::record {
namespace {

using S = SearchSettings&;
using V = const SettingValue&;
constexpr double kNone = 0;
constexpr SettingType kText = SettingType::kText, kInt = SettingType::kInt,
                      kUnsigned = SettingType::kUnsigned, kReal = SettingType::kReal,
                      kSwitch = SettingType::kSwitch;
constexpr SettingScope kRun = SettingScope::kRun, kProtocol = SettingScope::kProtocol;

const std::vector<SettingKey> kKeys = {
    {"method", kText, kRun, "nce", kNone, kNone, false, "nce, tas, wrpn, random or none",
     [](S s, V v) { s.config.method = v.text; }},
    {"model", kText, kRun, "resnet20", kNone, kNone, false, "model (nce models list)",
     [](S s, V v) { s.config.model = v.text; }},
    {"dataset", kText, kRun, "fashion-mnist", kNone, kNone, false, "fashion-mnist or cifar10",
     [](S s, V v) { s.config.dataset = v.text; }},
    {"widths", kText, kProtocol, "", kNone, kNone, false,
     "base width vector (default: the model's)",
     [](S s, V v) { s.config.widths = models::parse_widths(v.text); }},
    {"base-multiplier", kReal, kProtocol, "1", kNone, kNone, false,
     "scale the base widths first (2 = the paper's \"2X TAS\")",
     [](S s, V v) { s.config.base_multiplier = v.number; }},
    {"bits", kInt, kProtocol, "2", 1, 32, false, "uniform weight/activation bits: 2, 3, 4, 8, 32",
     [](S s, V v) {
       s.config.supernet.weight_bits = s.config.supernet.activation_bits =
           static_cast<int>(v.number);
     }},
    {"quantizer", kText, kProtocol, "sawb", kNone, kNone, false, "weights: sawb, dorefa, lsq",
     [](S s, V v) { s.config.supernet.quantizer = nn::parse_quantizer(v.text); }},
    {"pact-init", kReal, kProtocol, "10", 0, kNone, true,
     "initial PACT clip (docs/algorithm.md: 10; about 3 keeps 2-bit Fashion-MNIST nets stable)",
     [](S s, V v) { s.config.supernet.pact_init_clip = static_cast<float>(v.number); }},
    {"lambda-flops", kReal, kProtocol, "2", kNone, kNone, false, "weight of the MACs term",
     [](S s, V v) { s.config.flops.lambda = v.number; }},
    {"lambda-params", kReal, kProtocol, "2", kNone, kNone, false, "weight of the PARAMs term",
     [](S s, V v) { s.config.params.lambda = v.number; }},
    {"lambda-latency", kReal, kProtocol, "0", kNone, kNone, false,
     "weight of the cycles term (needs --hw; a plan's [campaign] hw)",
     [](S s, V v) { s.config.latency.lambda = v.number; }},
    {"lambda-energy", kReal, kProtocol, "0", kNone, kNone, false,
     "weight of the energy term (needs --hw; a plan's [campaign] hw)",
     [](S s, V v) { s.config.energy.lambda = v.number; }},
    {"flops-target", kReal, kProtocol, "1", kNone, kNone, false,
     "MACs target, times the original's", [](S s, V v) { s.config.flops.target_ratio = v.number; }},
    {"params-target", kReal, kProtocol, "1", kNone, kNone, false,
     "PARAMs target, times the original's",
     [](S s, V v) { s.config.params.target_ratio = v.number; }},
    {"latency-target", kReal, kProtocol, "1", kNone, kNone, false,
     "cycles target, times the original's",
     [](S s, V v) { s.config.latency.target_ratio = v.number; }},
    {"energy-target", kReal, kProtocol, "1", kNone, kNone, false,
     "energy target, times the original's",
     [](S s, V v) { s.config.energy.target_ratio = v.number; }},
    {"warmup-epochs", kInt, kProtocol, "1", 0, 100000, false,
     "weight-only epochs, uniform sampling",
     [](S s, V v) { s.config.warmup_epochs = static_cast<int>(v.number); }},
    {"search-epochs", kInt, kProtocol, "2", 0, 100000, false, "bi-level search epochs",
     [](S s, V v) { s.config.search_epochs = static_cast<int>(v.number); }},
    {"retrain-epochs", kInt, kProtocol, "2", 1, 100000, false, "epochs to retrain the result",
     [](S s, V v) { s.config.retrain_epochs = static_cast<int>(v.number); }},
    {"retrain", kSwitch, kProtocol, "", kNone, kNone, false,
     "stop after the search: no retrain, no final top-1 (a pilot of the search's behaviour; "
     "a plan: retrain = no)",
     [](S s, V v) { s.config.retrain = v.on; }, "no-retrain", false},
    {"int8-full-precision", kSwitch, kProtocol, "", kNone, kNone, false,
     "retrain with the stem, 1x1 shortcuts and FC on the array's 8-bit rule (nce train "
     "--int8-full-precision), so that nce export + nce infer predict what the final top-1 counted",
     [](S s, V v) { s.config.retrain_int8_full_precision = v.on; }, "int8-full-precision", true},
    {"threshold", kReal, kProtocol, "0.3", kNone, kNone, false,
     "NCE expansion threshold T in (0,1)", [](S s, V v) { s.config.threshold = v.number; }},
    {"max-candidates", kInt, kProtocol, "16", 1, 1000, false, "NCE: candidates per layer, 8..16",
     [](S s, V v) { s.config.max_candidates = static_cast<int>(v.number); }},
    {"wrpn-multipliers", kText, kProtocol, "1,1.25,1.5,2", kNone, kNone, false,
     "WRPN width multipliers",
     [](S s, V v) { s.config.wrpn_multipliers = models::parse_multipliers(v.text); }},
    {"random-samples", kInt, kProtocol, "3", 1, 100000, false, "random search: vectors to retrain",
     [](S s, V v) { s.config.random_samples = static_cast<int>(v.number); }},
    {"batch", kInt, kProtocol, "128", 2, 1 << 20, false, "batch size",
     [](S s, V v) { s.config.batch_size = static_cast<int>(v.number); }},
    {"lr", kReal, kProtocol, "0.1", kNone, kNone, false, "weight learning rate (SGD, cosine)",
     [](S s, V v) { s.config.lr = v.number; }},
    {"arch-lr", kReal, kProtocol, "0.001", kNone, kNone, false, "alpha learning rate (Adam)",
     [](S s, V v) { s.config.arch_lr = v.number; }},
    {"subset", kInt, kRun, "0", 0, 1 << 30, false,
     "use the first N training images per class (0: all)",
     [](S s, V v) { s.subset = static_cast<int>(v.number); }},
    {"test-subset", kInt, kRun, "0", 0, 1 << 30, false,
     "use the first N test images per class (0: all)",
     [](S s, V v) { s.test_subset = static_cast<int>(v.number); }},
    {"max-batches", kInt, kProtocol, "0", 0, 1 << 30, false, "batches per epoch (0: all)",
     [](S s, V v) { s.config.max_batches = static_cast<int>(v.number); }},
    {"augment", kSwitch, kProtocol, "", kNone, kNone, false,
     "no crop/flip augmentation (the default for Fashion-MNIST; on for CIFAR-10; a plan: "
     "augment = yes|no)",
     [](S s, V v) { s.config.augment = v.on; }, "no-augment", false},
    {"tas-counting", kSwitch, kProtocol, "", kNone, kNone, false,
     "cost terms leave out the 1x1 shortcut a stride-1 block needs when its widths differ (TAS's "
     "counting; default: counted, as the derived network has it)",
     [](S s, V v) { s.config.count_width_shortcuts = !v.on; }, "tas-counting", true},
    {"seed", kUnsigned, kRun, "1", kNone, kNone, false, "random seed (a plan: seeds = 1, 2, ...)",
     [](S s, V v) { s.config.seed = v.whole; }},
    {"distill", kSwitch, kProtocol, "", kNone, kNone, false,
     "retrain with distillation from the original network (TAS: 0.1*CE + 0.9*T^2*KL, T = 4); "
     "trains the original first",
     [](S s, V v) { s.config.distill = v.on; }, "distill", true},
    {"distill-temperature", kReal, kProtocol, "4", kNone, kNone, false,
     "distillation temperature T",
     [](S s, V v) { s.config.distill_temperature = static_cast<float>(v.number); }},
    {"distill-weight", kReal, kProtocol, "0.9", kNone, kNone, false,
     "weight of the T^2*KL term (the CE gets 1 - weight)",
     [](S s, V v) { s.config.distill_weight = static_cast<float>(v.number); }},
    {"distill-teacher-bits", kInt, kProtocol, "0", 0, 32, false,
     "bits of the teacher (0: the search's --bits)",
     [](S s, V v) { s.config.distill_teacher_bits = static_cast<int>(v.number); }},
};

std::string normalize(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::string range_text(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

SettingValue parse_value(const SettingKey& key, const std::string& v, const std::string& what) {
  SettingValue value;
  value.text = v;
  errno = 0;
  char* end = nullptr;
  switch (key.type) {
    case SettingType::kText:
      break;
    case SettingType::kInt: {
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || end != v.c_str() + v.size() || errno == ERANGE || n < key.min ||
          n > key.max) {
        throw std::invalid_argument(what + " must be an integer in " + range_text(key.min) + ".." +
                                    range_text(key.max) + ", got '" + v + "'");
      }
      value.number = static_cast<double>(n);
      break;
    }
    case SettingType::kUnsigned: {
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || v.find('-') != std::string::npos || end != v.c_str() + v.size() ||
          errno == ERANGE) {
        throw std::invalid_argument(what + " must be a non-negative integer, got '" + v + "'");
      }
      value.whole = n;
      break;
    }
    case SettingType::kReal: {
      const double d = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || errno == ERANGE || !std::isfinite(d)) {
        throw std::invalid_argument(what + " must be a finite number, got '" + v + "'");
      }
      if (key.min_open && !(d > key.min)) {
        throw std::invalid_argument(what + " must be > " + range_text(key.min) + ", got '" + v +
                                    "'");
      }
      value.number = d;
      break;
    }
    case SettingType::kSwitch:
      if (v == "yes" || v == "true" || v == "1" || v == "on") {
        value.on = true;
      } else if (v == "no" || v == "false" || v == "0" || v == "off") {
        value.on = false;
      } else {
        throw std::invalid_argument(what + " must be yes or no, got '" + v + "'");
      }
      break;
  }
  return value;
}

}  // namespace

const std::vector<SettingKey>& search_setting_keys() {
  return kKeys;
}

const SettingKey* find_setting(const std::string& name) {
  const std::string key = normalize(name);
  for (const SettingKey& k : kKeys) {
    if (key == k.name) return &k;
  }
  return nullptr;
}

std::string protocol_key_names() {
  std::vector<std::string> names;
  for (const SettingKey& k : kKeys) {
    if (k.scope == SettingScope::kProtocol) names.push_back(k.name);
  }
  std::sort(names.begin(), names.end());
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

void apply_setting(SearchSettings& settings, const SettingKey& key, const std::string& text,
                   const std::string& what) {
  const SettingValue value = parse_value(key, text, what);
  try {
    key.set(settings, value);  // a list (widths, multipliers) or a name (quantizer) may be bad
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(what + ": " + e.what());
  }
}

void apply_switch(SearchSettings& settings, const SettingKey& key, bool on) {
  SettingValue value;
  value.on = on;
  key.set(settings, value);
}

void finish_settings(SearchSettings& settings, bool augment_given) {
  if (!augment_given) settings.config.augment = settings.config.dataset == "cifar10";
}

std::string config_json(const SearchSettings& settings, const std::string& hw_fingerprint,
                        const RunLabels& labels) {
  const search::SearchConfig& c = settings.config;
  std::ostringstream out;
  common::JsonWriter j(out);
  j.begin_object();
  j.members("arch_lr", c.arch_lr, "arm", labels.arm, "augment", c.augment, "base_multiplier",
            c.base_multiplier, "batch", c.batch_size, "bits", c.supernet.weight_bits, "campaign",
            labels.campaign, "count_width_shortcuts", c.count_width_shortcuts, "dataset", c.dataset,
            "distill", c.distill, "distill_teacher_bits", c.distill_teacher_bits,
            "distill_temperature", static_cast<double>(c.distill_temperature), "distill_weight",
            static_cast<double>(c.distill_weight));
  j.key("energy").begin_array().value(c.energy.lambda).value(c.energy.target_ratio).end_array();
  j.key("flops").begin_array().value(c.flops.lambda).value(c.flops.target_ratio).end_array();
  j.key("hw").value(hw_fingerprint);
  // Only when set, so that every earlier run's and plan's stored config stays as it was.
  if (c.retrain_int8_full_precision) j.key("int8_full_precision").value(true);
  j.key("latency").begin_array().value(c.latency.lambda).value(c.latency.target_ratio).end_array();
  j.members("lr", c.lr, "max_batches", c.max_batches, "max_candidates", c.max_candidates, "method",
            c.method, "model", c.model, "pact_init",
            static_cast<double>(c.supernet.pact_init_clip));
  j.key("params").begin_array().value(c.params.lambda).value(c.params.target_ratio).end_array();
  j.members("quantizer", nn::to_string(c.supernet.quantizer), "random_samples", c.random_samples,
            "retrain", c.retrain, "retrain_epochs", c.retrain_epochs, "search_epochs",
            c.search_epochs, "seed", c.seed, "subset", settings.subset, "test_subset",
            settings.test_subset, "threshold", c.threshold, "warmup_epochs", c.warmup_epochs,
            "widths", c.widths);
  j.key("wrpn_multipliers").begin_array();
  for (double m : c.wrpn_multipliers) j.value(m);
  j.end_array();
  j.end_object();
  return out.str();
}

}  // namespace nce::record
