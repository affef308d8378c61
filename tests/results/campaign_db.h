// A result database holding a small synthetic campaign (runs with runs.campaign and runs.arm set)
// beside one run outside it, for the arm-grouping and comparison tests. The numbers are chosen so
// that the means, sds and Welch statistics can be worked out by hand (see the tests).
#pragma once

#include <string>
#include <vector>

#include "nce/models/network.h"
#include "nce/results/sqlite_sink.h"

namespace nce::results::testing {

struct SyntheticSeed {
  std::string arm, method;
  std::uint64_t seed = 1;
  double top1 = 0;
  std::int64_t macs = 0, params = 0;
  RunStatus status = RunStatus::kFinished;
  int widened_layer = 1;  // this seed's design widens one layer of resnet20 by 4 channels
};

// Campaign "c1" (resnet20, cifar10, W2A2, no hw):
//   original: top1 78, 79, 80   MACs 200, 200, 200   PARAMs 2000 x3
//   nce:      top1 80, 81, 82   MACs 100, 110, 120   PARAMs 1000 x3
//   tas:      top1 79.5, 80.5   MACs 150, 160        PARAMs 1500, 1600; a third seed failed
//   tas-2x:   top1 83           MACs 400             PARAMs 4000 (one seed)
// Each run also records a search-phase candidate (worse, cheaper) and the nce runs a retrained
// "original" row (a distillation teacher) with a higher top-1 that is not the run's design.
// Run 11 is a "random" run outside any campaign with two final candidates.
inline const std::vector<SyntheticSeed>& synthetic_campaign() {
  static const std::vector<SyntheticSeed> seeds = {
      {"original", "original", 1, 78, 200, 2000, RunStatus::kFinished, 1},
      {"nce", "nce", 1, 80, 100, 1000, RunStatus::kFinished, 2},
      {"tas", "tas", 1, 79.5, 150, 1500, RunStatus::kFinished, 3},
      {"tas-2x", "tas", 1, 83, 400, 4000, RunStatus::kFinished, 4},
      {"original", "original", 2, 79, 200, 2000, RunStatus::kFinished, 1},
      {"nce", "nce", 2, 81, 110, 1000, RunStatus::kFinished, 5},
      {"tas", "tas", 2, 80.5, 160, 1600, RunStatus::kFinished, 6},
      {"original", "original", 3, 80, 200, 2000, RunStatus::kFinished, 1},
      {"nce", "nce", 3, 82, 120, 1000, RunStatus::kFinished, 7},
      {"tas", "tas", 3, 90, 170, 1700, RunStatus::kFailed, 8},
  };
  return seeds;
}

inline void fill_campaign(const std::string& path) {
  SqliteSink sink(path);
  for (const SyntheticSeed& s : synthetic_campaign()) {
    RunInfo info;
    info.method = s.method;
    info.model = "resnet20";
    info.dataset = "cifar10";
    info.bits = 2;
    info.seed = s.seed;
    info.campaign = "c1";
    info.arm = s.arm;
    const RunId run = sink.begin_run(info);
    std::vector<int> widths = models::default_widths("resnet20");
    CandidateRecord search;
    search.epoch = 3;
    search.phase = "search";
    search.widths = widths;
    search.macs = s.macs / 2;
    search.params = s.params / 2;
    search.top1 = s.top1 - 10;
    CandidateRecord final = search;
    final.epoch.reset();
    final.phase = "final";
    final.method = s.method;
    widths[s.widened_layer] += 4;
    final.widths = widths;
    final.macs = s.macs;
    final.params = s.params;
    final.top1 = s.top1;
    std::vector<CandidateRecord> rows = {search, final};
    if (s.method == "nce") {
      CandidateRecord teacher = final;
      teacher.method = "original";
      teacher.top1 = 99;
      teacher.macs = 999;
      teacher.widths = models::default_widths("resnet20");
      rows.insert(rows.begin() + 1, teacher);
    }
    sink.record_candidates(run, rows);
    if (s.status == RunStatus::kFinished) {
      sink.finish_run(run, s.status, s.top1);
    } else {
      sink.finish_run(run, s.status, std::nullopt);
    }
  }
  RunInfo info;
  info.method = "random";
  info.model = "resnet20";
  info.dataset = "cifar10";
  info.bits = 2;
  const RunId run = sink.begin_run(info);
  for (int k = 0; k < 2; ++k) {
    CandidateRecord c;
    c.phase = "final";
    c.widths = models::default_widths("resnet20");
    c.macs = 130 + 20 * k;
    c.params = 1300;
    c.top1 = 78.5 + k;
    sink.record_candidate(run, c);
  }
  sink.finish_run(run, RunStatus::kFinished, 79.5);
}

}  // namespace nce::results::testing
