// A campaign's arms over their seeds. `nce campaign` records every job (arm x hw x seed) as one
// run with runs.campaign and runs.arm set; here the finished runs of one arm (same campaign and
// hw config) form a group, each run contributes its final design, and the group has a mean and a
// sample standard deviation per metric. Two groups are compared by Welch's t-test (stats.h).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nce/results/candidates.h"
#include "nce/results/database.h"
#include "nce/results/stats.h"

namespace nce::results {

struct ArmSeed {
  // The run's final design: among its phase "final" candidates of the run's own method, the one
  // with the best top-1 (the first of equals; the result the search reports); a run without one
  // contributes its highest-epoch candidate (the latest row on ties).
  CandidateRow design;
};

struct ArmGroup {
  std::string campaign, arm, hw;  // the group's key (hw: the runs' hw config name, "" = none)
  std::string method, model, dataset;
  std::optional<int> bits;
  std::vector<ArmSeed> seeds;  // finished runs, by run id
  // Runs of the arm left out, by status ("running", "failed", "interrupted", "diverged").
  std::map<std::string, std::size_t> left_out;
  // How tables and charts name the group: the arm; "<arm> @<hw>" when the campaign's groups span
  // several hw configs; "<campaign>/" in front when the groups span several campaigns.
  std::string name;

  // Over the seeds whose design has the metric (all of `metrics`, when given).
  SampleStats stats(Metric metric, const std::vector<Metric>& metrics = {}) const;
};

// Groups the campaign runs that match `filter` (its phase and require are ignored: a seed is
// always its run's final design; method matches the run's method). Runs outside any campaign are
// not returned. Order: campaign, hw, then original, nce, tas, wrpn, random, the rest (for one
// method the arm named after it first, then by name).
std::vector<ArmGroup> load_arm_groups(const Database& db, const CandidateFilter& filter);

struct ArmComparison {
  const ArmGroup* arm = nullptr;
  const ArmGroup* reference = nullptr;
  Metric metric = Metric::kTop1;
  SampleStats arm_stats, reference_stats;
  WelchTest test;  // arm minus reference
};

// Every group against the group of arm `reference` in its campaign and hw config (groups without
// one, and the reference itself, are skipped), for each metric that both groups have. The
// comparisons point into `groups`, which must outlive them.
std::vector<ArmComparison> compare_arms(const std::vector<ArmGroup>& groups,
                                        const std::string& reference,
                                        const std::vector<Metric>& metrics);

}  // namespace nce::results
