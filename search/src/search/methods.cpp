#include "nce/search/methods.h"

#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include "nce/common/text.h"
#include "nce/nn/dataset.h"
#include "nce/search/arch_params.h"

namespace nce::search {

namespace {

// nce and tas: the supernet search, then the retrain of the last derived design.
class SupernetMethod : public Method {
 public:
  explicit SupernetMethod(const char* name) : name_(name) {}
  const char* name() const override { return name_; }
  bool searches_supernet() const override { return true; }
  Candidate run(MethodRun& r) const override {
    const SearchConfig& c = r.config();
    const std::vector<int> derived = r.supernet_search();
    Candidate final = r.costed(derived, c.warmup_epochs + c.search_epochs);
    final.phase = "final";
    if (c.retrain && !r.stopped_early()) final = r.retrain(derived, c.method, "final");
    return final;
  }

 private:
  const char* name_;
};

// A retrain strategy: the best of the width vectors it chooses.
class RetrainMethod : public Method {
 public:
  bool searches_supernet() const override { return false; }

 protected:
  // Evaluates `widths` (retrained as `method`'s run `tag` with --retrain, else only costed) and
  // keeps it in `best` when it is the first or more accurate.
  static void try_widths(MethodRun& r, Candidate& best, const std::vector<int>& widths,
                         const std::string& method, const std::string& tag) {
    const Candidate cand =
        r.config().retrain ? r.retrain(widths, method, tag) : r.costed(widths, 0);
    if (best.widths.empty() || cand.top1 > best.top1) best = cand;
  }
};

class WrpnMethod : public RetrainMethod {
 public:
  const char* name() const override { return "wrpn"; }
  Candidate run(MethodRun& r) const override {
    const SearchConfig& c = r.config();
    Candidate best;
    for (double m : c.wrpn_multipliers) {
      const std::vector<int> widths = models::scale_widths(r.base().widths, m);
      try_widths(r, best, widths, "wrpn", "wrpn-" + common::number_text(m));
    }
    return best;
  }
};

class RandomMethod : public RetrainMethod {
 public:
  const char* name() const override { return "random"; }
  Candidate run(MethodRun& r) const override {
    const SearchConfig& c = r.config();
    const models::Network& base = r.base();
    std::mt19937_64 rng(c.seed);
    std::mt19937_64 arch_rng(c.seed);
    const ArchParams arch(base.widths, arch_rng);
    const double budget = static_cast<double>(base.macs()) * c.flops.target_ratio;
    Candidate best;
    for (int k = 0; k < c.random_samples; ++k) {
      std::vector<int> widths;
      for (int attempt = 0; attempt < 1000; ++attempt) {
        widths = {base.widths[0]};
        for (const auto& l : arch.layers()) {
          widths.push_back(l.candidates[nn::uniform_below(rng, l.candidates.size())]);
        }
        if (models::build(c.model, widths, base.input).macs() <= budget) break;
      }
      try_widths(r, best, widths, "random", "random-" + std::to_string(k + 1));
    }
    return best;
  }
};

class NoneMethod : public RetrainMethod {
 public:
  const char* name() const override { return "none"; }
  Candidate run(MethodRun& r) const override {
    const SearchConfig& c = r.config();
    if (c.activation_analysis) {
      r.original_at(32);
      return r.original_at(c.supernet.weight_bits);
    }
    if (c.retrain) return r.retrain(r.base().widths, "original", "original");
    Candidate original = r.costed(r.base().widths, 0);
    original.method = "original";
    original.phase = "final";
    return original;
  }
};

using Factory = std::function<std::unique_ptr<Method>()>;

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> methods = {
      {"nce", [] { return std::make_unique<SupernetMethod>("nce"); }},
      {"tas", [] { return std::make_unique<SupernetMethod>("tas"); }},
      {"wrpn", [] { return std::make_unique<WrpnMethod>(); }},
      {"random", [] { return std::make_unique<RandomMethod>(); }},
      {"none", [] { return std::make_unique<NoneMethod>(); }},
  };
  return methods;
}

}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, factory] : registry()) n.push_back(name);
    return n;
  }();
  return names;
}

std::unique_ptr<Method> make_method(const std::string& name) {
  for (const auto& [known, factory] : registry()) {
    if (known == name) return factory();
  }
  std::string list;
  for (const std::string& n : method_names()) list += (list.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown --method '" + name + "' (known: " + list + ")");
}

}  // namespace nce::search
