#include "nce/results/pareto.h"

#include <algorithm>
#include <cmath>

namespace nce::results {

std::vector<std::size_t> pareto_front(const std::vector<Point2>& points, Direction x_direction,
                                      Direction y_direction) {
  // Work in "smaller is better" for x and "larger is better" for y.
  auto key_x = [&](std::size_t i) {
    return x_direction == Direction::kMinimize ? points[i].x : -points[i].x;
  };
  auto key_y = [&](std::size_t i) {
    return y_direction == Direction::kMaximize ? points[i].y : -points[i].y;
  };
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (std::isfinite(points[i].x) && std::isfinite(points[i].y)) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (key_x(a) != key_x(b)) return key_x(a) < key_x(b);
    if (key_y(a) != key_y(b)) return key_y(a) > key_y(b);
    return a < b;
  });
  std::vector<std::size_t> front;
  bool have_best = false;
  double best_y = 0;  // best y among points with strictly better x
  std::size_t i = 0;
  while (i < order.size()) {
    // One group of equal x; its first element has the group's best y.
    std::size_t j = i;
    double group_best = key_y(order[i]);
    while (j < order.size() && key_x(order[j]) == key_x(order[i])) ++j;
    if (!have_best || group_best > best_y) {
      for (std::size_t k = i; k < j && key_y(order[k]) == group_best; ++k)
        front.push_back(order[k]);
      best_y = group_best;
      have_best = true;
    }
    i = j;
  }
  return front;
}

}  // namespace nce::results
