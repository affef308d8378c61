// Helpers shared by the subcommands of the `nce` executable (Boost.Program_options lives in apps/).
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <string>
#include <vector>

#include "interrupt.h"
#include "nce/models/network.h"
#include "nce/nn/trainer.h"
#include "nce/results/result_sink.h"

namespace nce::app {

namespace po = boost::program_options;

// Parses `args` against `options`. Unknown options, abbreviated option names (no prefix guessing:
// `--mod` is not `--model`) and stray positionals are errors. When --help is among the args,
// prints "Usage: nce <command> <usage>" + the options to stdout and returns false. Then checks
// every option with check_numeric_options and check_output_paths. Throws po::error or
// std::invalid_argument (caught by run_guarded) on bad input.
bool parse_or_help(const std::vector<std::string>& args, const std::string& command,
                   const std::string& usage, const po::options_description& options,
                   po::variables_map& vm,
                   const po::positional_options_description* positional = nullptr);

// The one numeric-option validator of the CLI (parse_or_help calls it for every command): every
// float/double option must be finite, an unsigned one must not be negative (no wrap-around), and
// an option named in the shared bounds table (cli_util.cpp: lr, momentum, weight-decay, threads,
// pact-init, ...) must lie in its range. Throws std::invalid_argument naming the option, the value
// and the allowed range.
void check_numeric_options(const po::parsed_options& parsed, const po::variables_map& vm);

// The one output-path check of the CLI (parse_or_help calls it for every command), before any work
// starts: an output option (--out, --json FILE, --md, --seeds-csv, --checkpoint, --analysis DIR)
// must not name the same file as any other path option (--db, --hw, --checkpoint, ..., the
// positional inputs; compared by device and inode, or by canonical path when it does not exist
// yet), its directory must exist and be writable, and a file output must not be an existing
// directory. "-" (stdout) and "" are not paths. Throws std::invalid_argument naming both options
// and the path.
void check_output_paths(const po::variables_map& vm);

// Runs `body`, turning exceptions into "nce <command>: error: <what>" on stderr and exit code 2;
// an Interrupted (interrupt.h) into "nce <command>: interrupted by SIGINT" and 128 + the signal.
template <typename Body>
int run_guarded(const std::string& command, Body&& body);

int report_error(const std::string& command, const std::string& what);
int report_interrupted(const std::string& command, const common::Interrupted& interrupted);

template <typename Body>
int run_guarded(const std::string& command, Body&& body) {
  try {
    return body();
  } catch (const common::Interrupted& e) {
    return report_interrupted(command, e);
  } catch (const std::exception& e) {
    return report_error(command, e.what());
  }
}

// The input shape a --dataset names (cifar10, fashion-mnist, imagenet); "" = the model's
// canonical input. Throws std::invalid_argument naming the value.
models::InputShape input_for_dataset(const std::string& model, const std::string& dataset);

// "45s", "3m07s", "1h02m"; "?" for a negative or non-finite value.
std::string format_duration(double seconds);

// Writes `text` to `path` ("-" = stdout) with write_file_atomic (nce/common/output_file.h: an
// exclusive temporary, fsync, rename; a target that is not a regular file is refused); throws
// std::runtime_error naming the path on failure and leaves no temporary behind.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace nce::app
