#include "nce/nn/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace nce::nn {
namespace {

constexpr double kTolerance = 1e-12;

TEST(ScheduleTest, CosineWithoutWarmup) {
  const CosineSchedule s(0.1, 100);
  EXPECT_NEAR(s.at(0), 0.1, kTolerance);
  EXPECT_NEAR(s.at(50), 0.05, kTolerance);
  EXPECT_NEAR(s.at(25), 0.05 * (1 + std::cos(M_PI / 4)), kTolerance);
  EXPECT_NEAR(s.at(100), 0.0, kTolerance);
  EXPECT_NEAR(s.at(150), 0.0, kTolerance);  // clamped past the end
}

TEST(ScheduleTest, LinearWarmupThenCosine) {
  const CosineSchedule s(0.4, 110, 10, 0.004);
  EXPECT_NEAR(s.at(0), 0.04, kTolerance);
  EXPECT_NEAR(s.at(4), 0.2, kTolerance);
  EXPECT_NEAR(s.at(9), 0.4, kTolerance);
  EXPECT_NEAR(s.at(10), 0.4, kTolerance);
  EXPECT_NEAR(s.at(60), 0.004 + 0.396 * 0.5, kTolerance);
  EXPECT_NEAR(s.at(110), 0.004, kTolerance);
  for (int i = 11; i <= 110; ++i) EXPECT_LE(s.at(i), s.at(i - 1));
}

TEST(ScheduleTest, RejectsBadSettings) {
  EXPECT_THROW(CosineSchedule(0.1, 0), std::invalid_argument);
  EXPECT_THROW(CosineSchedule(0.1, 10, 11), std::invalid_argument);
  EXPECT_THROW(CosineSchedule(-0.1, 10), std::invalid_argument);
  EXPECT_THROW(CosineSchedule(NAN, 10), std::invalid_argument);
  EXPECT_NO_THROW(CosineSchedule(0.1, 10, 10));
}

}  // namespace
}  // namespace nce::nn
