#include "nce/common/ini.h"
#include "support/errors.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace nce::common {
namespace {

using nce::testing::what_thrown;

// The message parse_ini throws for `text`, or "" when it reads it.
std::string error_of(const std::string& text, const IniSyntax& syntax = {}) {
  return what_thrown<std::invalid_argument>([&] { parse_ini(text, "t.cfg", syntax); });
}

IniSyntax hash_anywhere() {  // hw configs (Boost.Program_options)
  IniSyntax s;
  s.trailing_comments = "#";
  s.trailing_comment_needs_space = false;
  s.empty_names_allowed = true;
  return s;
}

IniSyntax configparser() {  // SCALE-Sim's .cfg files
  IniSyntax s;
  s.separators = ":=";
  s.trailing_comments = "";
  s.strict_section_headers = false;
  s.empty_names_allowed = true;
  return s;
}

TEST(Ini, ReadsSectionsKeysValuesAndLineNumbersInFileOrder) {
  const std::string text =
      "top = 1\n"
      "\n"
      "# a comment\n"
      "[ array ]\n"
      "  rows =  16  \n"
      "; another comment\n"
      "[networks]\r\n"
      "model = resnet20\r\n"
      "model = resnet8\n";
  const std::vector<IniEntry> e = parse_ini(text, "t.cfg");
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].section, "");
  EXPECT_EQ(e[0].key, "top");
  EXPECT_EQ(e[0].value, "1");
  EXPECT_EQ(e[0].line, 1);
  EXPECT_EQ(e[1].section, "array");
  EXPECT_EQ(e[1].key, "rows");
  EXPECT_EQ(e[1].value, "16");
  EXPECT_EQ(e[1].line, 5);
  EXPECT_EQ(e[2].section, "networks");  // CR LF endings
  EXPECT_EQ(e[2].value, "resnet20");
  EXPECT_EQ(e[3].value, "resnet8");  // repeated keys are kept
  EXPECT_EQ(e[3].line, 9);
}

TEST(Ini, ReportsEverySectionHeaderEmptyAndRepeatedOnesIncluded) {
  std::vector<IniSection> sections;
  const auto e =
      parse_ini("[a]\nx = 1\n[empty]\n# nothing\n[ a ]\ny = 2\n", "t.cfg", {}, &sections);
  ASSERT_EQ(e.size(), 2u);
  ASSERT_EQ(sections.size(), 3u);
  EXPECT_EQ(sections[0].name, "a");
  EXPECT_EQ(sections[0].line, 1);
  EXPECT_EQ(sections[1].name, "empty");
  EXPECT_EQ(sections[1].line, 3);
  EXPECT_EQ(sections[2].name, "a");
  EXPECT_EQ(sections[2].line, 5);
}

TEST(Ini, ValueKeepsEverythingAfterTheFirstSeparator) {
  const auto e = parse_ini("url = a=b\nempty =\n", "t.cfg");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].value, "a=b");
  EXPECT_EQ(e[1].value, "");
}

TEST(Ini, DefaultTrailingCommentsNeedWhiteSpaceBeforeThem) {
  const auto e = parse_ini("a = 1 # one\nb = x#y\nc = 2 ; two\n[s] # section\nd = 3\n", "t.cfg");
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].value, "1");
  EXPECT_EQ(e[1].value, "x#y");
  EXPECT_EQ(e[2].value, "2");
  EXPECT_EQ(e[3].section, "s");
}

TEST(Ini, HashAnywhereStartsACommentWhereTheDialectSaysSo) {
  const auto e = parse_ini("a = x#y\nb = 1;2\n; whole line\n", "t.cfg", hash_anywhere());
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].value, "x");
  EXPECT_EQ(e[1].value, "1;2");  // ';' only comments out a whole line there
}

TEST(Ini, ConfigparserDialectTakesColonsAndKeepsTrailingText) {
  const auto e = parse_ini("[general]\nrun_name : x\nArrayHeight = 8\nDataflow : ws # no comment\n",
                           "t.cfg", configparser());
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].key, "run_name");
  EXPECT_EQ(e[0].value, "x");
  EXPECT_EQ(e[1].key, "ArrayHeight");  // case kept: the caller decides
  EXPECT_EQ(e[1].value, "8");
  EXPECT_EQ(e[2].value, "ws # no comment");
}

TEST(Ini, ErrorsNameTheSourceTheLineAndTheReason) {
  EXPECT_EQ(error_of("a = 1\n[array\n"), "t.cfg:2: malformed section header '[array'");
  EXPECT_EQ(error_of("\n\nrows 16\n"), "t.cfg:3: expected 'key = value', got 'rows 16'");
  EXPECT_EQ(error_of("[ ]\n"), "t.cfg:1: empty section name");
  EXPECT_EQ(error_of("a = 1\n = 2\n"), "t.cfg:2: empty key");
  EXPECT_EQ(error_of("rows 16\n", configparser()),
            "t.cfg:1: expected 'key : value', got 'rows 16'");
}

TEST(Ini, LenientDialectsAcceptEmptyNamesAndBracketedKeys) {
  EXPECT_EQ(error_of("[]\n= 2\n", hash_anywhere()), "");
  EXPECT_EQ(error_of("[array\n", hash_anywhere()), "t.cfg:1: malformed section header '[array'");
  const auto e = parse_ini("[]\n[odd : 1\n", "t.cfg", configparser());
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].section, "");
  EXPECT_EQ(e[0].key, "[odd");  // not a header without its ']'
  EXPECT_EQ(e[0].value, "1");
}

TEST(Ini, EmptyTextHasNoEntries) {
  EXPECT_TRUE(parse_ini("", "t.cfg").empty());
  EXPECT_TRUE(parse_ini("\n  \n# only comments\n", "t.cfg").empty());
}

}  // namespace
}  // namespace nce::common
