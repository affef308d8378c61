// The `nce` executable's subcommands. Each cmd_<name>.cpp defines one (or a group such as
// `db query|pareto|export`) and registers it with a static NCE_REGISTER_COMMAND; main() dispatches.
// Boost.Program_options is used here, in apps/, and nowhere else.
#pragma once

#include <string>
#include <vector>

namespace nce::app {

// args: everything after the subcommand name (argv[2..]). Returns the process exit code. main()
// runs it under run_guarded(name) (cli_util.h): an exception it throws becomes
// "nce <name>: error: ..." and exit code 2, an interruption 128 + the signal.
using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  std::string name;     // "models", "sim", "train", ...
  std::string summary;  // one line for `nce --help`
  CommandFn run = nullptr;
};

// Registers a command; called during static initialization by NCE_REGISTER_COMMAND.
bool register_command(const Command& command);
const std::vector<Command>& commands();

}  // namespace nce::app

#define NCE_CONCAT_INNER(a, b) a##b
#define NCE_CONCAT(a, b) NCE_CONCAT_INNER(a, b)
#define NCE_REGISTER_COMMAND(name, summary, fn)                     \
  static const bool NCE_CONCAT(nce_registered_command_, __LINE__) = \
      ::nce::app::register_command(::nce::app::Command{name, summary, fn})
