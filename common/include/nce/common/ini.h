// The one INI reader of nce: "[section]" headers, "key = value" lines, comments and blank lines.
// Hardware configs (sim/), SCALE-Sim's .cfg files (sim/), sweep definitions (results/) and campaign
// plans (campaign/) are dialects of it; IniSyntax names what differs between them. The reader only
// splits lines: what a key means, whether it may repeat and whether names are case-sensitive is
// the caller's to decide.
#pragma once

#include <string>
#include <vector>

namespace nce::common {

// One "key = value" line of a file.
struct IniEntry {
  std::string section;  // the last "[section]" header above, trimmed; "" before the first one
  std::string key;      // trimmed, case kept
  std::string value;    // trimmed, comment removed
  int line = 0;         // 1-based line number in the text
};

// What a dialect spells differently. A line whose first non-blank character is '#' or ';' is a
// comment in every dialect; the defaults are the sweep and campaign-plan syntax.
struct IniSyntax {
  // The first of these characters in a line ends its key and starts its value.
  std::string separators = "=";
  // Characters that start a comment later in a line, and whether only after white space
  // ("a#b" stays a value) or anywhere ("a#b" reads "a").
  std::string trailing_comments = "#;";
  bool trailing_comment_needs_space = true;
  // Whether a line that starts with '[' but does not end with ']' is an error ("malformed
  // section header"); if not, it is read as a key line.
  bool strict_section_headers = true;
  // Whether "[]" and "= value" (an empty section name or key) are accepted; if not, errors.
  bool empty_names_allowed = false;
};

// One "[section]" header line of a file.
struct IniSection {
  std::string name;  // trimmed, case kept
  int line = 0;      // 1-based
};

// Reads `text` line by line ("\n" or "\r\n" endings) into its entries, in file order; keys may
// repeat. Throws std::invalid_argument "<source_name>:<line>: <reason>" for a malformed line.
// `sections` (optional) receives every section header in file order, repeats and empty sections
// included, so a dialect can refuse them.
std::vector<IniEntry> parse_ini(const std::string& text, const std::string& source_name,
                                const IniSyntax& syntax = {},
                                std::vector<IniSection>* sections = nullptr);

}  // namespace nce::common
