#include "nce/sweep/sweep.h"
#include "nce/common/input_file.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "nce/common/ini.h"
#include "nce/common/json.h"
#include "nce/common/text.h"
#include "nce/models/network.h"
#include "nce/results/query.h"
#include "nce/sim/layer_cost.h"

namespace nce::sweep {

using results::CandidateRecord;
using results::Database;
using results::OpenMode;
using results::OpenOptions;
using results::QueryResult;
using results::ResultSink;
using results::RunInfo;
using results::RunScope;
using results::RunStatus;
using results::Value;

namespace {

std::string join_path(const std::string& dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string stem_of(const std::string& path) {
  auto slash = path.rfind('/');
  std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = file.rfind('.');
  return dot == std::string::npos ? file : file.substr(0, dot);
}

models::InputShape input_for(const std::string& model, const std::string& dataset,
                             const std::string& where) {
  if (dataset.empty()) return models::canonical_input(model);
  if (dataset == "cifar10" || dataset == "cifar") return models::cifar_input();
  if (dataset == "fashion-mnist") return models::fashion_mnist_input();
  if (dataset == "imagenet") return models::imagenet_input();
  throw std::invalid_argument(where + "unknown dataset '" + dataset +
                              "' (cifar10, fashion-mnist or imagenet)");
}

models::Network build_network(const SweepNetwork& n, const std::string& where) {
  try {
    return models::build(n.model, n.widths, input_for(n.model, n.dataset, where));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + e.what());
  }
}

// "resnet20: 1, 2" -> ("resnet20", "1, 2")
std::pair<std::string, std::string> split_model(const std::string& value, const std::string& where,
                                                const std::string& key) {
  auto colon = value.find(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument(where + "[networks] " + key + " = '" + value +
                                "': expected 'MODEL: values'");
  }
  return {common::trim(value.substr(0, colon)), common::trim(value.substr(colon + 1))};
}

std::string short_key(const std::string& key,
                      const std::vector<std::pair<std::string, std::vector<std::string>>>& grid) {
  auto dot = key.find('.');
  std::string tail = dot == std::string::npos ? key : key.substr(dot + 1);
  int same = 0;
  for (const auto& [k, v] : grid) {
    auto d = k.find('.');
    if ((d == std::string::npos ? k : k.substr(d + 1)) == tail) ++same;
  }
  return same > 1 ? key : tail;
}

std::string sweep_json(const SweepSpec& spec, const SweepOptions& options) {
  std::ostringstream out;
  common::JsonWriter j(out);
  j.begin_object();
  j.members("sweep", spec.name, "file", spec.source, "base", spec.base.name, "base_fingerprint",
            spec.base.fingerprint());
  j.key("grid").begin_object();
  for (const auto& [key, values] : spec.grid) {
    j.key(key).begin_array();
    for (const auto& v : values) j.value(v);
    j.end_array();
  }
  j.end_object();
  j.key("networks").begin_array();
  for (const auto& n : spec.networks) {
    j.begin_object();
    j.members("label", n.label, "method", n.method, "model", n.model, "widths", n.widths);
    j.end_object();
  }
  j.end_array();
  j.key("shard").value(std::to_string(options.shard.index) + "/" +
                       std::to_string(options.shard.count));
  j.key("jobs").value(options.jobs);
  j.key("pairs").value(static_cast<std::uint64_t>(spec.pairs()));
  j.end_object();
  return out.str();
}

// Serializes calls to a cache that is only safe from one thread at a time.
class LockedCache : public sim::CostCache {
 public:
  explicit LockedCache(sim::CostCache* inner) : inner_(inner) {}
  std::optional<sim::LayerCost> lookup(const std::string& fp, const sim::CostKey& key,
                                       int bits) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return inner_->lookup(fp, key, bits);
  }
  void store(const std::string& fp, const sim::CostKey& key, int bits,
             const sim::LayerCost& cost) override {
    std::lock_guard<std::mutex> lock(mutex_);
    inner_->store(fp, key, bits, cost);
  }

