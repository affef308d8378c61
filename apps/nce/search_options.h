// nce search's command line: its options (what --help shows) and their mapping onto a
// search::SearchConfig plus the command's own settings (data, hw, outputs).
#pragma once

#include <string>

#include "cli_util.h"
#include "nce/search/search_run.h"

namespace nce::app {

struct SearchCommand {
  search::SearchConfig config;
  std::string data_dir;      // "" = the data set's default location
  std::string hw_path;       // --hw, "" = none
  std::string db_path;       // --db, "" = none
  std::string analysis_dir;  // --analysis, "" = none
  std::string json_path;     // --json, "" = none
  int subset = 0, test_subset = 0;
  bool baseline = false, quiet = false;
  std::string config_json;  // every option, given or defaulted, as recorded with the run
};

po::options_description search_options();
// Maps and validates the options (search::validate included): std::invalid_argument naming the
// option for a bad one, before anything is loaded.
SearchCommand search_command(const po::variables_map& vm);

}  // namespace nce::app
