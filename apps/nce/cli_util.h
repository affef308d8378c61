// Helpers shared by the subcommands of the `nce` executable (Boost.Program_options lives in apps/).
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <string>
#include <vector>

#include "nce/models/network.h"

namespace nce::app {

namespace po = boost::program_options;

// Parses `args` against `options`. Unknown options and stray positionals are errors. When --help
// is among the args, prints "Usage: nce <command> <usage>" + the options to stdout and returns
// false. Throws po::error (caught by run_guarded) on bad input.
bool parse_or_help(const std::vector<std::string>& args, const std::string& command,
                   const std::string& usage, const po::options_description& options,
                   po::variables_map& vm,
                   const po::positional_options_description* positional = nullptr);

// Runs `body`, turning exceptions into "nce <command>: error: <what>" on stderr and exit code 2.
template <typename Body>
int run_guarded(const std::string& command, Body&& body);

int report_error(const std::string& command, const std::string& what);

template <typename Body>
int run_guarded(const std::string& command, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return report_error(command, e.what());
  }
}

// The input shape a --dataset names (cifar10, fashion-mnist, imagenet); "" = the model's
// canonical input. Throws std::invalid_argument naming the value.
models::InputShape input_for_dataset(const std::string& model, const std::string& dataset);

// "45s", "3m07s", "1h02m"; "?" for a negative or non-finite value.
std::string format_duration(double seconds);

// Writes `text` to `path` ("-" = stdout); throws std::runtime_error naming the path on failure.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace nce::app