 private:
  sim::CostCache* inner_;
  std::mutex mutex_;
};

// [grid] keys must be hw config keys (general.name is generated per point).
void check_grid_keys(const SweepSpec& spec, const std::vector<common::IniEntry>& entries,
                     const std::string& source) {
  const auto known = spec.base.to_key_values();
  for (const auto& e : entries) {
    if (e.section != "grid") continue;
    if (!known.count(e.key) || e.key == "general.name") {
      std::string list;
      for (const auto& [k, v] : known) {
        if (k != "general.name") list += (list.empty() ? "" : ", ") + k;
      }
      throw std::invalid_argument(source + ":" + std::to_string(e.line) +
                                  ": unknown hw config key '" + e.key +
                                  "' in [grid] (known: " + list + ")");
    }
  }
}

// Expands the grid (first key slowest, last fastest) into spec.points, validating every point.
void expand_grid(SweepSpec& spec, const std::string& source) {
  std::size_t total = 1;
  bool too_many = false;
  std::string sizes;  // "4 array.rows x 4 array.cols x ..."
  for (const auto& [key, values] : spec.grid) {
    sizes += (sizes.empty() ? "" : " x ") + std::to_string(values.size()) + " " + key;
    too_many = too_many || values.size() > kMaxSweepPoints / total;
    if (!too_many) total *= values.size();
  }
  if (too_many) {
    throw std::invalid_argument(source + ": [grid] has more than " +
                                std::to_string(kMaxSweepPoints) + " points (" + sizes +
                                "); split it into several sweep files");
  }
  for (std::size_t idx = 0; idx < total; ++idx) {
    std::vector<std::size_t> at(spec.grid.size(), 0);
    std::size_t rem = idx;
    for (std::size_t g = spec.grid.size(); g-- > 0;) {
      at[g] = rem % spec.grid[g].second.size();
      rem /= spec.grid[g].second.size();
    }
    SweepPoint p;
    std::string label;
    for (std::size_t g = 0; g < spec.grid.size(); ++g) {
      const auto& [key, values] = spec.grid[g];
      p.overrides[key] = values[at[g]];
      label += (label.empty() ? "" : ",") + short_key(key, spec.grid) + "=" + values[at[g]];
    }
    p.name = spec.base.name + "{" + label + "}";
    auto overrides = p.overrides;
    overrides["general.name"] = p.name;
    try {
      p.hw = sim::with_overrides(spec.base, overrides);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(source + ": grid point " + p.name + ": " + e.what());
    }
    spec.points.push_back(std::move(p));
  }
}

// A [networks] wrpn line: one network per multiplier.
void add_wrpn_networks(const common::IniEntry& e, const std::string& where, const std::string& dataset,
                       SweepSpec& spec) {
  auto [model, list] = split_model(e.value, where, e.key);
  auto items = common::split_list(list);
  if (items.empty()) throw std::invalid_argument(where + "[networks] wrpn: no multipliers");
  for (const auto& item : items) {
    double m = 0;
    try {
      m = models::parse_multipliers(item).front();
    } catch (const std::invalid_argument& ex) {
      throw std::invalid_argument(where + "[networks] wrpn: bad multiplier '" + item +
                                  "': " + ex.what());
    }
    SweepNetwork n;
    n.model = model;
    n.method = "wrpn";
    n.dataset = dataset;
    models::InputShape input = input_for(model, dataset, where);
    try {
      n.widths = models::scale_widths(models::default_widths(model, input.channels), m);
    } catch (const std::invalid_argument& ex) {
      throw std::invalid_argument(where + "[networks] wrpn: " + ex.what());
    }
    n.label = model + " wrpn x" + item;
    spec.networks.push_back(n);
  }
}

// A [networks] candidates line: one network per row the query returns.
void add_candidate_networks(const common::IniEntry& e, const std::string& where, const std::string& dataset,
                            const Database* candidates_from, SweepSpec& spec) {
  if (!candidates_from) {
    throw std::invalid_argument(where +
                                "[networks] candidates: no database to query (give "
                                "--db or [sweep] candidates_db)");
  }
  QueryResult rows = run_query(*candidates_from, e.value);
  auto column = [&](const std::string& name) -> int {
    for (size_t c = 0; c < rows.columns.size(); ++c) {
      if (rows.columns[c] == name) return static_cast<int>(c);
    }
    return -1;
  };
  int model_col = column("model"), widths_col = column("widths");
  if (model_col < 0 || widths_col < 0) {
    throw std::invalid_argument(where +
                                "[networks] candidates: the query must return "
                                "columns 'model' and 'widths'");
  }
  int method_col = column("method"), dataset_col = column("dataset"), top1_col = column("top1"),
      run_col = column("run_id"), epoch_col = column("epoch");
  for (const auto& r : rows.rows) {
    SweepNetwork n;
    n.model = r[model_col].to_string();
    n.widths = common::parse_json_int_array(r[widths_col].to_string());
    n.method = method_col >= 0 ? r[method_col].to_string() : "candidate";
    n.dataset = dataset_col >= 0 && !r[dataset_col].to_string().empty() ? r[dataset_col].to_string()
                                                                        : dataset;
    if (top1_col >= 0 && r[top1_col].type != Value::Type::kNull) {
      n.top1 = r[top1_col].type == Value::Type::kReal ? r[top1_col].real
                                                      : static_cast<double>(r[top1_col].integer);
    }
    n.label = n.model + " " + n.method;
    if (run_col >= 0) n.label += " run " + r[run_col].to_string();
    if (epoch_col >= 0 && r[epoch_col].type != Value::Type::kNull) {
      n.label += " epoch " + r[epoch_col].to_string();
    }
    spec.networks.push_back(n);
  }
}

// The networks of one [networks] line (model, widths, wrpn, candidates), appended to spec.
void add_networks(const common::IniEntry& e, const std::string& source, const std::string& dataset,
                  const Database* candidates_from, SweepSpec& spec) {
  const std::string where = source + ":" + std::to_string(e.line) + ": ";
  if (e.key == "model") {
    SweepNetwork n;
    n.model = e.value;
    n.label = e.value;
    n.method = "original";
    n.dataset = dataset;
    spec.networks.push_back(n);
  } else if (e.key == "widths") {
    auto [model, list] = split_model(e.value, where, e.key);
    SweepNetwork n;
    n.model = model;
    n.method = "custom";
    n.dataset = dataset;
    try {
      n.widths = models::parse_widths(list);
    } catch (const std::invalid_argument& ex) {
      throw std::invalid_argument(where + "[networks] widths: " + ex.what());
    }
    n.label = model + " " + models::format_widths(n.widths);
    spec.networks.push_back(n);
  } else if (e.key == "wrpn") {
    add_wrpn_networks(e, where, dataset, spec);
  } else if (e.key == "candidates") {
    add_candidate_networks(e, where, dataset, candidates_from, spec);
  } else {
    throw std::invalid_argument(where + "unknown key '" + e.key +
                                "' in [networks] (model, widths, wrpn, candidates)");
  }
}

}  // namespace

