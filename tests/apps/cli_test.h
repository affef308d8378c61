// Runs the nce executable in a subprocess and captures what it printed.
#pragma once

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <string>

namespace nce::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `args` is appended to the binary's path as is (shell syntax).
inline CliResult run_nce(const std::string& args) {
  CliResult result;
  const std::string command = std::string(NCE_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace nce::testing
