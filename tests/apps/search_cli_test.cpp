// nce search end to end through its command line: a tiny NCE search on the 100-image Fashion-MNIST
// sample (used as both training and test set), its JSON summary and its database rows; bad options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_test.h"

namespace nce::testing {
namespace {

std::string sample_dir() {
  return fashion_mnist_sample_dir("nce_search_cli_fmnist_");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SearchCli, TinyNceSearchWritesItsSummaryAndDatabase) {
  const std::string dir = sample_dir();
  const std::string json = ::testing::TempDir() + "nce_search_cli.json";
  const std::string db = ::testing::TempDir() + "nce_search_cli.db";
  std::remove(db.c_str());
  CliResult r = run_nce("search --method nce --model resnet8 --data " + dir +
                        " --batch 10 --warmup-epochs 1 --search-epochs 2 --retrain-epochs 1 "
                        "--max-batches 2 --pact-init 3 --hw " NCE_SOURCE_DIR
                        "/hw_configs/edge-16x16-ws-2b.cfg --lambda-latency 1 --json " +
                        json + " --db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "nce / original")) << r.output;
  const std::string summary = read_file(json);
  for (const char* key : {"\"what\": \"search\"", "\"final\"", "\"original\"", "\"widths\"",
                          "\"latency_cycles\"", "\"top1\"", "\"pact-init\":3"}) {
    EXPECT_TRUE(contains(summary, key)) << key << "\n" << summary;
  }
  r = run_nce("db query --db " + db +
              " \"SELECT method || ':' || phase || ':' || count(*) FROM v_candidates GROUP BY "
              "method, phase ORDER BY 1\" --csv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "nce:final:1")) << r.output;
  EXPECT_TRUE(contains(r.output, "nce:search:2")) << r.output;
  std::remove(json.c_str());
  std::remove(db.c_str());
}

TEST(SearchCli, AnalysisWritesActivationStatisticsAndDistillationRuns) {
  const std::string dir = sample_dir();
  const std::string out = ::testing::TempDir() + "nce_search_cli_analysis";
  std::system(("rm -rf " + out).c_str());
  CliResult r = run_nce("search --method tas --model resnet8 --data " + dir +
                        " --batch 10 --warmup-epochs 1 --search-epochs 1 --retrain-epochs 1 "
                        "--max-batches 2 --pact-init 3 --distill --probe-images 20 --analysis " +
                        out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "distilled from the original W2")) << r.output;
  EXPECT_TRUE(contains(r.output, "activations (Fig. 1")) << r.output;
  const std::string csv = read_file(out + "/activations.csv");
  EXPECT_TRUE(contains(csv, "network,method,bits,top1,layer_index,layer,channels,mean,stdev"))
      << csv;
  for (const char* row : {"original W32A32,original,32,", "original W2A2,original,2,",
                          "tas W2A2,tas,2,", ",stem,", ",s3b1.out,"}) {
    EXPECT_TRUE(contains(csv, row)) << row << "\n" << csv;
  }
  // 3 networks x 7 activations of ResNet-8 + the header.
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 22) << csv;
  EXPECT_FALSE(read_file(out + "/alpha.csv").empty());
  for (const char* svg : {"/activations_stdev.svg", "/activations_sqnr.svg"}) {
    const std::string chart = read_file(out + svg);
    EXPECT_TRUE(contains(chart, "data-name=\"original W32A32\"")) << svg;
    EXPECT_TRUE(contains(chart, "s2b1.conv_a")) << svg;
  }
  std::system(("rm -rf " + out).c_str());
}

TEST(SearchCli, BadOptionsExitWithAMessageBeforeLoadingData) {
  expect_refused(
      {
          {"search --threshold 1.5", "--threshold must be in (0, 1)"},
          {"search --lambda-params -2", "--lambda-params must be >= 0"},
          {"search --lambda-energy 1", "needs a hardware config"},
          {"search --pact-init 0", "--pact-init must be > 0"},
          {"search --method darts", "unknown --method 'darts'"},
          {"search --model resnet50", "CIFAR ResNets and vgg16"},
          {"search --hw /nonexistent.cfg", "/nonexistent.cfg"},
          {"search --resume", "--resume needs --checkpoint"},
          {"search --distill --distill-weight 2", "--distill-weight must be in [0, 1]"},
          {"search --distill --method none", "--distill needs a method that changes the widths"},
          {"search --distill --distill-teacher-bits 6", "--distill-teacher-bits must be 2, 3, 4"},
      },
      2);
}

}  // namespace
}  // namespace nce::testing
