#include "nce/common/json.h"

#include <cassert>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "nce/common/utf8.h"

namespace nce::common {

std::string json_escape(const std::string& raw) {
  const std::string text = to_valid_utf8(raw);  // JSON is UTF-8: invalid bytes become U+FFFD
  std::string out = "\"";
  for (unsigned char ch : text) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  out += '"';
  return out;
}

void JsonWriter::newline() {
  if (!pretty_) return;
  out_ << '\n';
  for (size_t i = 0; i < first_.size(); ++i) out_ << "  ";
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ << ',';
    first_.back() = false;
    newline();
  }
}

JsonWriter& JsonWriter::open(char bracket) {
  before_value();
  out_ << bracket;
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  bool empty = first_.back();
  first_.pop_back();
  if (!empty) newline();
  out_ << bracket;
  return *this;
}

JsonWriter& JsonWriter::begin_object() {
  return open('{');
}

JsonWriter& JsonWriter::end_object() {
  assert(!first_.empty() && "end_object without begin_object");
  return close('}');
}

JsonWriter& JsonWriter::begin_array() {
  return open('[');
}

JsonWriter& JsonWriter::end_array() {
  assert(!first_.empty() && "end_array without begin_array");
  return close(']');
}

JsonWriter& JsonWriter::key(const std::string& name) {
  assert(!after_key_ && "two keys in a row");
  before_value();
  out_ << json_escape(name) << (pretty_ ? ": " : ":");
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(const std::string& text) {
  before_value();
  out_ << json_escape(text);
  return *this;
}

JsonWriter& JsonWriter::value(const char* text) {
  return value(std::string(text));
}

JsonWriter& JsonWriter::value(bool flag) {
  before_value();
  out_ << (flag ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::value(int number) {
  return value(static_cast<std::int64_t>(number));
}

JsonWriter& JsonWriter::value(std::int64_t number) {
  before_value();
  out_ << number;
  return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t number) {
  before_value();
  out_ << number;
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  before_value();
  if (!std::isfinite(number)) {
    out_ << "null";
    return *this;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", number);
  out_ << buf;
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ << "null";
  return *this;
}

JsonWriter& JsonWriter::value(const std::vector<int>& numbers) {
  begin_array();
  bool saved = pretty_;
  pretty_ = false;
  for (int n : numbers) value(n);
  end_array();
  pretty_ = saved;
  return *this;
}

JsonWriter& JsonWriter::raw(const std::string& json) {
  before_value();
  out_ << json;
  return *this;
}

std::vector<int> parse_json_int_array(const std::string& text) {
  std::vector<int> out;
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("not a JSON integer array (" + why + "): '" + text + "'");
  };
  skip();
  if (i >= text.size() || text[i] != '[') fail("expected '['");
  ++i;
  skip();
  if (i < text.size() && text[i] == ']') return out;
  while (true) {
    skip();
    size_t start = i;
    if (i < text.size() && text[i] == '-') ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (start == i || (text[start] == '-' && i == start + 1)) fail("expected an integer");
    out.push_back(std::stoi(text.substr(start, i - start)));
    skip();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == ']') {
      ++i;
      break;
    }
    fail("expected ',' or ']'");
  }
  skip();
  if (i != text.size()) fail("trailing characters");
  return out;
}

}  // namespace nce::common
