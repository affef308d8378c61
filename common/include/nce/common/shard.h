// A slice of a numbered list of work items for one of N processes (a batch scheduler's job array,
// `--shard i/N` of nce sweep and nce campaign): shard i/N takes the items whose index % N == i.
#pragma once

#include <cstddef>
#include <string>

namespace nce::common {

struct Shard {
  int index = 0;
  int count = 1;
  bool owns(std::size_t item) const {
    return static_cast<int>(item % static_cast<std::size_t>(count)) == index;
  }
};

// "i/N" with 0 <= i < N. Throws std::invalid_argument quoting the text and saying what is wrong.
Shard parse_shard(const std::string& text);

}  // namespace nce::common
