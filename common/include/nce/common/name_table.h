// An enum's values with their names in one table, so that to_string and the parser of a setting
// read the same list: `const NamedValue<Dataflow> kDataflowNames[] = {{Dataflow::kOS, "os"}, ...};`
// The tables are plain arrays (static storage, no allocation); a lookup is a linear scan, meant for
// enums of a handful of values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nce::common {

template <typename E>
struct NamedValue {
  E value;
  const char* name;
};

// The name of `value` in `table`, or `missing` when the table does not hold it (an enum value cast
// from a number outside the enum).
template <typename E, std::size_t N>
const char* name_of(const NamedValue<E> (&table)[N], E value, const char* missing = "?") {
  for (const NamedValue<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return missing;
}

// The value whose name is exactly `name` (case-sensitive), or nullopt.
template <typename E, std::size_t N>
std::optional<E> value_named(const NamedValue<E> (&table)[N], std::string_view name) {
  for (const NamedValue<E>& entry : table) {
    if (name == entry.name) return entry.value;
  }
  return std::nullopt;
}

// The names in table order for a message: "sawb, dorefa or lsq" (`last` joins the last two).
template <typename E, std::size_t N>
std::string names_list(const NamedValue<E> (&table)[N], const char* last = " or ") {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? last : ", ";
    out += table[i].name;
  }
  return out;
}

}  // namespace nce::common
