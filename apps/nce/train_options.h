// nce train's command line: its options (what --help shows) and their mapping onto an
// nn::TrainConfig plus the command's own settings (data, outputs).
#pragma once

#include <string>

#include "cli_util.h"
#include "nce/nn/trainer.h"

namespace nce::app {

struct TrainCommand {
  nn::TrainConfig config;  // widths filled in (the model's defaults when not given)
  std::string data_dir;    // "" = the data set's default location
  std::string db_path;     // --db, "" = none
  std::string json_path;   // --json, "" = none
  int subset = 0, test_subset = 0;
  bool quiet = false;
  std::string config_json;  // the settings as recorded with the run and in --json
};

po::options_description train_options();
// Maps and validates the options (nn::validate included; sets the OpenMP thread count when
// --threads is given): std::invalid_argument naming the option, before anything is loaded.
TrainCommand train_command(const po::variables_map& vm);

}  // namespace nce::app
