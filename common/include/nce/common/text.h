// Small text helpers for the config, plan and CSV readers of every area.
#pragma once

#include <string>
#include <vector>

namespace nce::common {

// `s` without leading and trailing white space (std::isspace: blank, \t, \r, \n, \v, \f).
std::string trim(const std::string& s);

// Splits "a, b ,c" at commas into trimmed items. A blank text gives an empty list; otherwise every
// comma separates an item (empty items kept: "a,,b" -> a, "", b) except a single trailing one
// ("a," -> a), as std::getline reads it.
std::vector<std::string> split_list(const std::string& text);

// `v` as an ostream writes it by default (6 significant digits: "0.1", "1e-05", "inf"): for
// messages and labels, not for values that must read back exactly.
std::string number_text(double v);

// `s` with ASCII letters in lower case (other bytes unchanged).
std::string to_lower(std::string s);

// A 128-bit fingerprint of `text` as 32 hex digits (two 64-bit FNV-1a hashes with different
// offsets): identifies contents (a plan's jobs, a run's rows), not a cryptographic hash.
std::string text_fingerprint(const std::string& text);

// `s` safe to print in a message: control bytes and bytes >= 0x7f as \xNN, backslash as \\.
std::string printable(const std::string& s);

}  // namespace nce::common
