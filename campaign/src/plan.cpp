#include "nce/campaign/plan.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "nce/common/ini.h"
#include "nce/common/input_file.h"
#include "nce/common/text.h"
#include "nce/models/network.h"
#include "nce/record/search_settings.h"
#include "nce/sim/hw_config.h"

namespace nce::campaign {
namespace {

std::string where(const std::string& source, const common::IniEntry& e) {
  return source + ":" + std::to_string(e.line) + ": ";
}

std::string normalize_key(std::string key) {
  for (char& ch : key) {
    if (ch == '_') ch = '-';
  }
  return key;
}

int parse_int(const std::string& v, const std::string& what, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || end != v.c_str() + v.size() || errno == ERANGE || n < lo || n > hi) {
    throw std::invalid_argument(what + " must be an integer in " + std::to_string(lo) + ".." +
                                std::to_string(hi) + ", got '" + v + "'");
  }
  return static_cast<int>(n);
}

std::vector<std::uint64_t> parse_seeds(const std::string& v, const std::string& what) {
  std::vector<std::uint64_t> seeds;
  std::set<std::uint64_t> seen;
  for (const std::string& item : common::split_list(v)) {
    const int s = parse_int(item, what, 0, 2147483647);
    if (!seen.insert(s).second)
      throw std::invalid_argument(what + " lists seed " + item + " twice");
    seeds.push_back(static_cast<std::uint64_t>(s));
  }
  if (seeds.empty()) throw std::invalid_argument(what + " must list at least one seed");
  return seeds;
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// Every setting a job's result depends on, canonical (sorted keys): the job's identity, and the
// config its run stores (record::config_json, the form `nce search` stores too).
std::string job_json(const Plan& plan, const Job& job, const std::string& hw_fingerprint) {
  record::SearchSettings settings;
  settings.config = job.config;
  settings.subset = plan.subset;
  settings.test_subset = plan.test_subset;
  return record::config_json(settings, job.hw_path.empty() ? std::string() : hw_fingerprint,
                             {plan.name, job.arm});
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      return false;
    }
  }
  return name[0] != '.';
}

// A section the plan does not know, given twice, or without a key is an error naming its line.
void check_sections(const std::vector<common::IniSection>& sections, const std::vector<common::IniEntry>& entries,
                    const std::string& source) {
  std::map<std::string, int> first_line;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const common::IniSection& s = sections[i];
    const std::string at = source + ":" + std::to_string(s.line) + ": ";
    std::string name = s.name;
    if (name.rfind("arm ", 0) == 0) {
      std::string arm = name.substr(4);
      while (!arm.empty() && arm.front() == ' ') arm.erase(0, 1);
      name = "arm " + arm;
    } else if (name != "campaign" && name != "protocol") {
      throw std::invalid_argument(at + "unknown section [" + s.name +
                                  "] (sections: [campaign], [protocol], [arm NAME])");
    }
    const auto [first, inserted] = first_line.emplace(name, s.line);
    if (!inserted) {
      throw std::invalid_argument(at + "section [" + name + "] given twice (first at line " +
                                  std::to_string(first->second) + ")");
    }
    const int end = i + 1 < sections.size() ? sections[i + 1].line : INT_MAX;
    const bool has_key = std::any_of(entries.begin(), entries.end(), [&](const common::IniEntry& e) {
      return e.line > s.line && e.line < end;
    });
    if (!has_key) {
      throw std::invalid_argument(
          at + "section [" + name + "] is empty" +
          (name.rfind("arm ", 0) == 0 ? " (an arm needs method = ...)" : ""));
    }
  }
}

// The input of `dataset`'s images, as the models take it.
models::InputShape dataset_input(const std::string& dataset) {
  return dataset == "fashion-mnist" ? models::fashion_mnist_input() : models::cifar_input();
}

// The last entry of `key` among `lists` (later lists override earlier ones), or null.
const common::IniEntry* last_entry(const std::vector<const std::vector<const common::IniEntry*>*>& lists,
                           const std::string& key) {
  const common::IniEntry* found = nullptr;
  for (const auto* list : lists) {
    for (const common::IniEntry* e : *list) {
      if (normalize_key(e->key) == key) found = e;
    }
  }
  return found;
}

// An [arm NAME] section's entries, in order.
struct ArmEntries {
  std::string name;
  int line = 0;
  std::vector<const common::IniEntry*> entries;
};

