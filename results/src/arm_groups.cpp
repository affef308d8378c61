#include "nce/results/arm_groups.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "filter_sql.h"

namespace nce::results {

namespace {

int method_rank(const std::string& name) {
  static const char* order[] = {"original", "nce", "tas", "wrpn", "random"};
  for (int i = 0; i < 5; ++i) {
    if (name == order[i]) return i;
  }
  return 5;
}

struct CampaignRun {
  RunId id = 0;
  std::string campaign, arm, hw, status, method, model, dataset;
  std::optional<int> bits;
};

// The campaign runs that match the filter's run-level fields.
std::vector<CampaignRun> load_campaign_runs(const Database& db, const CandidateFilter& filter) {
  if (!has_campaign_columns(db)) return {};
  FilterSql sql(
      "SELECT id, campaign, arm, COALESCE(hw, ''), status, COALESCE(method, ''), "
      "COALESCE(model, ''), COALESCE(dataset, ''), bits FROM runs WHERE arm IS NOT NULL AND "
      "arm <> ''");
  sql.run_texts(filter);
  sql.text("campaign", filter.campaign);
  sql.run_numbers(filter, "id");
  sql.append(" ORDER BY id");
  return sql.rows<CampaignRun>(db, [](const Statement& s, CampaignRun& r) {
    s.read_columns(r.id, r.campaign, r.arm, r.hw, r.status, r.method, r.model, r.dataset, r.bits);
  });
}

// See ArmSeed::design.
const CandidateRow* final_design(const std::vector<const CandidateRow*>& rows) {
  const CandidateRow* best = nullptr;
  for (const CandidateRow* r : rows) {
    if (r->phase != "final" || r->method != r->run_method) continue;
    if (!best || r->top1.value_or(-1) > best->top1.value_or(-1)) best = r;
  }
  if (best) return best;
  for (const CandidateRow* r : rows) {
    if (!best || r->epoch.value_or(-1) >= best->epoch.value_or(-1)) best = r;
  }
  return best;
}

}  // namespace

SampleStats ArmGroup::stats(Metric metric, const std::vector<Metric>& metrics) const {
  std::vector<double> values;
  for (const ArmSeed& s : seeds) {
    const auto v = s.design.value(metric);
    if (!v) continue;
    bool all = true;
    for (Metric m : metrics) all = all && s.design.value(m).has_value();
    if (all) values.push_back(*v);
  }
  return sample_stats(values);
}

std::vector<ArmGroup> load_arm_groups(const Database& db, const CandidateFilter& filter) {
  const std::vector<CampaignRun> runs = load_campaign_runs(db, filter);
  if (runs.empty()) return {};
  CandidateFilter rows_filter = filter;
  rows_filter.method.clear();
  rows_filter.phase.clear();
  rows_filter.require.clear();
  const std::vector<CandidateRow> rows = load_candidates(db, rows_filter);
  std::map<RunId, std::vector<const CandidateRow*>> by_run;
  for (const CandidateRow& r : rows) by_run[r.run_id].push_back(&r);

  using Key = std::tuple<std::string, std::string, std::string>;  // campaign, arm, hw
  std::map<Key, ArmGroup> groups;
  for (const CampaignRun& run : runs) {
    ArmGroup& g = groups[Key{run.campaign, run.arm, run.hw}];
    if (g.arm.empty()) {
      g.campaign = run.campaign;
      g.arm = run.arm;
      g.hw = run.hw;
      g.method = run.method;
      g.model = run.model;
      g.dataset = run.dataset;
      g.bits = run.bits;
    }
    const auto it = by_run.find(run.id);
    const CandidateRow* design = it == by_run.end() ? nullptr : final_design(it->second);
    if (run.status != "finished" || !design) {
      ++g.left_out[run.status == "finished" ? "no candidate" : run.status];
      continue;
    }
    g.seeds.push_back({*design});
  }
  std::vector<ArmGroup> out;
  std::set<std::string> campaigns;
  std::map<std::string, std::set<std::string>> hws;  // per campaign
  for (auto& [key, g] : groups) {
    campaigns.insert(g.campaign);
    hws[g.campaign].insert(g.hw);
    out.push_back(std::move(g));
  }
  for (ArmGroup& g : out) {
    g.name = g.arm;
    if (hws[g.campaign].size() > 1) g.name += " @" + (g.hw.empty() ? "(no hw)" : g.hw);
    if (campaigns.size() > 1) g.name = g.campaign + "/" + g.name;
  }
  std::stable_sort(out.begin(), out.end(), [](const ArmGroup& a, const ArmGroup& b) {
    return std::make_tuple(a.campaign, a.hw, method_rank(a.method), a.arm != a.method, a.arm) <
           std::make_tuple(b.campaign, b.hw, method_rank(b.method), b.arm != b.method, b.arm);
  });
  return out;
}

std::vector<ArmComparison> compare_arms(const std::vector<ArmGroup>& groups,
                                        const std::string& reference,
                                        const std::vector<Metric>& metrics) {
  std::vector<ArmComparison> out;
  for (const ArmGroup& g : groups) {
    if (g.arm == reference) continue;
    const ArmGroup* ref = nullptr;
    for (const ArmGroup& r : groups) {
      if (r.arm == reference && r.campaign == g.campaign && r.hw == g.hw) ref = &r;
    }
    if (!ref) continue;
    for (Metric m : metrics) {
      ArmComparison c;
      c.arm = &g;
      c.reference = ref;
      c.metric = m;
      c.arm_stats = g.stats(m);
      c.reference_stats = ref->stats(m);
      if (c.arm_stats.n == 0 || c.reference_stats.n == 0) continue;
      c.test = welch_test(c.arm_stats, c.reference_stats);
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace nce::results
