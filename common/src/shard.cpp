#include "nce/common/shard.h"

#include <stdexcept>

namespace nce {

Shard parse_shard(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--shard '" + text + "': " + why + " (expected i/N, 0 <= i < N)");
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad("no '/'");
  const std::string index = text.substr(0, slash), count = text.substr(slash + 1);
  Shard s;
  std::size_t index_used = 0, count_used = 0;
  try {
    s.index = std::stoi(index, &index_used);
    s.count = std::stoi(count, &count_used);
  } catch (const std::invalid_argument&) {
    throw bad("not integers");
  } catch (const std::out_of_range&) {
    throw bad("out of range");
  }
  if (index_used != index.size()) throw bad("bad index");
  if (count_used != count.size()) throw bad("bad count");
  if (s.count < 1 || s.index < 0 || s.index >= s.count) throw bad("index out of range");
  return s;
}

}  // namespace nce
