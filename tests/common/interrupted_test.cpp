#include "nce/common/interrupted.h"

#include <gtest/gtest.h>

#include <csignal>
#include <string>

namespace nce::common {
namespace {

TEST(Interrupted, NamesTheSignalAndExitsWith128PlusIt) {
  const Interrupted sigint(SIGINT), sigterm(SIGTERM), other(SIGHUP);
  EXPECT_EQ(std::string(sigint.what()), "interrupted by SIGINT");
  EXPECT_EQ(std::string(sigterm.what()), "interrupted by SIGTERM");
  EXPECT_EQ(std::string(other.what()), "interrupted by a signal");
  EXPECT_EQ(sigint.exit_code(), 130);
  EXPECT_EQ(sigterm.exit_code(), 143);
  EXPECT_EQ(other.signal(), SIGHUP);
}

}  // namespace
}  // namespace nce::common
