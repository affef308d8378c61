#include "nce/campaign/plan.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace nce::campaign {
namespace {

const char* kPlan = R"(
[campaign]
name = t
model = resnet8
dataset = fashion-mnist
seeds = 1, 2
[protocol]
bits = 2
warmup_epochs = 1
search-epochs = 2
[arm original]
method = none
[arm tas-2x]
method = tas
base-multiplier = 2
seeds = 7
)";

std::string error_of(const std::string& text) {
  try {
    parse_plan(text, "p.cfg", "");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Plan, JobsAreArmsTimesSeedsSeedMajorWithTheArmsOverrides) {
  const Plan p = parse_plan(kPlan, "p.cfg", "");
  ASSERT_EQ(p.jobs.size(), 3u);
  EXPECT_EQ(p.jobs[0].id, "original-s1");
  EXPECT_EQ(p.jobs[1].id, "original-s2");
  EXPECT_EQ(p.jobs[2].id, "tas-2x-s7");
  EXPECT_EQ(p.jobs[2].config.method, "tas");
  EXPECT_EQ(p.jobs[2].config.base_multiplier, 2.0);
  EXPECT_EQ(p.jobs[2].config.seed, 7u);
  EXPECT_EQ(p.jobs[0].config.warmup_epochs, 1);  // '_' and '-' spell the same key
  EXPECT_EQ(p.jobs[0].config.search_epochs, 2);
  EXPECT_EQ(p.jobs[0].config.model, "resnet8");
  EXPECT_FALSE(p.jobs[0].config.augment);  // Fashion-MNIST: no crop/flip by default
  // The identity of a job is every setting: seeds and overrides change it, nothing else does.
  EXPECT_NE(p.jobs[0].config_json, p.jobs[1].config_json);
  EXPECT_EQ(parse_plan(kPlan, "other.cfg", "").jobs[1].config_json, p.jobs[1].config_json);
}

TEST(Plan, UnknownKeysSectionsAndBadValuesAreRefusedWithTheLine) {
  std::string e = error_of(std::string(kPlan) + "[arm x]\nmethod = nce\nlamda-flops = 2\n");
  EXPECT_NE(e.find("p.cfg:19: unknown key 'lamda-flops' in [arm x]"), std::string::npos) << e;
  e = error_of(std::string(kPlan) + "[arms]\n");
  EXPECT_EQ(e, "");  // a header without entries is nothing
  e = error_of(std::string(kPlan) + "[arms]\nk = v\n");
  EXPECT_NE(e.find("p.cfg:18: unknown section [arms]"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\n[protocol]\nlr = fast\n[arm a]\nmethod = none\n");
  EXPECT_NE(e.find("p.cfg:4: 'lr' must be a finite number, got 'fast'"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\nseeds = 1, 1\n[arm a]\nmethod = none\n");
  EXPECT_NE(e.find("lists seed 1 twice"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\n[arm a]\nmethod = none\nmethod = tas\n");
  EXPECT_NE(e.find("p.cfg:5: key 'method' given twice"), std::string::npos) << e;
}

TEST(Plan, NoArmNoMethodNoNameOrAnImpossibleProtocolIsRefused) {
  EXPECT_NE(error_of("[campaign]\nname = t\n[protocol]\nbits = 2\n").find("the plan has no arm"),
            std::string::npos);
  EXPECT_NE(error_of("[campaign]\nname = t\n[arm a]\nseeds = 1\n").find("arm 'a' needs a method"),
            std::string::npos);
  EXPECT_NE(error_of("[arm a]\nmethod = none\n").find("needs a name"), std::string::npos);
  std::string e = error_of("[campaign]\nname = t\n[protocol]\nthreshold = 1.5\n[arm a]\nmethod = nce\n");
  EXPECT_NE(e.find("arm 'a': --threshold must be in (0, 1), got 1.5"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\n[arm a]\nmethod = nce\nwarmup-epochs = 0\nsearch-epochs = 0\n");
  EXPECT_NE(e.find("needs at least one warm-up or search epoch"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\n[arm a]\nmethod = genetic\n");
  EXPECT_NE(e.find("genetic"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\n[protocol]\nlambda-latency = 1\n[arm a]\nmethod = tas\n");
  EXPECT_NE(e.find("needs a hardware config"), std::string::npos) << e;
  e = error_of("[campaign]\nname = t\nhw = /no/such.cfg\n[arm a]\nmethod = tas\n");
  EXPECT_NE(e.find("/no/such.cfg"), std::string::npos) << e;
}

TEST(Plan, HwPathsAreRelativeToThePlanAndEveryJobRunsOnEach) {
  const std::string text =
      "[campaign]\nname = t\nmodel = resnet8\ndataset = fashion-mnist\nhw = "
      "edge-16x16-ws-2b.cfg, mid-32x32-os-2b.cfg\n[arm a]\nmethod = none\n";
  const Plan p = parse_plan(text, "p.cfg", std::string(NCE_SOURCE_DIR) + "/hw_configs");
  ASSERT_EQ(p.jobs.size(), 2u);
  EXPECT_EQ(p.jobs[0].id, "a-edge-16x16-ws-2b-s1");
  EXPECT_EQ(p.jobs[1].id, "a-mid-32x32-os-2b-s1");
  EXPECT_NE(p.jobs[0].config_json, p.jobs[1].config_json);  // the hw fingerprint is in it
}

}  // namespace
}  // namespace nce::campaign
