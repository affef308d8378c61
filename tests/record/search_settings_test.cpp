// The settings of a recorded search (nce/record/search_settings.h): the key table, its parsing and
// defaults, and the canonical config every recorded search stores.
#include "nce/record/search_settings.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace nce::record {
namespace {

std::string error_of(const std::string& key, const std::string& value) {
  SearchSettings s;
  try {
    apply_setting(s, *find_setting(key), value, "'" + key + "'");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// Settings given as a plan (or the command line) gives them: by key and text.
SearchSettings settings_of(const std::map<std::string, std::string>& values) {
  SearchSettings s;
  bool augment_given = false;
  for (const auto& [key, value] : values) {
    const SettingKey* k = find_setting(key);
    if (k == nullptr) throw std::invalid_argument("no key " + key);
    apply_setting(s, *k, value, key);
    augment_given = augment_given || key == "augment";
  }
  finish_settings(s, augment_given);
  return s;
}

// The form the campaign plans' jobs had before the settings moved here (campaign/src/plan.cpp's
// job_json); tests/campaign/plan_test.cpp pins the same string through a plan file.
TEST(SearchSettings, TheCanonicalConfigKeepsItsFormByteForByte) {
  SearchSettings s = settings_of({{"method", "tas"},
                                  {"model", "resnet8"},
                                  {"dataset", "fashion-mnist"},
                                  {"seed", "3"},
                                  {"subset", "20"},
                                  {"test-subset", "10"},
                                  {"bits", "3"},
                                  {"quantizer", "lsq"},
                                  {"pact-init", "3"},
                                  {"warmup-epochs", "1"},
                                  {"search-epochs", "2"},
                                  {"retrain-epochs", "1"},
                                  {"lambda-flops", "1.5"},
                                  {"flops-target", "0.75"},
                                  {"max-batches", "4"},
                                  {"batch", "32"},
                                  {"lr", "0.05"},
                                  {"arch_lr", "0.002"},
                                  {"threshold", "0.25"},
                                  {"base-multiplier", "2"},
                                  {"tas-counting", "yes"},
                                  {"distill", "yes"},
                                  {"distill-temperature", "3.5"},
                                  {"distill-weight", "0.8"},
                                  {"distill-teacher-bits", "4"},
                                  {"widths", "1,16,16,16,32,32,64,64"},
                                  {"wrpn-multipliers", "1,1.5"},
                                  {"random-samples", "5"},
                                  {"augment", "yes"},
                                  {"retrain", "yes"}});
  EXPECT_EQ(
      config_json(s, "", {"golden", "tas-2x"}),
      R"({"arch_lr":0.002,"arm":"tas-2x","augment":true,"base_multiplier":2,"batch":32,"bits":3,"campaign":"golden","count_width_shortcuts":false,"dataset":"fashion-mnist","distill":true,"distill_teacher_bits":4,"distill_temperature":3.5,"distill_weight":0.8000000119,"energy":[0,1],"flops":[1.5,0.75],"hw":"","latency":[0,1],"lr":0.05,"max_batches":4,"max_candidates":16,"method":"tas","model":"resnet8","pact_init":3,"params":[2,1],"quantizer":"lsq","random_samples":5,"retrain":true,"retrain_epochs":1,"search_epochs":2,"seed":3,"subset":20,"test_subset":10,"threshold":0.25,"warmup_epochs":1,"widths":[1,16,16,16,32,32,64,64],"wrpn_multipliers":[1,1.5]})");
}

// The table's defaults (what --help shows) are SearchConfig's: a plan that leaves a key out and
// a command line that leaves the option out search the same way.
TEST(SearchSettings, TheTablesDefaultsAreTheSearchConfigsDefaults) {
  const SearchSettings untouched;
  SearchSettings s;
  int applied = 0;
  for (const SettingKey& k : search_setting_keys()) {
    if (k.scope != SettingScope::kProtocol || std::string(k.default_text).empty()) continue;
    apply_setting(s, k, k.default_text, k.name);
    ++applied;
  }
  EXPECT_GE(applied, 25);
  EXPECT_EQ(config_json(s, "", {}), config_json(untouched, "", {}));
  // Switches default to off on the command line (their flag turns them on or off).
  EXPECT_TRUE(s.config.retrain);
  EXPECT_TRUE(s.config.count_width_shortcuts);
  EXPECT_FALSE(s.config.distill);
}

// Every key is in the canonical config: changing any one changes it (so none is forgotten there).
TEST(SearchSettings, EveryKeyChangesTheCanonicalConfig) {
  const std::map<std::string, std::string> other = {{"method", "wrpn"},
                                                    {"model", "resnet8"},
                                                    {"dataset", "fashion-mnist"},
                                                    {"widths", "1,16,16,16,32,32,64,64"},
                                                    {"quantizer", "dorefa"},
                                                    {"wrpn-multipliers", "1,3"},
                                                    {"seed", "9"}};
  const SearchSettings base;
  const std::string base_json = config_json(base, "", {});
  std::set<std::string> json_keys_changed;
  for (const SettingKey& k : search_setting_keys()) {
    SearchSettings s = base;
    switch (k.type) {
      case SettingType::kSwitch:
        apply_setting(s, k, "yes", k.name);
        if (config_json(s, "", {}) == base_json) apply_setting(s, k, "no", k.name);
        break;
      case SettingType::kInt:
        apply_setting(s, k, std::to_string(static_cast<long>(k.max)), k.name);
        break;
      case SettingType::kReal:
        apply_setting(s, k, "0.625", k.name);
        break;
      default:
        ASSERT_TRUE(other.count(k.name)) << k.name;
        apply_setting(s, k, other.at(k.name), k.name);
    }
    EXPECT_NE(config_json(s, "", {}), base_json) << k.name;
  }
  EXPECT_NE(config_json(base, "fp", {}), base_json);
  EXPECT_NE(config_json(base, "", {"c", ""}), base_json);
  EXPECT_NE(config_json(base, "", {"", "a"}), base_json);
}

TEST(SearchSettings, BadValuesNameTheKeyAndTheValue) {
  EXPECT_EQ(error_of("bits", "40"), "'bits' must be an integer in 1..32, got '40'");
  EXPECT_EQ(error_of("batch", "x"), "'batch' must be an integer in 2..1048576, got 'x'");
  EXPECT_EQ(error_of("lr", "fast"), "'lr' must be a finite number, got 'fast'");
  EXPECT_EQ(error_of("lr", "inf"), "'lr' must be a finite number, got 'inf'");
  EXPECT_EQ(error_of("pact-init", "0"), "'pact-init' must be > 0, got '0'");
  EXPECT_EQ(error_of("distill", "maybe"), "'distill' must be yes or no, got 'maybe'");
  EXPECT_EQ(error_of("seed", "-1"), "'seed' must be a non-negative integer, got '-1'");
  EXPECT_NE(error_of("widths", "1,x").find("'widths': "), std::string::npos);
  EXPECT_NE(error_of("wrpn-multipliers", "0").find("'wrpn-multipliers': "), std::string::npos);
  EXPECT_NE(error_of("quantizer", "fp8").find("'quantizer': "), std::string::npos);
  EXPECT_EQ(error_of("bits", "4"), "");
}

TEST(SearchSettings, KeysAreFoundWithDashesOrUnderscoresAndSwitchesHaveAFlag) {
  ASSERT_NE(find_setting("warmup_epochs"), nullptr);
  EXPECT_EQ(find_setting("warmup_epochs"), find_setting("warmup-epochs"));
  EXPECT_EQ(find_setting("no-such-key"), nullptr);
  std::set<std::string> options;
  for (const SettingKey& k : search_setting_keys()) {
    const bool is_switch = k.type == SettingType::kSwitch;
    EXPECT_EQ(is_switch, k.flag != nullptr) << k.name;
    EXPECT_TRUE(options.insert(is_switch ? k.flag : k.name).second) << k.name;
    EXPECT_FALSE(std::string(k.help).empty()) << k.name;
  }
  EXPECT_EQ(protocol_key_names().rfind("arch-lr, augment, base-multiplier, batch, bits, ", 0), 0u)
      << protocol_key_names();
  EXPECT_EQ(protocol_key_names().find("method"), std::string::npos);
}

TEST(SearchSettings, AugmentationDefaultsToTheDataSetsUnlessGiven) {
  EXPECT_TRUE(settings_of({{"dataset", "cifar10"}}).config.augment);
  EXPECT_FALSE(settings_of({{"dataset", "fashion-mnist"}}).config.augment);
  EXPECT_TRUE(settings_of({{"dataset", "fashion-mnist"}, {"augment", "yes"}}).config.augment);
  EXPECT_FALSE(settings_of({{"dataset", "cifar10"}, {"augment", "no"}}).config.augment);
  SearchSettings s;
  apply_switch(s, *find_setting("tas-counting"), true);
  EXPECT_FALSE(s.config.count_width_shortcuts);
}

}  // namespace
}  // namespace nce::record
