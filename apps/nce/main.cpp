// The `nce` executable: dispatches to the registered subcommands (command.h). Two-word commands
// such as `nce db query` or `nce bench sim` are registered under their full name.
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli_util.h"
#include "command.h"
#include "nce/nn/isa.h"

namespace nce::app {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace

bool register_command(const Command& command) {
  registry().push_back(command);
  return true;
}

const std::vector<Command>& commands() {
  auto& all = registry();
  std::sort(all.begin(), all.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  return all;
}

}  // namespace nce::app

namespace {

void print_overview(std::ostream& out, const std::string& prefix = "") {
  if (prefix.empty()) {
    out << "nce: a hardware/network co-design explorer for ultra-low uniform-precision CNNs.\n"
           "Searches per-layer channel widths (NCE, TAS, WRPN, random) for 2-bit networks,\n"
           "costs them on a cycle-accurate 2-bit MAC array, and stores every design in SQLite.\n\n"
           "Usage: nce <command> [options]     nce <command> --help for its options\n\n"
           "Commands:\n";
  } else {
    out << "Usage: nce " << prefix << " <subcommand> [options]\n\nSubcommands:\n";
  }
  for (const auto& c : nce::app::commands()) {
    if (!prefix.empty() && c.name.rfind(prefix + " ", 0) != 0) continue;
    out << "  " << c.name;
    for (size_t i = c.name.size(); i < 16; ++i) out << ' ';
    out << "  " << c.summary << "\n";
  }
  if (prefix.empty()) {
    out << "\nVersion " NCE_VERSION ", commit " NCE_GIT_COMMIT "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_overview(std::cout);
    return args.empty() ? 1 : 0;
  }
  // The kernels' instruction-set level (NCE_ISA or the CPU's best): a bad NCE_ISA stops here.
  try {
    nce::nn::select_isa_from_environment();
  } catch (const std::exception& e) {
    std::cerr << "nce: " << e.what() << "\n";
    return 2;
  }
  if (args[0] == "--version") {
    std::cout << "nce " NCE_VERSION " (" NCE_GIT_COMMIT ")\n"
              << "kernels: " << nce::nn::isa_description() << "\n";
    return 0;
  }
  const auto& all = nce::app::commands();
  auto run = [](const nce::app::Command& c, std::vector<std::string> rest) {
    return nce::app::run_guarded(c.name, [&] { return c.run(rest); });
  };
  // Longest match first: "db query" before "db".
  if (args.size() >= 2) {
    const std::string two = args[0] + " " + args[1];
    for (const auto& c : all) {
      if (c.name == two) return run(c, std::vector<std::string>(args.begin() + 2, args.end()));
    }
  }
  for (const auto& c : all) {
    if (c.name == args[0]) return run(c, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  // A group such as `nce db` with no or an unknown subcommand.
  bool is_group = std::any_of(all.begin(), all.end(), [&](const nce::app::Command& c) {
    return c.name.rfind(args[0] + " ", 0) == 0;
  });
  if (is_group) {
    bool asked_help = args.size() == 1 || args[1] == "--help" || args[1] == "-h";
    if (!asked_help) std::cerr << "nce: unknown subcommand '" << args[0] << " " << args[1] << "'\n";
    print_overview(asked_help ? std::cout : std::cerr, args[0]);
    return asked_help ? 0 : 2;
  }
  std::cerr << "nce: unknown command '" << args[0] << "' (nce --help lists them)\n";
  return 2;
}
