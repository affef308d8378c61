// One NCE or TAS supernet search (docs/algorithm.md §5), the part of run_search that trains
// the supernet: the 50/50 split of the training set, warm-up epochs (weight steps with uniform
// draws), search epochs (a weight step on D_w, then an architecture step on D_a: CE plus the cost
// terms, Adam on alpha), at the end of every search epoch the derived (argmax) candidate and, for
// NCE, the expansions; the checkpoint after every epoch and the exact resume
// (search_checkpoint.h). The retrain of the result is run_search's.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "nce/models/network.h"
#include "nce/nn/dataset.h"
#include "nce/nn/optimizer.h"
#include "nce/nn/schedule.h"
#include "nce/search/arch_optimizer.h"
#include "nce/search/arch_params.h"
#include "nce/search/search_run.h"
#include "nce/search/supernet.h"

namespace nce::search {

class SupernetSearch {
 public:
  // config.method is "nce" (expansions on, config.max_candidates) or "tas" (8 candidates).
  // `base`, `train`, `hw` and `observer` must outlive the search.
  SupernetSearch(const SearchConfig& config, const models::Network& base, const nn::Dataset& train,
                 const HardwareCosts& hw, SearchObserver* observer);
  ~SupernetSearch();

  // Runs the remaining epochs (all, or after a resume) and appends every epoch record and derived
  // candidate to `result` (epochs, candidates; resumed, stopped_early). Returns the last derived
  // width vector.
  std::vector<int> run(SearchResult& result);

 private:
  struct CostTermFn;
  // Loads config.checkpoint_path when resuming and it exists; returns the first epoch to run.
  int resume(SearchResult& result);
  void weight_step(const nn::Tensor& images, const std::vector<int>& labels, double tau,
                   bool warmup, float lr, double& loss, std::int64_t& correct);
  double arch_step(const nn::Tensor& images, const std::vector<int>& labels, double tau,
                   std::vector<std::vector<double>>& ce_grad_sum);
  // The derived candidate and NCE's expansions after a search epoch.
  void end_of_search_epoch(int epoch, SearchEpoch& rec, SearchResult& result);
  void save(int epochs_done, const SearchResult& result);

  const SearchConfig& c_;
  const models::Network& base_;
  const nn::Dataset& train_;
  const HardwareCosts& hw_;
  SearchObserver* obs_;
  bool nce_;
  std::mt19937_64 rng_;
  ArchParams arch_;
  SupernetOptions sopt_;
  std::unique_ptr<Supernet> net_;
  std::unique_ptr<nn::Sgd> sgd_;
  ArchOptimizer adam_;
  CostAccounting acc_;
  std::vector<CostTermFn> terms_;
  std::vector<double> targets_;
  std::vector<int> derived_;
  nn::Tensor grad_, probs_;
};

}  // namespace nce::search
