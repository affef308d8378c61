#include "nce/common/shard.h"

#include <charconv>
#include <stdexcept>

namespace nce::common {

Shard parse_shard(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--shard '" + text + "': " + why + " (expected i/N, 0 <= i < N)");
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad("no '/'");
  const std::string index = text.substr(0, slash), count = text.substr(slash + 1);
  // Plain decimal digits only, like every other number nce reads: std::stoi would take a leading
  // space or '+' (" 1/2", "+1/+2"); std::from_chars takes neither.
  auto number = [&](const std::string& part, int& value, const char* what) {
    const char* end = part.data() + part.size();
    const auto [ptr, ec] = std::from_chars(part.data(), end, value);
    if (ec == std::errc::result_out_of_range) throw bad("out of range");
    if (ec != std::errc() || ptr == part.data()) throw bad("not integers");
    if (ptr != end) throw bad(std::string("bad ") + what);
  };
  Shard s;
  number(index, s.index, "index");
  number(count, s.count, "count");
  if (s.count < 1 || s.index < 0 || s.index >= s.count) throw bad("index out of range");
  return s;
}

}  // namespace nce::common
