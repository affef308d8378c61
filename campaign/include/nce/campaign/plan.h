// A campaign plan: the experiment of a comparison in one INI file (the syntax of sweep files,
// nce/common/ini.h). It names the model, the data, the bits, the hardware, the protocol every arm
// shares and the arms (original, nce, tas, 2X tas, wrpn multipliers, random) times seeds:
//
//   [campaign]
//   name = cifar10-resnet20-w2a2        # the campaign's name in the database (runs.campaign)
//   model = resnet20
//   dataset = cifar10                   # cifar10 | fashion-mnist
//   data = /data/cifar-10-batches-bin   # optional; `nce campaign --data DIR` overrides it
//   hw = ../../hw_configs/edge-16x16-ws-2b.cfg   # optional, a list = every job on each
//   seeds = 1, 2, 3                     # default seeds of every arm
//   subset = 0                          # training images per class (0: all)
//   test-subset = 0                     # test images per class (0: all)
//
//   [protocol]                          # `nce search` options without the dashes, e.g.
//   bits = 2
//   warmup-epochs = 3
//   search-epochs = 12
//   retrain-epochs = 15
//   lambda-flops = 2
//
//   [arm nce]                           # one section per arm: "arm <name>"
//   method = nce                        # required: nce | tas | wrpn | random | none (original)
//   [arm tas-2x]
//   method = tas
//   base-multiplier = 2                 # any protocol key may be overridden per arm
//   seeds = 1                           # and the seeds
//
// Keys may be written with '-' or '_'. Relative paths (data, hw) are relative to the plan's
// directory. Every job (arm x hw x seed) is one search (search::SearchConfig) with its own
// checkpoint. Errors (an unknown section or key, a bad value, no arm, an arm without method, an
// impossible protocol: search::validate of every job, a latency/energy term without hw) are
// std::invalid_argument "<file>:<line>: ..." naming the key and value, before any job starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nce/search/search_run.h"

namespace nce::campaign {

struct Job {
  std::string id;   // "<arm>-s<seed>" (one hw) or "<arm>-<hw name>-s<seed>": a file name
  std::string arm;  // the arm's name
  std::uint64_t seed = 1;
  std::string hw_path;            // "" = no hardware costs
  search::SearchConfig config;    // seed set; checkpoint_path/resume left to the runner
  std::string config_json;        // every resolved setting, canonical: the job's identity
};

struct Plan {
  std::string name;
  std::string source;  // the plan file
  std::string model = "resnet20";
  std::string dataset = "cifar10";
  std::string data_dir;  // "" = the data set's default location
  int subset = 0;
  int test_subset = 0;
  std::vector<std::string> hw_paths;
  std::vector<std::string> arms;  // in file order
  std::vector<Job> jobs;          // seed-major (every arm's first seed first), then arm, hw
};

// `base_dir` resolves relative paths (the plan file's directory).
Plan parse_plan(const std::string& text, const std::string& source, const std::string& base_dir);
Plan load_plan(const std::string& path);

}  // namespace nce::campaign