// What the plan's sections say before the settings are applied: [campaign]'s keys (in plan),
// the [protocol] and [arm NAME] entries, each key checked for its section.
struct PlanSections {
  Plan plan;
  std::vector<std::uint64_t> seeds = {1};
  std::vector<ArmEntries> arms;
  std::vector<const common::IniEntry*> protocol_entries;
  bool augment_set = false;
  int hw_line = 0;
};

// A new section starts at e: an [arm NAME] is added to arms; [campaign] and [protocol] are known.
void open_section(const common::IniEntry& e, const std::string& at, std::vector<ArmEntries>& arms) {
  if (e.section.rfind("arm ", 0) == 0) {
    ArmEntries arm;
    arm.name = e.section.substr(4);
    while (!arm.name.empty() && arm.name.front() == ' ') arm.name.erase(0, 1);
    if (!valid_name(arm.name)) {
      throw std::invalid_argument(at + "arm name '" + arm.name +
                                  "' must be 1-64 letters, digits, '-', '_' or '.'");
    }
    for (const ArmEntries& a : arms) {
      if (a.name == arm.name) {
        throw std::invalid_argument(at + "arm '" + arm.name + "' is defined twice");
      }
    }
    arm.line = e.line;
    arms.push_back(arm);
  } else if (e.section != "campaign" && e.section != "protocol") {
    throw std::invalid_argument(at + "unknown section [" + e.section +
                                "] (sections: [campaign], [protocol], [arm NAME])");
  }
}

void check_model(const std::string& model, const std::string& what) {
  const std::vector<std::string>& names = models::model_names();
  if (std::find(names.begin(), names.end(), model) != names.end() &&
      models::is_cifar_model(model)) {
    return;
  }
  std::string known;
  for (const std::string& m : names) {
    if (models::is_cifar_model(m)) known += (known.empty() ? "" : ", ") + m;
  }
  throw std::invalid_argument(what + ": unknown model '" + model + "' (searchable: " + known + ")");
}

// One key of [campaign] (key: e.key normalized; at: "file:line: ").
void parse_campaign_key(const common::IniEntry& e, const std::string& key, const std::string& at,
                        const std::string& base_dir, PlanSections& s) {
  const std::string what = at + "'" + e.key + "'";
  Plan& plan = s.plan;
  if (key == "name") {
    if (!valid_name(e.value)) {
      throw std::invalid_argument(what + " must be 1-64 letters, digits, '-', '_' or '.', got '" +
                                  e.value + "'");
    }
    plan.name = e.value;
  } else if (key == "model") {
    check_model(e.value, what);
    plan.model = e.value;
  } else if (key == "dataset") {
    if (e.value != "cifar10" && e.value != "fashion-mnist") {
      throw std::invalid_argument(what + " must be cifar10 or fashion-mnist, got '" + e.value +
                                  "'");
    }
    plan.dataset = e.value;
  } else if (key == "data") {
    plan.data_dir = resolve(base_dir, e.value);
  } else if (key == "hw") {
    s.hw_line = e.line;
    for (const std::string& p : common::split_list(e.value)) {
      plan.hw_paths.push_back(resolve(base_dir, p));
    }
  } else if (key == "seeds") {
    s.seeds = parse_seeds(e.value, what);
  } else if (key == "subset") {
    plan.subset = parse_int(e.value, what, 0, 1 << 30);
  } else if (key == "test-subset") {
    plan.test_subset = parse_int(e.value, what, 0, 1 << 30);
  } else {
    throw std::invalid_argument(at + "unknown key '" + e.key +
                                "' in [campaign] (keys: name, model, dataset, data, hw, seeds, "
                                "subset, test-subset)");
  }
}

// One key of [protocol] or of the current [arm NAME]: a protocol setting (or an arm's method and
// seeds), kept for later.
void collect_setting_key(const common::IniEntry& e, const std::string& key, const std::string& at,
                         PlanSections& s) {
  if (e.section == "protocol" && (key == "method" || key == "seeds")) {
    throw std::invalid_argument(at + "'" + e.key + "' belongs in an [arm NAME] section" +
                                (key == "seeds" ? " or [campaign]" : ""));
  }
  const record::SettingKey* setting = record::find_setting(key);
  if (key != "method" && key != "seeds" &&
      (setting == nullptr || setting->scope != record::SettingScope::kProtocol)) {
    throw std::invalid_argument(at + "unknown key '" + e.key + "' in [" + e.section +
                                "] (keys: " + (e.section == "protocol" ? "" : "method, seeds, ") +
                                record::protocol_key_names() + ")");
  }
  if (key == "augment") s.augment_set = true;
  if (e.section == "protocol") {
    s.protocol_entries.push_back(&e);
  } else {
    s.arms.back().entries.push_back(&e);
  }
}

