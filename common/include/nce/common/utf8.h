// UTF-8 validation for text that leaves nce in formats that require it (JSON, SVG/XML): names,
// titles and labels come from users and databases and may hold any bytes.
#pragma once

#include <string>

namespace nce::common {

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool is_valid_utf8(const std::string& text);

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD
// (the replacement character, EF BF BD); valid text comes back unchanged.
std::string to_valid_utf8(const std::string& text);

}  // namespace nce::common
