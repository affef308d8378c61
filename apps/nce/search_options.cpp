#include "search_options.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "nce/common/json.h"

namespace nce::app {
namespace {

// The option of one setting key: its type (so that parse_or_help's numeric checks see it), its
// default and its help, from the key table.
void add_setting(po::options_description& opts, const record::SettingKey& k) {
  const std::string text = k.default_text;
  switch (k.type) {
    case record::SettingType::kSwitch:
      opts.add_options()(k.flag, k.help);
      return;
    case record::SettingType::kText: {
      auto* v = po::value<std::string>();
      if (!text.empty()) v->default_value(text);
      opts.add_options()(k.name, v, k.help);
      return;
    }
    case record::SettingType::kInt:
      opts.add_options()(k.name, po::value<int>()->default_value(std::atoi(text.c_str()), text),
                         k.help);
      return;
    case record::SettingType::kUnsigned:
      opts.add_options()(
          k.name,
          po::value<std::uint64_t>()->default_value(std::strtoull(text.c_str(), nullptr, 10), text),
          k.help);
      return;
    case record::SettingType::kReal:
      opts.add_options()(
          k.name, po::value<double>()->default_value(std::strtod(text.c_str(), nullptr), text),
          k.help);
      return;
  }
}

// An option's value as the key table parses it (a double with every digit it needs).
std::string option_text(const po::variable_value& v) {
  const std::type_info& type = v.value().type();
  if (type == typeid(int)) return std::to_string(v.as<int>());
  if (type == typeid(std::uint64_t)) return std::to_string(v.as<std::uint64_t>());
  if (type == typeid(double)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v.as<double>());
    return buf;
  }
  return v.as<std::string>();
}

std::string options_json(const po::variables_map& vm) {
  std::ostringstream out;
  common::JsonWriter j(out);
  j.begin_object();
  for (const auto& [name, value] : vm) {
    const std::type_info& type = value.value().type();
    j.key(name);
    if (type == typeid(std::string)) {
      j.value(value.as<std::string>());
    } else if (type == typeid(int)) {
      j.value(value.as<int>());
    } else if (type == typeid(double)) {
      j.value(value.as<double>());
    } else if (type == typeid(std::uint64_t)) {
      j.value(value.as<std::uint64_t>());
    } else {
      j.value(true);  // a switch
    }
  }
  j.end_object();
  return out.str();
}

}  // namespace

po::options_description search_options() {
  po::options_description settings(
      "Settings (recorded with the run; a campaign plan takes the same keys without the dashes, "
      "a switch as key = yes|no)");
  for (const record::SettingKey& k : record::search_setting_keys()) add_setting(settings, k);
  po::options_description io("Inputs and outputs");
  io.add_options()("data", po::value<std::string>()->default_value(""),
                   "data directory (default: Debian's Fashion-MNIST; CIFAR-10 needs one)")(
      "hw", po::value<std::string>(), "hardware config (.cfg) for cycles and energy")(
      "checkpoint", po::value<std::string>(), "checkpoint file, written after every epoch")(
      "save-checkpoint", po::value<std::string>(),
      "write the final retrained network here (an nn checkpoint for nce export)")(
      "resume", "continue from --checkpoint")("db", po::value<std::string>(),
                                              "result database (SQLite) to record the run in")(
      "baseline", "also retrain the original network with the same budget, for the comparison")(
      "analysis", po::value<std::string>(),
      "directory for alpha.csv, kendall.csv (Fig. 4) and activations.csv with two SVG charts "
      "(Fig. 1: per-layer activation STDEV and SQNR of the original at 32 bits and at --bits "
      "and of the result; retrains the original at both)")(
      "probe-images", po::value<int>()->default_value(search::SearchConfig().probe_images),
      "test images the activation analysis measures")(
      "json", po::value<std::string>(), "write a JSON summary to this file (- = stdout)")(
      "quiet", "no progress output");
  po::options_description opts("Options");
  opts.add(settings).add(io);
  return opts;
}

SearchCommand search_command(const po::variables_map& vm) {
  SearchCommand cmd;
  bool augment_given = false;
  for (const record::SettingKey& k : record::search_setting_keys()) {
    if (k.type == record::SettingType::kSwitch) {
      if (!vm.count(k.flag)) continue;
      record::apply_switch(cmd.settings, k, k.flag_sets);
      augment_given = augment_given || std::string(k.name) == "augment";
    } else if (vm.count(k.name)) {
      record::apply_setting(cmd.settings, k, option_text(vm[k.name]), std::string("--") + k.name);
    }
  }
  record::finish_settings(cmd.settings, augment_given);
  search::SearchConfig& c = cmd.settings.config;
  if (vm.count("checkpoint")) c.checkpoint_path = vm["checkpoint"].as<std::string>();
  if (vm.count("save-checkpoint"))
    c.final_checkpoint_path = vm["save-checkpoint"].as<std::string>();
  c.resume = vm.count("resume") > 0;
  c.activation_analysis = vm.count("analysis") > 0;
  c.probe_images = vm["probe-images"].as<int>();
  search::validate(c);  // before loading anything
  for (const char* term : {"latency", "energy"}) {
    if (vm[std::string("lambda-") + term].as<double>() > 0 && !vm.count("hw")) {
      throw std::invalid_argument(std::string("--lambda-") + term +
                                  " > 0 needs a hardware config (--hw FILE)");
    }
  }
  cmd.quiet = vm.count("quiet") > 0;
  cmd.baseline = vm.count("baseline") > 0;
  cmd.data_dir = vm["data"].as<std::string>();
  auto text = [&](const char* key) {
    return vm.count(key) ? vm[key].as<std::string>() : std::string();
  };
  cmd.hw_path = text("hw");
  cmd.db_path = text("db");
  cmd.analysis_dir = text("analysis");
  cmd.json_path = text("json");
  cmd.options_json = options_json(vm);
  return cmd;
}

}  // namespace nce::app
