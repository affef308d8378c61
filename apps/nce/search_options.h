// nce search's command line: its options (what --help shows) and their mapping onto the search's
// settings (record::SearchSettings: every setting key of nce/record/search_settings.h is an option,
// with that table's type, default, range and help) plus the command's own inputs and outputs.
#pragma once

#include <string>

#include "cli_util.h"
#include "nce/record/search_settings.h"

namespace nce::app {

struct SearchCommand {
  record::SearchSettings settings;  // config: checkpoint, resume, analysis and probes set too
  std::string data_dir;             // "" = the data set's default location
  std::string hw_path;              // --hw, "" = none
  std::string db_path;              // --db, "" = none
  std::string analysis_dir;         // --analysis, "" = none
  std::string json_path;            // --json, "" = none
  bool baseline = false, quiet = false;
  // Every option, given or defaulted, by its option name: the command line as --json's "config"
  // echoes it. (The database's runs.config holds record::config_json, the form campaign jobs
  // store too.)
  std::string options_json;
};

po::options_description search_options();
// Maps and validates the options (search::validate included): std::invalid_argument naming the
// option for a bad one, before anything is loaded.
SearchCommand search_command(const po::variables_map& vm);

}  // namespace nce::app
