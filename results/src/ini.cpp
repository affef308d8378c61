#include "nce/results/ini.h"

#include <cctype>
#include <sstream>
#include <stdexcept>

namespace nce::results {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Removes a trailing " # comment" / " ; comment" (a comment marker after whitespace).
std::string strip_comment(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == ';') &&
        (i == 0 || std::isspace(static_cast<unsigned char>(s[i - 1])))) {
      return s.substr(0, i);
    }
  }
  return s;
}

}  // namespace

std::vector<IniEntry> parse_ini(const std::string& text, const std::string& source) {
  std::vector<IniEntry> entries;
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::string s = trim(strip_comment(raw));
    if (s.empty()) continue;
    auto where = [&] { return source + ":" + std::to_string(line) + ": "; };
    if (s.front() == '[') {
      if (s.back() != ']')
        throw std::invalid_argument(where() + "malformed section header '" + s + "'");
      section = trim(s.substr(1, s.size() - 2));
      if (section.empty()) throw std::invalid_argument(where() + "empty section name");
      continue;
    }
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      throw std::invalid_argument(where() + "expected 'key = value', got '" + s + "'");
    }
    IniEntry e;
    e.section = section;
    e.key = trim(s.substr(0, eq));
    e.value = trim(s.substr(eq + 1));
    e.line = line;
    if (e.key.empty()) throw std::invalid_argument(where() + "empty key");
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  if (trim(text).empty()) return items;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) items.push_back(trim(item));
  return items;
}

}  // namespace nce::results
