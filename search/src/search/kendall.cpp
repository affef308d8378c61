#include "nce/search/kendall.h"

#include <cassert>
#include <cmath>

namespace nce::search {

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  assert(a.size() == b.size());
  const size_t n = a.size();
  long long concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) {
        ++ties_a;
      } else if (db == 0) {
        ++ties_b;
      } else if ((da > 0) == (db > 0)) {
        ++concordant;
      } else {
        ++discordant;
      }
    }
  }
  const double n1 = static_cast<double>(concordant + discordant + ties_a);
  const double n2 = static_cast<double>(concordant + discordant + ties_b);
  if (n1 == 0 || n2 == 0) return 0.0;
  return static_cast<double>(concordant - discordant) / std::sqrt(n1 * n2);
}

}  // namespace nce::search