SweepSpec parse_sweep(const std::string& text, const std::string& source,
                      const std::string& base_dir, const Database* candidates_from) {
  SweepSpec spec;
  spec.source = source;
  spec.name = stem_of(source);
  std::string base_path;
  std::string dataset;
  auto entries = common::parse_ini(text, source);
  std::vector<common::IniEntry> network_entries;
  std::set<std::string> seen_sweep_keys;
  bool saw_grid = false;
  for (const auto& e : entries) {
    const std::string where = source + ":" + std::to_string(e.line) + ": ";
    if (e.section == "sweep") {
      if (!seen_sweep_keys.insert(e.key).second) {
        throw std::invalid_argument(where + "[sweep] " + e.key + " given twice");
      }
      if (e.key == "name") {
        spec.name = e.value;
      } else if (e.key == "base") {
        base_path = join_path(base_dir, e.value);
      } else if (e.key == "dataset") {
        dataset = e.value;
        input_for("resnet20", dataset, where);  // validates the name
      } else if (e.key == "candidates_db") {
        spec.candidates_db = join_path(base_dir, e.value);
      } else {
        throw std::invalid_argument(where + "unknown key '" + e.key +
                                    "' in [sweep] (name, base, dataset, candidates_db)");
      }
    } else if (e.section == "grid") {
      saw_grid = true;
      for (const auto& [k, v] : spec.grid) {
        if (k == e.key) throw std::invalid_argument(where + "[grid] " + e.key + " given twice");
      }
      auto values = common::split_list(e.value);
      if (values.empty()) {
        throw std::invalid_argument(where + "[grid] " + e.key + " has no values");
      }
      for (const auto& v : values) {
        if (v.empty()) {
          throw std::invalid_argument(where + "[grid] " + e.key + " = '" + e.value +
                                      "': empty item");
        }
      }
      spec.grid.emplace_back(e.key, values);
    } else if (e.section == "networks") {
      network_entries.push_back(e);
    } else {
      throw std::invalid_argument(where + "unknown section '[" + e.section +
                                  "]' (sweep, grid, networks)");
    }
  }
  if (base_path.empty()) throw std::invalid_argument(source + ": [sweep] base is missing");
  try {
    spec.base = sim::load_hw_config(base_path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(source + ": [sweep] base: " + e.what());
  }
  if (!saw_grid || spec.grid.empty()) {
    throw std::invalid_argument(source +
                                ": empty grid: [grid] needs at least one "
                                "'section.key = v1, v2, ...' line");
  }
  check_grid_keys(spec, entries, source);
  expand_grid(spec, source);
  for (const auto& e : network_entries) add_networks(e, source, dataset, candidates_from, spec);
  if (spec.networks.empty()) {
    throw std::invalid_argument(source +
                                ": no networks: [networks] needs at least one "
                                "model/widths/wrpn/candidates line (or the query "
                                "returned no rows)");
  }
  // Build every network once now so bad widths fail before anything is written.
  for (auto& n : spec.networks) {
    models::Network net = build_network(n, source + ": network '" + n.label + "': ");
    n.widths = net.widths;
  }
  return spec;
}

SweepSpec load_sweep(const std::string& path, const std::string& default_candidates_db) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read sweep file '" + path + "'");
  std::stringstream text(common::read_input_file(path, common::InputKind::kText, "sweep file"));
  // A first pass finds [sweep] candidates_db without running queries.
  std::string db_path = default_candidates_db;
  for (const auto& e : common::parse_ini(text.str(), path)) {
    if (e.section == "sweep" && e.key == "candidates_db")
      db_path = join_path(dir_of(path), e.value);
  }
  bool needs_db = false;
  for (const auto& e : common::parse_ini(text.str(), path)) {
    if (e.section == "networks" && e.key == "candidates") needs_db = true;
  }
  std::optional<Database> db;
  if (needs_db && !db_path.empty()) {
    OpenOptions ro;
    ro.mode = OpenMode::kReadOnly;
    db.emplace(db_path, ro);
  }
  return parse_sweep(text.str(), path, dir_of(path), db ? &*db : nullptr);
}