PlanSections read_sections(const std::vector<common::IniEntry>& entries, const std::string& source,
                           const std::string& base_dir) {
  PlanSections s;
  s.plan.source = source;
  std::set<std::string> seen;  // section + key, to refuse a key given twice
  std::string last_section = "\x01";
  for (const common::IniEntry& e : entries) {
    const std::string at = where(source, e);
    const std::string key = normalize_key(e.key);
    if (e.section != last_section) {
      last_section = e.section;
      open_section(e, at, s.arms);
    }
    if (!seen.insert(e.section + "\n" + key).second) {
      throw std::invalid_argument(at + "key '" + e.key + "' given twice in [" + e.section + "]");
    }
    if (e.section == "campaign") {
      parse_campaign_key(e, key, at, base_dir, s);
    } else {
      collect_setting_key(e, key, at, s);
    }
  }
  if (s.plan.name.empty()) {
    throw std::invalid_argument(source + ": [campaign] needs a name (name = ...)");
  }
  if (s.arms.empty()) {
    throw std::invalid_argument(source +
                                ": the plan has no arm (add [arm NAME] sections with "
                                "method = nce|tas|wrpn|random|none)");
  }
  return s;
}

// The plan's hardware configs, loaded: their names (unique, usable in file names) and
// fingerprints, in plan.hw_paths' order.
struct PlanHardware {
  std::vector<std::string> fingerprints, names;
};

PlanHardware load_hardware(const Plan& plan, int hw_line, const std::string& source) {
  PlanHardware hws;
  for (const std::string& path : plan.hw_paths) {
    sim::HwConfig hw;
    try {
      hw = sim::load_hw_config(path);
    } catch (const std::exception& e) {
      throw std::invalid_argument(source + ":" + std::to_string(hw_line) + ": 'hw': " + e.what());
    }
    const std::string at = source + ":" + std::to_string(hw_line) + ": 'hw': " + path + ": ";
    // The name becomes part of job ids and file names: letters, digits, '-', '_', '.' only.
    if (!valid_name(hw.name) || hw.name.find("..") != std::string::npos) {
      throw std::invalid_argument(at + "hardware name '" + common::printable(hw.name) +
                                  "' must be 1-64 letters, digits, '-', '_' or '.' (no '..')");
    }
    for (std::size_t k = 0; k < hws.names.size(); ++k) {
      if (hws.names[k] != hw.name) continue;
      throw std::invalid_argument(
          at + "names the hardware '" + hw.name + "' like " + plan.hw_paths[k] +
          (hws.fingerprints[k] == hw.fingerprint() ? " (the same array listed twice)"
                                                   : " but describes another array; give each "
                                                     "array its own name"));
    }
    hws.fingerprints.push_back(hw.fingerprint());
    hws.names.push_back(hw.name);
  }
  return hws;
}

// An arm's jobs (one per hardware config and seed) on top of the protocol's settings, checked.
void add_arm_jobs(const PlanSections& s, const ArmEntries& arm,
                  const record::SearchSettings& protocol, const PlanHardware& hws,
                  const std::string& source, Plan& plan) {
  record::SearchSettings settings = protocol;
  search::SearchConfig& c = settings.config;
  std::vector<std::uint64_t> arm_seeds = s.seeds;
  bool has_method = false;
  for (const common::IniEntry* e : arm.entries) {
    const std::string key = normalize_key(e->key);
    const std::string what = where(source, *e) + "'" + e->key + "'";
    if (key == "method") {
      c.method = e->value;
      has_method = true;
    } else if (key == "seeds") {
      arm_seeds = parse_seeds(e->value, what);
    } else {
      record::apply_setting(settings, *record::find_setting(e->key), e->value, what);
    }
  }
  const std::string at = source + ":" + std::to_string(arm.line) + ": arm '" + arm.name + "'";
  if (!has_method) {
    throw std::invalid_argument(at + " needs a method (nce, tas, wrpn, random or none)");
  }
  if (!c.widths.empty()) {
    const common::IniEntry* w = last_entry({&s.protocol_entries, &arm.entries}, "widths");
    try {
      models::build(plan.model, c.widths, dataset_input(plan.dataset));
    } catch (const std::exception& e) {
      throw std::invalid_argument(where(source, *w) + "'" + w->key + "' (arm '" + arm.name +
                                  "'): " + e.what());
    }
  }
  try {
    search::validate(c);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(at + ": " + e.what());
  }
  if ((c.latency.lambda > 0 || c.energy.lambda > 0) && plan.hw_paths.empty()) {
    throw std::invalid_argument(at +
                                ": a latency or energy term needs a hardware config "
                                "([campaign] hw = FILE)");
  }
  const std::size_t num_hw = std::max<std::size_t>(1, plan.hw_paths.size());
  for (std::size_t h = 0; h < num_hw; ++h) {
    for (std::uint64_t seed : arm_seeds) {
      Job job;
      job.arm = arm.name;
      job.seed = seed;
      job.config = c;
      job.config.seed = seed;
      job.hw_path = plan.hw_paths.empty() ? "" : plan.hw_paths[h];
      job.id = job_id(arm.name, plan.hw_paths.size() > 1 ? hws.names[h] : "", seed);
      job.config_json = job_json(plan, job, job.hw_path.empty() ? "" : hws.fingerprints[h]);
      plan.jobs.push_back(std::move(job));
    }
  }
}

