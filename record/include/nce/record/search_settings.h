// The settings of a recorded search, in one place: one typed struct (SearchSettings), one key
// table (name, type, default, range, help) and one canonical form of what a run stores as its
// config (runs.config). The table feeds `nce search`'s options and --help (apps/nce), the keys of a
// campaign plan (campaign/plan.h: [protocol] and [arm NAME] take every kProtocol key), and both
// record the canonical config_json, so a search stores the same config whichever command ran it.
//
//   SearchSettings s;                                     // SearchConfig's defaults
//   apply_setting(s, *find_setting("lambda-flops"), "1.5", "p.cfg:7: 'lambda-flops'");
//   finish_settings(s, /*augment_given=*/false);          // augmentation: on for cifar10 only
//   std::string config = config_json(s, hw_fingerprint, {"my-campaign", "nce"});
//
// Keys are written with '-' (a plan may also write '_'). A bad value throws std::invalid_argument
// "<what> must be ..., got '<value>'" (an integer outside its range, a number that is not finite,
// an unknown quantizer, a bad widths or multipliers list).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nce/search/search_run.h"

namespace nce::record {

struct SearchSettings {
  search::SearchConfig config;  // the search: method, model, data set, seed and the protocol
  int subset = 0;               // training images per class (0: all)
  int test_subset = 0;          // test images per class (0: all)
};

enum class SettingType {
  kText,      // a word or a list ("1,1.25,2")
  kInt,       // an integer in [min, max]
  kUnsigned,  // a non-negative 64-bit integer (the seed)
  kReal,      // a finite number; > min when min_open
  kSwitch,    // on or off: yes/no, true/false, 1/0, on/off in a plan; a flag on the command line
};

enum class SettingScope {
  kRun,       // on the command line; a plan sets it in [campaign] (model, dataset, subsets) or
              // per arm (method, seeds)
  kProtocol,  // on the command line and in a plan's [protocol] or [arm NAME]
};

// A parsed value, as a setter takes it (the field its type uses).
struct SettingValue {
  std::string text;         // kText
  double number = 0;        // kInt, kReal
  std::uint64_t whole = 0;  // kUnsigned
  bool on = false;          // kSwitch
};

struct SettingKey {
  const char* name;  // "--name" on the command line, "name" in a plan
  SettingType type;
  SettingScope scope;
  const char* default_text;  // the default as --help shows it; "" = none (see help)
  double min, max;           // kInt: the range; kReal: min_open -> must be > min
  bool min_open;
  const char* help;
  void (*set)(SearchSettings& settings, const SettingValue& value);
  // kSwitch: the command-line flag and the value it sets ("no-augment" sets augment off).
  const char* flag = nullptr;
  bool flag_sets = false;
};

// Every key, in --help order.
const std::vector<SettingKey>& search_setting_keys();
// The key `name` names ('-' or '_'), or null.
const SettingKey* find_setting(const std::string& name);
// The names of the kProtocol keys, sorted, comma-separated (for "unknown key" messages).
std::string protocol_key_names();

// Parses `text` as `key`'s value and sets it; `what` names it in errors ("--bits", "p.cfg:4:
// 'bits'").
void apply_setting(SearchSettings& settings, const SettingKey& key, const std::string& text,
                   const std::string& what);
// Sets a kSwitch key.
void apply_switch(SearchSettings& settings, const SettingKey& key, bool on);
// The defaults that depend on other settings: augmentation, when not given, is on for cifar10
// and off otherwise.
void finish_settings(SearchSettings& settings, bool augment_given);

// Who ran a search: the campaign and arm of a campaign job; empty for `nce search`.
struct RunLabels {
  std::string campaign;
  std::string arm;
};

// Every setting a run's result depends on, canonical (sorted keys, one line): what runs.config
// stores for `nce search` and for every campaign job, and a campaign job's identity (the plan's
// fingerprint). `hw_fingerprint`: sim::HwConfig::fingerprint() of the array, "" = none. Paths
// (data, checkpoints, outputs) are not in it. tests/record/search_settings_test.cpp pins its form.
std::string config_json(const SearchSettings& settings, const std::string& hw_fingerprint,
                        const RunLabels& labels);

}  // namespace nce::record
