// Internal: deterministic parallel loops over flat ranges. Chunk boundaries depend only on the
// range length, and partial sums are combined in chunk order, so results never depend on the thread
// count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace nce::nn::detail {

constexpr std::size_t kChunk = 16384;
// Below this many elements (or multiply-accumulates) an op runs on one thread: a parallel region
// costs more than it saves, and much more when the cores are shared.
constexpr std::size_t kMinParallelElements = 65536;
constexpr double kMinParallelMacs = 4e6;

// f(begin, end) over [0, n) in chunks, in parallel.
template <class F>
void parallel_chunks(std::size_t n, F&& f) {
  const std::ptrdiff_t chunks = static_cast<std::ptrdiff_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (std::ptrdiff_t c = 0; c < chunks; ++c) {
    const std::size_t b = static_cast<std::size_t>(c) * kChunk;
    f(b, std::min(n, b + kChunk));
  }
}

// Sum of f(begin, end) (a double) over the chunks of [0, n).
template <class F>
double parallel_sum(std::size_t n, F&& f) {
  const std::ptrdiff_t chunks = static_cast<std::ptrdiff_t>((n + kChunk - 1) / kChunk);
  std::vector<double> part(static_cast<std::size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
  for (std::ptrdiff_t c = 0; c < chunks; ++c) {
    const std::size_t b = static_cast<std::size_t>(c) * kChunk;
    part[static_cast<std::size_t>(c)] = f(b, std::min(n, b + kChunk));
  }
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

}  // namespace nce::nn::detail
