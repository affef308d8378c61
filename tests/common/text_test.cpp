#include "nce/common/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nce::common {
namespace {

using List = std::vector<std::string>;

TEST(Trim, RemovesWhiteSpaceAtBothEndsOnly) {
  EXPECT_EQ(trim("  a b \t"), "a b");
  EXPECT_EQ(trim("\r\nvalue\r"), "value");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t\r\n\v\f"), "");
}

TEST(SplitList, TrimsEveryItem) {
  EXPECT_EQ(split_list("a, b ,c"), (List{"a", "b", "c"}));
  EXPECT_EQ(split_list(" 16 "), (List{"16"}));
}

TEST(SplitList, BlankTextIsAnEmptyList) {
  EXPECT_TRUE(split_list("").empty());
  EXPECT_TRUE(split_list("  \t").empty());
}

TEST(SplitList, KeepsEmptyItemsButNotOneTrailingComma) {
  EXPECT_EQ(split_list("a,,b"), (List{"a", "", "b"}));
  EXPECT_EQ(split_list("a,"), (List{"a"}));
  EXPECT_EQ(split_list("a, "), (List{"a", ""}));
  EXPECT_EQ(split_list(",a"), (List{"", "a"}));
}

TEST(ToLower, LowersAsciiLettersOnly) {
  EXPECT_EQ(to_lower("ArrayHeight"), "arrayheight");
  EXPECT_EQ(to_lower("OS_2b-X"), "os_2b-x");
  EXPECT_EQ(to_lower("caf\xC3\x89"), "caf\xC3\x89");  // UTF-8 bytes unchanged
}

TEST(Printable, EscapesControlBytesAndBackslashes) {
  EXPECT_EQ(printable("edge-16x16"), "edge-16x16");
  EXPECT_EQ(printable(std::string("a\nb\x1b[2J\x7f\\", 9)), "a\\x0ab\\x1b[2J\\x7f\\\\");
}

}  // namespace
}  // namespace nce::common
