// A minimal INI reader for sweep files: "[section]" headers, "key = value" lines, '#' or ';'
// comments (whole-line, or after whitespace at the end of a line), blank lines ignored. Keys may
// repeat (a sweep lists several networks); entries keep file order and line numbers.
#pragma once

#include <string>
#include <vector>

namespace nce::results {

struct IniEntry {
  std::string section;  // "" before the first header
  std::string key;
  std::string value;  // trimmed, comment removed
  int line = 0;       // 1-based
};

// Throws std::invalid_argument "<source>:<line>: <reason>" for a malformed line.
std::vector<IniEntry> parse_ini(const std::string& text, const std::string& source);

// Splits "a, b ,c" at commas into trimmed items; "" gives an empty list.
std::vector<std::string> split_list(const std::string& text);

}  // namespace nce::results
