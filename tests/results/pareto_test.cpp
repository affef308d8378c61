// Pareto fronts of hand-made points, checked against the front worked out by hand.
#include "nce/results/pareto.h"

#include <cmath>

#include <gtest/gtest.h>

namespace nce::results {
namespace {

TEST(Pareto, HandMadeFrontMinimizeCostMaximizeAccuracy) {
  // cost (MACs, M), accuracy (%)
  std::vector<Point2> points = {
      {40.8, 90.8},  // 0 front
      {22.4, 88.0},  // 1 front
      {41.0, 91.5},  // 2 front
      {45.0, 91.0},  // 3 dominated by 2
      {22.4, 87.0},  // 4 dominated by 1 (same cost, lower accuracy)
      {30.0, 88.0},  // 5 dominated by 1 (more cost, same accuracy)
      {10.0, 80.0},  // 6 front
      {91.0, 91.9},  // 7 front
      {50.0, 90.0},  // 8 dominated by 0
  };
  EXPECT_EQ(pareto_front(points, Direction::kMinimize, Direction::kMaximize),
            (std::vector<std::size_t>{6, 1, 0, 2, 7}));
}

TEST(Pareto, DuplicatesOfAFrontPointAreAllOnIt) {
  std::vector<Point2> points = {{1, 1}, {2, 3}, {1, 1}, {2, 2}};
  EXPECT_EQ(pareto_front(points, Direction::kMinimize, Direction::kMaximize),
            (std::vector<std::size_t>{0, 2, 1}));
}

TEST(Pareto, BothMinimized) {
  // latency vs energy: both lower is better.
  std::vector<Point2> points = {{100, 50}, {80, 60}, {120, 40}, {90, 70}, {130, 45}};
  EXPECT_EQ(pareto_front(points, Direction::kMinimize, Direction::kMinimize),
            (std::vector<std::size_t>{1, 0, 2}));
}

TEST(Pareto, NonFinitePointsAndEmptyInput) {
  EXPECT_TRUE(pareto_front({}, Direction::kMinimize, Direction::kMaximize).empty());
  std::vector<Point2> points = {{1, NAN}, {2, 5}, {INFINITY, 9}};
  EXPECT_EQ(pareto_front(points, Direction::kMinimize, Direction::kMaximize),
            (std::vector<std::size_t>{1}));
}

// Every point off the front is dominated by one on it, and no front point dominates another:
// checked by brute force on a deterministic pseudo-random cloud.
TEST(Pareto, AgreesWithBruteForce) {
  std::vector<Point2> points;
  unsigned state = 12345;
  for (int i = 0; i < 300; ++i) {
    state = state * 1103515245u + 12345u;
    double x = (state >> 8) % 50;
    state = state * 1103515245u + 12345u;
    double y = (state >> 8) % 50;
    points.push_back({x, y});
  }
  auto front = pareto_front(points, Direction::kMinimize, Direction::kMaximize);
  std::vector<bool> on(points.size(), false);
  for (auto i : front) on[i] = true;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size(); ++j) {
      if (points[j].x <= points[i].x && points[j].y >= points[i].y &&
          (points[j].x < points[i].x || points[j].y > points[i].y)) {
        dominated = true;
      }
    }
    EXPECT_EQ(on[i], !dominated) << "point " << i;
  }
}

}  // namespace
}  // namespace nce::results
