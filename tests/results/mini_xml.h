// A tiny, strict XML parser for tests: enough to prove our SVG is well-formed (balanced tags,
// quoted attributes, no stray '<' or '&', only the five predefined entities or numeric ones) and
// to walk its elements. Throws std::runtime_error with the offset on the first error.
#pragma once

#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nce::results::testing {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::vector<std::unique_ptr<XmlElement>> children;
  std::string text;

  // Every descendant (self included) with this name and, if given, attribute value.
  void find_all(const std::string& tag, const std::string& attr, const std::string& value,
                std::vector<const XmlElement*>& out) const {
    if (name == tag && (attr.empty() || (attributes.count(attr) && attributes.at(attr) == value))) {
      out.push_back(this);
    }
    for (const auto& c : children) c->find_all(tag, attr, value, out);
  }
  std::vector<const XmlElement*> all(const std::string& tag, const std::string& attr = "",
                                     const std::string& value = "") const {
    std::vector<const XmlElement*> out;
    find_all(tag, attr, value, out);
    return out;
  }
};

class MiniXml {
 public:
  static std::unique_ptr<XmlElement> parse(const std::string& text) {
    MiniXml p(text);
    return p.document();
  }

 private:
  explicit MiniXml(const std::string& text) : s_(text) {}
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("XML error at offset " + std::to_string(i_) + ": " + why);
  }
  bool starts(const char* prefix) const { return s_.compare(i_, std::strlen(prefix), prefix) == 0; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void skip_misc() {
    while (true) {
      skip_space();
      if (starts("<?")) {
        auto end = s_.find("?>", i_);
        if (end == std::string::npos) fail("unterminated <?");
        i_ = end + 2;
      } else if (starts("<!--")) {
        auto end = s_.find("-->", i_);
        if (end == std::string::npos) fail("unterminated comment");
        i_ = end + 3;
      } else {
        return;
      }
    }
  }
  std::string name() {
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '_' || s_[i_] == ':' || s_[i_] == '.')) {
      ++i_;
    }
    if (start == i_) fail("expected a name");
    return s_.substr(start, i_ - start);
  }
  void check_entities(const std::string& t) {
    for (size_t k = 0; k < t.size(); ++k) {
      if (t[k] == '<') fail("'<' in text or attribute");
      if (t[k] != '&') continue;
      auto semi = t.find(';', k);
      if (semi == std::string::npos) fail("unterminated entity");
      std::string ent = t.substr(k + 1, semi - k - 1);
      if (ent != "amp" && ent != "lt" && ent != "gt" && ent != "quot" && ent != "apos" &&
          !(ent.size() > 1 && ent[0] == '#')) {
        fail("unknown entity &" + ent + ";");
      }
    }
  }
  std::unique_ptr<XmlElement> element() {
    if (!starts("<")) fail("expected '<'");
    ++i_;
    auto e = std::make_unique<XmlElement>();
    e->name = name();
    while (true) {
      skip_space();
      if (starts("/>")) {
        i_ += 2;
        return e;
      }
      if (starts(">")) {
        ++i_;
        break;
      }
      std::string attr = name();
      skip_space();
      if (!starts("=")) fail("attribute without '='");
      ++i_;
      skip_space();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) fail("unquoted attribute");
      char quote = s_[i_++];
      auto end = s_.find(quote, i_);
      if (end == std::string::npos) fail("unterminated attribute");
      std::string value = s_.substr(i_, end - i_);
      check_entities(value);
      if (e->attributes.count(attr)) fail("duplicate attribute " + attr);
      e->attributes[attr] = value;
      i_ = end + 1;
    }
    while (true) {
      auto lt = s_.find('<', i_);
      if (lt == std::string::npos) fail("unclosed element " + e->name);
      std::string text = s_.substr(i_, lt - i_);
      check_entities(text);
      e->text += text;
      i_ = lt;
      if (starts("<!--")) {
        skip_misc();
        continue;
      }
      if (starts("</")) {
        i_ += 2;
        std::string closing = name();
        if (closing != e->name) fail("</" + closing + "> closes <" + e->name + ">");
        skip_space();
        if (!starts(">")) fail("expected '>'");
        ++i_;
        return e;
      }
      e->children.push_back(element());
    }
  }
  std::unique_ptr<XmlElement> document() {
    skip_misc();
    auto root = element();
    skip_misc();
    if (i_ != s_.size()) fail("content after the root element");
    return root;
  }
  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace nce::results::testing
