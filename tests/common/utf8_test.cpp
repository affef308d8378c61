#include "nce/common/utf8.h"

#include <gtest/gtest.h>

#include <sstream>

#include "nce/common/json.h"

namespace nce::common {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsKept) {
  for (const std::string& s : {std::string("resnet20"), std::string("caf\xC3\xA9"),
                               std::string("\xE2\x82\xAC 5"), std::string("\xF0\x9F\x98\x80")}) {
    EXPECT_TRUE(is_valid_utf8(s)) << s;
    EXPECT_EQ(to_valid_utf8(s), s);
  }
}

TEST(Utf8, InvalidBytesBecomeTheReplacementCharacter) {
  EXPECT_FALSE(
      is_valid_utf8("a\xFF"
                    "b"));
  EXPECT_EQ(to_valid_utf8("a\xFF"
                          "b"),
            "a" + kReplacement + "b");
  EXPECT_EQ(to_valid_utf8("\xC3"), kReplacement);                     // truncated
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), kReplacement + kReplacement);  // overlong '/'
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"),
            kReplacement + kReplacement + kReplacement);                         // surrogate
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80").size(), 4 * kReplacement.size());  // > U+10FFFF
}

TEST(Utf8, JsonStringsAreAlwaysValidUtf8) {
  // On main the bytes went into the JSON as they were: not UTF-8, so not JSON.
  std::ostringstream out;
  JsonWriter j(out);
  j.begin_object().key("name\xFE").value(std::string("title \xC3\x28 end")).end_object();
  EXPECT_TRUE(is_valid_utf8(out.str())) << out.str();
  EXPECT_NE(out.str().find(kReplacement), std::string::npos);
}

}  // namespace
}  // namespace nce::common
