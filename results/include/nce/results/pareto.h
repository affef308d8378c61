// Pareto fronts of two objectives, each minimized or maximized.
#pragma once

#include <cstddef>
#include <vector>

namespace nce::results {

enum class Direction { kMinimize, kMaximize };

struct Point2 {
  double x = 0;
  double y = 0;
};

// Indices of the points no other point dominates, ordered by x from best to worst (ties by y
// best first). A point dominates another when it is at least as good in both objectives and
// better in one; identical points do not dominate each other, so duplicates of a front point are
// all on the front. Non-finite coordinates are never on the front. O(n log n).
std::vector<std::size_t> pareto_front(const std::vector<Point2>& points, Direction x_direction,
                                      Direction y_direction);

}  // namespace nce::results
