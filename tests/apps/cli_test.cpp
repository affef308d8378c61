#include "cli_test.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "nce/models/network.h"

namespace nce::testing {
namespace {

TEST(Cli, HelpListsCommands) {
  CliResult r = run_nce("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "models show")) << r.output;
  r = run_nce("models show --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "--widths")) << r.output;
  r = run_nce("models");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "models list")) << r.output;
}

TEST(Cli, ModelsShowJsonHoldsTheContract) {
  CliResult r = run_nce("models show --model resnet20 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* key :
       {"\"model\":\"resnet20\"", "\"macs\":40813184", "\"params\":272282", "\"layers\":[",
        "\"name\":\"stem\"", "\"kind\":\"conv\"", "\"c_in\":3", "\"c_out\":16", "\"k\":3",
        "\"stride\":1", "\"h_in\":32", "\"w_in\":32", "\"h_out\":32", "\"w_out\":32",
        "\"macs\":442368", "\"params\":464", "\"name\":\"fc\"", "\"kind\":\"fc\""}) {
    EXPECT_TRUE(contains(r.output, key)) << key << "\n" << r.output;
  }
}

TEST(Cli, ModelsShowTableWithWidths) {
  CliResult r = run_nce(
      "models show --model resnet20 --widths 3,16,6,4,4,4,4,4,32,32,12,19,32,28,64,64,64,64,64,44");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "22444472")) << r.output;
  EXPECT_TRUE(contains(r.output, "s1b1.shortcut")) << r.output;
}

TEST(Cli, BadInputExitsNonZeroWithAMessage) {
  expect_refused({
      {"models show --model resnet21", "unknown model 'resnet21'"},
      {"models show --model resnet20 --widths 3,16", "takes 20 widths"},
      {"models show --model resnet20 --widths 3,16,0,16,16,16,16,16,32,32,32,32,32,32,64,64,64,64,"
       "64,64",
       "width 2 is 0"},
      {"models show --model resnet20 --widths 3,16,x", "item 2 ('x')"},
      {"models show --model resnet20 --bogus", "bogus"},
      {"models show", "--model is required"},
      {"frobnicate", "unknown command 'frobnicate'"},
      {"models show --topology /nonexistent.csv", "/nonexistent.csv"},
  });
}

TEST(Cli, TopologyExportReadsBack) {
  const std::string path = ::testing::TempDir() + "nce_cli_r20.csv";
  CliResult r = run_nce("models export --model resnet20 --out " + path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_nce("models show --topology " + path + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\"macs\":40813184")) << r.output;
  // A malformed CSV names the file and the line.
  {
    std::ofstream bad(path);
    bad << "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
           "Num Filter, Strides,\nconv1, 34, 34, 3, 3, three, 16, 1,\n";
  }
  r = run_nce("models show --topology " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "line 2")) << r.output;
  EXPECT_TRUE(contains(r.output, "'Channels' is 'three'")) << r.output;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace nce::testing
