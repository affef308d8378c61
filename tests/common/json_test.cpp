#include "nce/common/json.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

namespace nce::common {
namespace {

TEST(JsonWriter, WritesNestedObjectsWithCommasAndEscapes) {
  std::ostringstream out;
  JsonWriter j(out);
  j.begin_object();
  j.key("model").value("res\"net\n");
  j.key("macs").value(std::int64_t{40813184});
  j.key("ok").value(true);
  j.key("ratio").value(0.5);
  j.key("nan").value(0.0 / 0.0);
  j.key("widths").value(std::vector<int>{3, 16});
  j.key("layers").begin_array();
  j.begin_object().key("name").value("stem").end_object();
  j.begin_object().end_object();
  j.end_array();
  j.end_object();
  EXPECT_EQ(out.str(),
            "{\"model\":\"res\\\"net\\n\",\"macs\":40813184,\"ok\":true,\"ratio\":0.5,"
            "\"nan\":null,\"widths\":[3,16],\"layers\":[{\"name\":\"stem\"},{}]}");
}

TEST(JsonWriter, PrettyOutputKeepsArraysOfIntegersOnOneLine) {
  std::ostringstream out;
  JsonWriter j(out, true);
  j.begin_object().key("w").value(std::vector<int>{1, 2}).end_object();
  EXPECT_EQ(out.str(), "{\n  \"w\": [1,2]\n}");
}

TEST(ParseJsonIntArray, ParsesAndRejects) {
  EXPECT_EQ(parse_json_int_array(" [3, 16,-2] "), (std::vector<int>{3, 16, -2}));
  EXPECT_TRUE(parse_json_int_array("[]").empty());
  EXPECT_THROW(parse_json_int_array("[3,,4]"), std::invalid_argument);
  EXPECT_THROW(parse_json_int_array("3,4"), std::invalid_argument);
  EXPECT_THROW(parse_json_int_array("[3,4] x"), std::invalid_argument);
  EXPECT_THROW(parse_json_int_array("[3.5]"), std::invalid_argument);
}

}  // namespace
}  // namespace nce::common
