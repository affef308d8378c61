// The width-search methods of run_search, by name (a factory: every name maps to one entry).
//   nce     supernet search with channel expansion, then a retrain of the derived design
//   tas     supernet search over the 8 TAS candidates (no expansion), then a retrain
//   wrpn    retrains the base widths times each multiplier; the best is the result
//   random  retrains random vectors of TAS candidates within the MACs target; the best
//   none    retrains the base network (the original)
// A method decides which width vectors to train; the run (MethodRun) trains, costs and records.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/search/search_run.h"

namespace nce::search {

// What a method may ask of the run it belongs to.
class MethodRun {
 public:
  virtual ~MethodRun() = default;
  virtual const SearchConfig& config() const = 0;
  virtual const models::Network& base() const = 0;
  // The supernet search (nce, tas); returns the last epoch's derived width vector.
  virtual std::vector<int> supernet_search() = 0;
  // Trains `widths` from scratch with the retrain budget, evaluates and records it as a final
  // candidate of `method`; `tag` names its retrain checkpoint.
  virtual Candidate retrain(const std::vector<int>& widths, const std::string& method,
                            const std::string& tag) = 0;
  // The costs of `widths` without training (recorded nowhere).
  virtual Candidate costed(const std::vector<int>& widths, int epoch) = 0;
  // The original network trained at `bits` (once per run).
  virtual Candidate original_at(int bits) = 0;
  virtual bool stopped_early() const = 0;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual const char* name() const = 0;
  // True for the methods that train a supernet (nce, tas).
  virtual bool searches_supernet() const = 0;
  // Runs the method; returns its chosen design (retrained when config().retrain).
  virtual Candidate run(MethodRun& run) const = 0;
};

// Every method name, in the order --help lists them.
const std::vector<std::string>& method_names();
// The method of that name; std::invalid_argument naming the known ones otherwise.
std::unique_ptr<Method> make_method(const std::string& name);

}  // namespace nce::search
