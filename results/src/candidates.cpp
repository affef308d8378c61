#include "nce/results/candidates.h"

#include <stdexcept>

#include "filter_sql.h"

namespace nce::results {

Metric parse_metric(const std::string& name) {
  if (name == "macs" || name == "flops") return Metric::kMacs;
  if (name == "params") return Metric::kParams;
  if (name == "latency" || name == "latency_cycles" || name == "cycles") return Metric::kLatency;
  if (name == "energy" || name == "energy_pj") return Metric::kEnergy;
  if (name == "top1" || name == "accuracy") return Metric::kTop1;
  throw std::invalid_argument("unknown metric '" + name +
                              "' (choose macs, params, latency, energy or top1)");
}

namespace {

// One row per Metric, in enum order: its name, its v_candidates column and its axis label.
struct MetricInfo {
  Metric metric;
  const char* name;
  const char* column;
  const char* label;
};
constexpr MetricInfo kMetrics[] = {
    {Metric::kMacs, "macs", "macs", "MACs"},
    {Metric::kParams, "params", "params", "PARAMs"},
    {Metric::kLatency, "latency", "latency_cycles", "latency (cycles)"},
    {Metric::kEnergy, "energy", "energy_pj", "energy (pJ)"},
    {Metric::kTop1, "top1", "top1", "top-1 accuracy (%)"},
};

const MetricInfo& info(Metric metric) {
  for (const MetricInfo& m : kMetrics) {
    if (m.metric == metric) return m;
  }
  return kMetrics[0];  // unreachable: every enumerator has a row
}

}  // namespace

const char* metric_name(Metric metric) {
  return info(metric).name;
}
const char* metric_column(Metric metric) {
  return info(metric).column;
}
const char* metric_label(Metric metric) {
  return info(metric).label;
}

Direction metric_direction(Metric metric) {
  return metric == Metric::kTop1 ? Direction::kMaximize : Direction::kMinimize;
}

std::optional<double> CandidateRow::value(Metric metric) const {
  switch (metric) {
    case Metric::kMacs:
      return macs ? std::optional<double>(static_cast<double>(*macs)) : std::nullopt;
    case Metric::kParams:
      return params ? std::optional<double>(static_cast<double>(*params)) : std::nullopt;
    case Metric::kLatency:
      return latency_cycles ? std::optional<double>(static_cast<double>(*latency_cycles))
                            : std::nullopt;
    case Metric::kEnergy:
      return energy_pj;
    case Metric::kTop1:
      return top1;
  }
  return std::nullopt;
}

bool has_campaign_columns(const Database& db) {
  return db.query_int(
               "SELECT count(*) FROM pragma_table_info('runs') WHERE name IN ('campaign', "
               "'arm')")
             .value_or(0) == 2;
}

std::vector<CandidateRow> load_candidates(const Database& db, const CandidateFilter& filter) {
  const bool campaigns = has_campaign_columns(db);
  FilterSql sql(
      "SELECT run_id, method, model, dataset, bits, hw, epoch, phase, widths, macs, params, "
      "latency_cycles, energy_pj, top1, run_method, run_status, seed, campaign, arm FROM (SELECT "
      "c.id AS candidate_id, c.run_id, COALESCE(c.method, r.method) AS method, "
      "COALESCE(c.model, r.model) AS model, COALESCE(c.dataset, r.dataset) AS dataset, "
      "COALESCE(c.bits, r.bits) AS bits, COALESCE(c.hw, r.hw) AS hw, c.epoch, c.phase, c.widths, "
      "c.macs, c.params, c.latency_cycles, c.energy_pj, c.top1, r.method AS run_method, "
      "r.status AS run_status, r.seed AS seed, " +
      std::string(campaigns ? "r.campaign AS campaign, r.arm AS arm"
                            : "NULL AS campaign, NULL AS arm") +
      " FROM candidates c JOIN runs r ON r.id = c.run_id WHERE r.status <> 'diverged') WHERE 1");
  sql.run_texts(filter);
  sql.text("phase", filter.phase);
  if (!filter.campaign.empty() && !campaigns) sql.append(" AND 0");  // no run is a campaign's
  sql.text("campaign", filter.campaign);
  sql.run_numbers(filter, "run_id");
  for (Metric m : filter.require) {
    sql.append(std::string(" AND ") + metric_column(m) + " IS NOT NULL");
  }
  sql.append(" ORDER BY candidate_id");
  return sql.rows<CandidateRow>(db, [](const Statement& s, CandidateRow& r) {
    s.read_columns(r.run_id, r.method, r.model, r.dataset, r.bits, r.hw, r.epoch, r.phase, r.widths,
                   r.macs, r.params, r.latency_cycles, r.energy_pj, r.top1, r.run_method,
                   r.run_status, r.seed, r.campaign, r.arm);
  });
}

}  // namespace nce::results
