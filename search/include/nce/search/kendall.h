// Kendall rank correlation (tau-b, ties handled), for the per-layer rank analysis of the
// architecture parameters over a search (paper Fig. 4).
#pragma once

#include <vector>

namespace nce::search {

// tau-b of two equally long sequences; 0 when either is constant or shorter than 2.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace nce::search