SweepEvaluation evaluate_pair(const SweepSpec& spec, std::size_t point, std::size_t network,
                              sim::LayerCostService& costs) {
  const SweepNetwork& n = spec.networks.at(network);
  models::Network net = build_network(n, spec.source + ": ");
  SweepEvaluation ev;
  ev.point = point;
  ev.network = network;
  ev.pair = point * spec.networks.size() + network;
  ev.macs = net.macs();
  ev.params = net.params();
  for (const auto& layer : net.layers) {
    const sim::LayerCost& cost = costs.cost(layer, layer.c_in, layer.c_out);
    if (!cost.ok()) {
      ev.feasible = false;
      continue;
    }
    ev.cycles += cost.cycles;
    ev.stall_cycles += cost.stall_cycles;
    ev.energy_pj += cost.energy_pj;
  }
  return ev;
}

SweepSummary run_sweep(const SweepSpec& spec, ResultSink& sink, sim::CostCache* cache,
                       const SweepOptions& options) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::size_t> pairs;
  for (std::size_t i = 0; i < spec.pairs(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(options.shard.count)) ==
        options.shard.index) {
      pairs.push_back(i);
    }
  }
  RunInfo info;
  info.method = "sweep";
  std::set<std::string> models;
  for (const auto& n : spec.networks) models.insert(n.model);
  if (models.size() == 1) info.model = *models.begin();
  std::set<int> bits;
  for (const auto& p : spec.points) bits.insert(p.hw.bits);
  if (bits.size() == 1) info.bits = *bits.begin();
  if (spec.points.size() == 1) info.hw = spec.points.front().name;
  info.config_json = sweep_json(spec, options);
  info.git_commit = options.git_commit;
  RunScope run(sink, info);
  for (const auto& p : spec.points) {
    sink.record_hw_config(p.hw.fingerprint(), p.name, p.hw.to_cfg_text());
  }

  std::optional<LockedCache> locked;
  if (cache) locked.emplace(cache);
  SweepSummary summary;
  summary.run = run.id();
  const int jobs = std::max(1, options.jobs);
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch));
  for (std::size_t begin = 0; begin < pairs.size(); begin += batch) {
    if (options.stop_requested && options.stop_requested()) {
      summary.interrupted = true;
      break;
    }
    std::size_t end = std::min(pairs.size(), begin + batch);
    std::vector<SweepEvaluation> evals(end - begin);
    std::atomic<std::size_t> next{begin};
    std::atomic<std::int64_t> computed{0}, hits{0};
    std::mutex error_mutex;
    std::exception_ptr error;
    // Each worker asks its own sim::LayerCostService per hw point (the service is not
    // thread-safe); they share the cache through the lock.
    auto worker = [&] {
      std::map<std::size_t, sim::LayerCostService> services;
      while (true) {
        std::size_t k = next.fetch_add(1);
        if (k >= end) break;
        try {
          const std::size_t pair = pairs[k];
          const std::size_t point = pair / spec.networks.size();
          auto it = services.find(point);
          if (it == services.end()) {
            it = services.try_emplace(point, spec.points[point].hw, locked ? &*locked : nullptr)
                     .first;
          }
          evals[k - begin] = evaluate_pair(spec, point, pair % spec.networks.size(), it->second);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
        }
      }
      for (const auto& [point, service] : services) {
        computed += service.computed();
        hits += service.cache_hits();
      }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < jobs; ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);
    summary.layers_computed += computed;
    summary.cache_hits += hits;

    std::vector<CandidateRecord> records;
    for (const auto& ev : evals) {
      const SweepPoint& p = spec.points[ev.point];
      const SweepNetwork& n = spec.networks[ev.network];
      CandidateRecord c;
      c.phase = ev.feasible ? "sweep" : "infeasible";
      c.widths = n.widths;
      c.macs = ev.macs;
      c.params = ev.params;
      if (ev.feasible) {
        c.latency_cycles = ev.cycles;
        c.stall_cycles = ev.stall_cycles;
        c.energy_pj = ev.energy_pj;
      } else {
        ++summary.infeasible;
      }
      c.top1 = n.top1;
      c.method = n.method;
      c.model = n.model;
      c.dataset = n.dataset;
      c.bits = p.hw.bits;
      c.hw = p.name;
      c.hw_fingerprint = p.hw.fingerprint();
      records.push_back(std::move(c));
    }
    run.candidates(records);
    summary.evaluations += records.size();
  }
  run.finish(summary.interrupted ? RunStatus::kInterrupted : RunStatus::kFinished);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace nce::sweep