// Job ids are file names: two that differ only in case would be one file on some systems.
void check_job_ids_differ_in_more_than_case(const Plan& plan, const std::string& source) {
  std::map<std::string, std::string> folded;
  for (const Job& job : plan.jobs) {
    const auto [it, inserted] = folded.emplace(common::to_lower(job.id), job.id);
    if (!inserted) {
      throw std::invalid_argument(source + ": jobs '" + it->second + "' and '" + job.id +
                                  "' differ only in case (their files would collide); rename an "
                                  "arm or hardware config");
    }
  }
}

// Seed-major: every arm's first seed before any arm's second, so a campaign cut short has one
// complete comparison first.
void order_seed_major(std::vector<Job>& jobs) {
  std::vector<std::uint64_t> seed_order;
  for (const Job& job : jobs) {
    if (std::find(seed_order.begin(), seed_order.end(), job.seed) == seed_order.end()) {
      seed_order.push_back(job.seed);
    }
  }
  std::stable_sort(jobs.begin(), jobs.end(), [&](const Job& a, const Job& b) {
    return std::find(seed_order.begin(), seed_order.end(), a.seed) <
           std::find(seed_order.begin(), seed_order.end(), b.seed);
  });
}

}  // namespace

Plan parse_plan(const std::string& text, const std::string& source, const std::string& base_dir) {
  std::vector<common::IniSection> sections;
  const std::vector<common::IniEntry> entries = common::parse_ini(text, source, {}, &sections);
  check_sections(sections, entries, source);
  PlanSections s = read_sections(entries, source, base_dir);
  Plan& plan = s.plan;
  record::SearchSettings protocol;  // subset and test_subset: [campaign]'s, set on the jobs
  protocol.config.model = plan.model;
  protocol.config.dataset = plan.dataset;
  record::finish_settings(protocol, s.augment_set);
  for (const common::IniEntry* e : s.protocol_entries) {
    record::apply_setting(protocol, *record::find_setting(e->key), e->value,
                          where(source, *e) + "'" + e->key + "'");
  }
  const PlanHardware hws = load_hardware(plan, s.hw_line, source);
  for (const ArmEntries& arm : s.arms) {
    plan.arms.push_back(arm.name);
    add_arm_jobs(s, arm, protocol, hws, source, plan);
  }
  check_job_ids_differ_in_more_than_case(plan, source);
  order_seed_major(plan.jobs);
  std::string identity = plan.name + "\n";
  for (const Job& job : plan.jobs) identity += job.id + "\n" + job.config_json + "\n";
  plan.fingerprint = common::text_fingerprint(identity);
  return plan;
}

std::string job_id(const std::string& arm, const std::string& hw_name, std::uint64_t seed) {
  return arm + (hw_name.empty() ? std::string() : "@" + hw_name) + "-s" + std::to_string(seed);
}

Plan load_plan(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path + ": cannot read the plan file");
  if (std::filesystem::is_directory(path)) {
    throw std::invalid_argument(path + ": is a directory, not a plan file");
  }
  std::string text;
  try {
    text = common::read_input_file(path, common::InputKind::kText, "campaign plan");
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
  return parse_plan(text, path, std::filesystem::path(path).parent_path().string());
}

}  // namespace nce::campaign
