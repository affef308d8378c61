// A small streaming JSON writer (no DOM) for --json outputs, run configs and exports, and a reader
// for the few flat shapes nce stores (integer arrays such as width vectors).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace nce::common {

// Writes compact JSON to a stream. Keys and values are written in call order; the writer inserts
// commas. Misuse (a value where a key is expected) trips an assert.
//   JsonWriter j(std::cout); j.begin_object(); j.key("model").value("resnet20"); j.end_object();
class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out, bool pretty = false) : out_(out), pretty_(pretty) {}
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const std::string& name);
  JsonWriter& value(const std::string& text);
  JsonWriter& value(const char* text);
  JsonWriter& value(bool flag);
  JsonWriter& value(int number);
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(std::uint64_t number);
  JsonWriter& value(double number);  // non-finite numbers are written as null
  JsonWriter& null();
  JsonWriter& value(const std::vector<int>& numbers);  // an array of integers
  // Inserts an already serialized JSON value verbatim.
  JsonWriter& raw(const std::string& json);
  // Members of the open object from (name, value) pairs, in their order: members("a", 1, "b", x)
  // writes what key("a").value(1).key("b").value(x) writes.
  template <typename T, typename... Rest>
  JsonWriter& members(const std::string& name, const T& v, const Rest&... rest) {
    key(name).value(v);
    if constexpr (sizeof...(Rest) > 0) members(rest...);
    return *this;
  }

 private:
  JsonWriter& open(char bracket);   // '{' or '['
  JsonWriter& close(char bracket);  // '}' or ']' (the caller asserts a container is open)
  void before_value();
  void newline();
  std::ostream& out_;
  bool pretty_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

std::string json_escape(const std::string& text);  // the quoted, escaped string

// Parses a JSON array of integers such as "[3,16,8]"; throws std::invalid_argument naming the text.
std::vector<int> parse_json_int_array(const std::string& text);

}  // namespace nce::common
