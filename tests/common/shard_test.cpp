#include "nce/common/shard.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace nce::common {
namespace {

TEST(Shard, ParsesIndexOverCount) {
  EXPECT_EQ(parse_shard("2/5").index, 2);
  EXPECT_EQ(parse_shard("2/5").count, 5);
  EXPECT_EQ(parse_shard("0/1").count, 1);
}

TEST(Shard, RefusesWhatIsNotIOverN) {
  for (const char* bad :
       {"", "1", "a/2", "1/b", "1/2x", "1x/2", "3/3", "-1/2", "0/0", "1/-2", "99999999999/2"}) {
    EXPECT_THROW(parse_shard(bad), std::invalid_argument) << bad;
  }
  try {
    parse_shard("1x/2");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'1x/2': bad index"), std::string::npos) << e.what();
  }
}

// Signs, spaces and other number syntax std::stoi took are refused like any malformed number.
TEST(Shard, RefusesSignsSpacesAndOtherNumberSyntax) {
  for (const char* bad : {" 1/2", "1/ 2", "1 /2", "1/2 ", "+1/+2", "+1/2", "1/+2", "0x1/2", "1/2.0",
                          "1e0/2", "\t1/2", "1/2\n", "//2", "1//2", "1/2/3"}) {
    try {
      parse_shard(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(parse_shard("007/8").index, 7);  // leading zeros are digits
}

TEST(Shard, TheShardsOfNCoverEveryItemOnce) {
  for (int n = 1; n <= 4; ++n) {
    for (std::size_t item = 0; item < 11; ++item) {
      int owners = 0;
      for (int i = 0; i < n; ++i) owners += Shard{i, n}.owns(item);
      EXPECT_EQ(owners, 1) << item << " of " << n;
    }
  }
}

}  // namespace
}  // namespace nce::common
