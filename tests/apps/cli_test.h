// Runs the nce executable in a subprocess and captures what it printed.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

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

inline bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// A command line (appended to the binary as is) and what its output must contain.
struct CliCase {
  const char* args;
  const char* needle;
};

// Runs each case: its output must contain the needle, and it must exit with `exit_code`, or (none
// given) with some non-zero status that is not a crash.
inline void expect_refused(const std::vector<CliCase>& cases,
                           std::optional<int> exit_code = std::nullopt) {
  for (const CliCase& c : cases) {
    const CliResult r = run_nce(c.args);
    if (exit_code) {
      EXPECT_EQ(r.exit_code, *exit_code) << c.args << "\n" << r.output;
    } else {
      EXPECT_NE(r.exit_code, 0) << c.args;
      EXPECT_NE(r.exit_code, -1) << c.args << " crashed";
    }
    EXPECT_TRUE(contains(r.output, c.needle)) << c.args << "\n" << r.output;
  }
}

#ifdef NCE_TEST_DATA_DIR
// A Fashion-MNIST directory whose test files are the committed sample's training files, one per
// test (ctest runs the tests in parallel processes): TempDir()/<prefix><test name>.
inline std::string fashion_mnist_sample_dir(const std::string& prefix) {
  const std::string dir = ::testing::TempDir() + prefix +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string src = std::string(NCE_TEST_DATA_DIR) + "/nn/fashion-mnist-sample";
  const std::string cmd = "mkdir -p " + dir + " && cp " + src + "/train-images-idx3-ubyte.gz " +
                          src + "/train-labels-idx1-ubyte.gz " + dir + "/ && cp " + src +
                          "/train-images-idx3-ubyte.gz " + dir +
                          "/t10k-images-idx3-ubyte.gz && cp " + src +
                          "/train-labels-idx1-ubyte.gz " + dir + "/t10k-labels-idx1-ubyte.gz";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}
#endif

}  // namespace nce::testing
