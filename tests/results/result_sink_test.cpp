// The non-database sinks: the console one prints one line per event, the null one only counts
// run ids; RunScope finishes a run exactly once.
#include "nce/results/result_sink.h"

#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>

namespace nce::results {
namespace {

TEST(ConsoleSink, OneLinePerEvent) {
  std::ostringstream out;
  ConsoleSink sink(out);
  RunInfo info;
  info.method = "tas";
  info.model = "resnet20";
  {
    RunScope run(sink, info);
    EpochRecord e;
    e.epoch = 1;
    e.phase = "search";
    e.loss = 1.5;
    run.epoch(e);
    CandidateRecord c;
    c.phase = "final";
    c.widths = {3, 8};
    c.macs = 42;
    c.top1 = 90.5;
    run.candidates({c, c});
    run.finish(RunStatus::kFinished, 90.5);
  }
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << text;
  EXPECT_NE(text.find("run 1 begin: method=tas model=resnet20"), std::string::npos) << text;
  EXPECT_NE(text.find("run 1 epoch 1 search loss=1.5"), std::string::npos) << text;
  EXPECT_NE(text.find("run 1 candidate final widths=[3,8] macs=42 top1=90.5"), std::string::npos)
      << text;
  EXPECT_NE(text.find("run 1 finished final_top1=90.5"), std::string::npos) << text;
  EXPECT_EQ(text.find("failed"), std::string::npos) << text;  // finished once, not again
}

TEST(NullSink, CountsRunIds) {
  NullSink sink;
  EXPECT_EQ(sink.begin_run({}), 1);
  EXPECT_EQ(sink.begin_run({}), 2);
  sink.record_candidate(2, CandidateRecord{});
  sink.finish_run(2, RunStatus::kFailed, std::nullopt);
  EXPECT_STREQ(to_string(RunStatus::kInterrupted), "interrupted");
}

}  // namespace
}  // namespace nce::results
