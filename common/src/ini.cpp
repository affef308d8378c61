#include "nce/common/ini.h"

#include <cctype>
#include <sstream>
#include <stdexcept>

#include "nce/common/text.h"

namespace nce::common {

namespace {

// `s` up to its first trailing comment marker (see IniSyntax::trailing_comments).
std::string strip_trailing_comment(const std::string& s, const IniSyntax& syntax) {
  if (syntax.trailing_comments.empty()) return s;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (syntax.trailing_comments.find(s[i]) == std::string::npos) continue;
    if (!syntax.trailing_comment_needs_space || i == 0 ||
        std::isspace(static_cast<unsigned char>(s[i - 1]))) {
      return s.substr(0, i);
    }
  }
  return s;
}

}  // namespace

std::vector<IniEntry> parse_ini(const std::string& text, const std::string& source_name,
                                const IniSyntax& syntax, std::vector<IniSection>* sections) {
  std::vector<IniEntry> entries;
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    const std::string s = trim(strip_trailing_comment(raw, syntax));
    if (s.empty() || s.front() == '#' || s.front() == ';') continue;
    auto fail = [&](const std::string& reason) {
      throw std::invalid_argument(source_name + ":" + std::to_string(line) + ": " + reason);
    };
    if (s.front() == '[' && (syntax.strict_section_headers || s.back() == ']')) {
      if (s.back() != ']') fail("malformed section header '" + s + "'");
      section = trim(s.substr(1, s.size() - 2));
      if (section.empty() && !syntax.empty_names_allowed) fail("empty section name");
      if (sections) sections->push_back(IniSection{section, line});
      continue;
    }
    const auto sep = s.find_first_of(syntax.separators);
    if (sep == std::string::npos) {
      const char shown = syntax.separators.empty() ? '=' : syntax.separators.front();
      fail(std::string("expected 'key ") + shown + " value', got '" + s + "'");
    }
    IniEntry e;
    e.section = section;
    e.key = trim(s.substr(0, sep));
    e.value = trim(s.substr(sep + 1));
    e.line = line;
    if (e.key.empty() && !syntax.empty_names_allowed) fail("empty key");
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace nce::common
