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
// The [protocol] and [arm NAME] keys are the settings table's (nce/record/search_settings.h:
// `nce search`'s options without the dashes; a switch such as --distill or --no-augment is written
// distill = yes, augment = no); each job's config_json is record::config_json, what its run
// stores. Keys may be written with '-' or '_'. Relative paths (data, hw) are relative to the plan's
// directory. Every job (arm x hw x seed) is one search (search::SearchConfig) with its own
// checkpoint. Errors (an unknown, repeated or empty section, an unknown or repeated key, a bad
// value, an unknown model, a widths list the model cannot take, no arm, an arm without method, an
// impossible protocol: search::validate of every job, a latency/energy term without hw, an hw
// config whose name is not a plain file-name word or is shared with another array) are
// std::invalid_argument "<file>:<line>: ..." naming the key and value, before any job starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nce/search/search_run.h"

namespace nce::campaign {

struct Job {
  std::string id;   // job_id(): "<arm>-s<seed>" (one hw) or "<arm>@<hw name>-s<seed>"
  std::string arm;  // the arm's name
  std::uint64_t seed = 1;
  std::string hw_path;          // "" = no hardware costs
  search::SearchConfig config;  // seed set; checkpoint_path/resume left to the runner
  std::string config_json;      // every resolved setting, canonical: the job's identity
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
  // text_fingerprint of the name and every job's id and config_json: the plan's identity. A
  // campaign database records it and refuses the jobs of another (campaign.h).
  std::string fingerprint;
};

// `base_dir` resolves relative paths (the plan file's directory).
Plan parse_plan(const std::string& text, const std::string& source, const std::string& base_dir);
Plan load_plan(const std::string& path);

// A job's id and the stem of its files: "<arm>-s<seed>", or "<arm>@<hw name>-s<seed>" when the
// plan has several hw configs. Arm and hw names are letters, digits, '-', '_' and '.', so '@'
// and the last "-s<digits>" decode it back: two different (arm, hw, seed) never share an id.
std::string job_id(const std::string& arm, const std::string& hw_name, std::uint64_t seed);

}  // namespace nce::campaign
